"""Outbox sweeping with several sweepers at once: each stuck row is claimed by exactly one."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from link_tracking_publisher import outbox
from link_tracking_publisher.models import PublishOutbox

from .factories import LinkFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL (CI runs it)"
)
def test_concurrent_sweepers_never_claim_a_row_twice(account: Any, domain: Any) -> None:
    for _ in range(60):
        LinkFactory(account=account, domain=domain)
    PublishOutbox.objects.update(updated_at=timezone.now() - dt.timedelta(minutes=10))
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            claimed.append([row.pk for row in outbox.claim_stuck(limit=20)])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    every = [pk for batch in claimed for pk in batch]
    assert len(every) == len(set(every))  # no row twice
    assert len(every) <= 60
    # with 4 x 20 slots and 60 rows, every row was claimed by someone
    assert set(every) == set(PublishOutbox.objects.values_list("pk", flat=True))

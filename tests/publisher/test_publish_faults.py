"""The publish task under the faults of ``tests/e2e/test_publish_faults.py``, in one process
(moto in-process, tasks run with ``apply``): deterministic, and fast enough to run always."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from link_tracking_publisher import outbox
from link_tracking_publisher.models import Link, PublishOutbox
from link_tracking_publisher.services.links import update_link
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.tasks import publish_link_task
from link_tracking_runtime import item_key

from .factories import LinkFactory

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Stands for the process dying (SIGKILL): nothing in the task catches it."""


@pytest.fixture
def link(account: Any, domain: Any) -> Link:
    return LinkFactory(account=account, domain=domain, destination_url="https://example.com/1")


def _change(link: Link, n: int) -> Link:
    return update_link(link, destination_url=f"https://example.com/{n}")


def _run(link: Link, version: int) -> str:
    """Deliver the publish of the link's outbox row for ``version``."""
    entry = PublishOutbox.objects.get(link=link, runtime_version=version)
    outcome: str = publish_link_task.apply(args=[str(link.pk), entry.pk]).get()
    return outcome


def _rows(link: Link) -> list[tuple[int, str, str]]:
    return list(
        PublishOutbox.objects.filter(link=link)
        .order_by("runtime_version")
        .values_list("runtime_version", "status", "result")
    )


def _stored(table: Any, link: Link) -> tuple[int, str]:
    item = table.get_item(Key=item_key(link.domain.domain_name, link.slug_canonical))["Item"]
    return int(item["runtime_version"]), item["destination_url"]


def test_an_old_versions_publish_delivered_after_the_newer_one(table: Any, link: Link) -> None:
    """v3 published, then v2's publish delivered: v3 stays, v2's row completes as
    already_applied (the task publishes the link's current state, already stored)."""
    _change(_change(link, 2), 3)
    assert _run(link, 3) == "written"
    assert _run(link, 2) == "already_applied"
    assert _run(link, 1) == "already_applied"
    assert _stored(table, link) == (3, "https://example.com/3")
    assert _rows(link) == [
        (1, "complete", "already_applied"),
        (2, "complete", "already_applied"),
        (3, "complete", "written"),
    ]


def test_an_old_record_put_after_the_newer_one_is_refused(table: Any, link: Link) -> None:
    """v2's task builds its record, then (before its put) the link changes to v3 and v3 is
    published: v2's put is refused, v3 stays, v2's row completes as already_applied."""
    _change(link, 2)
    build = LinkPublisher.build_runtime_record

    def build_then_overtake(publisher: LinkPublisher, current: Link, **kwargs: Any) -> Any:
        item = build(publisher, current, **kwargs)
        if current.runtime_version == 2:
            _change(link, 3)
            assert _run(link, 3) == "written"
        return item

    with mock.patch.object(
        LinkPublisher, "build_runtime_record", autospec=True, side_effect=build_then_overtake
    ):
        assert _run(link, 2) == "already_applied"
    assert _stored(table, link) == (3, "https://example.com/3")
    assert _rows(link)[1:] == [(2, "complete", "already_applied"), (3, "complete", "written")]


def test_a_worker_dying_after_the_write_before_the_mark(table: Any, link: Link) -> None:
    """The worker dies after the put, before the outbox row is marked: the row stays
    PROCESSING with the record stored; the redelivery completes it as already_applied."""
    with (
        mock.patch.object(outbox, "mark_complete", side_effect=WorkerDied),
        pytest.raises(WorkerDied),
    ):
        _run(link, 1)
    assert _rows(link) == [(1, "processing", "")]
    assert _stored(table, link) == (1, "https://example.com/1")

    assert _run(link, 1) == "already_applied"
    assert _rows(link) == [(1, "complete", "already_applied")]

"""The publish outbox: read, filter by status, retry a failed entry (and only a failed one)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher import outbox as outbox_state
from link_tracking_publisher.models import PublishOutbox
from link_tracking_publisher.tasks import publish_link_task
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(account_a: Any, domain_a: Any) -> list[PublishOutbox]:
    ok, failed = (LinkFactory(account=account_a, domain=domain_a) for _ in range(2))
    done = ok.publish_outbox.get()
    outbox_state.mark_complete(done, "written")
    broken = failed.publish_outbox.get()
    outbox_state.mark_failed(broken, "ValidationException: item too large", code="permanent_error")
    return [done, broken]


def test_list_and_filter_by_status(staff_client: APIClient, entries: list[PublishOutbox]) -> None:
    response = staff_client.get(f"{API}/publish-outbox/")
    assert response.json()["count"] == 2
    failed = staff_client.get(f"{API}/publish-outbox/", {"status": "failed"}).json()["results"]
    assert [(e["id"], e["result"]) for e in failed] == [(entries[1].pk, "permanent_error")]
    assert "item too large" in failed[0]["error_message"]
    by_link = staff_client.get(f"{API}/publish-outbox/", {"link": str(entries[0].link_id)})
    assert [e["id"] for e in by_link.json()["results"]] == [entries[0].pk]
    response = staff_client.get(f"{API}/publish-outbox/", {"status": "exploded"})
    assert response.status_code == 400 and list(response.json()) == ["status"]


def test_retry_a_failed_entry(
    staff_client: APIClient, entries: list[PublishOutbox], django_capture_on_commit_callbacks: Any
) -> None:
    broken = entries[1]
    with mock.patch.object(publish_link_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(f"{API}/publish-outbox/{broken.pk}/retry/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["result"]) == ("pending", "")
    delay.assert_called_once_with(str(broken.link_id), broken.pk)


def test_only_failed_entries_are_retried(
    staff_client: APIClient, entries: list[PublishOutbox]
) -> None:
    response = staff_client.post(f"{API}/publish-outbox/{entries[0].pk}/retry/")
    assert response.status_code == 409
    entries[0].refresh_from_db()
    assert entries[0].status == "complete"


def test_the_outbox_is_read_only(staff_client: APIClient, entries: list[PublishOutbox]) -> None:
    url = f"{API}/publish-outbox/{entries[0].pk}/"
    assert staff_client.patch(url, {"status": "failed"}, format="json").status_code == 405
    assert staff_client.delete(url).status_code == 405

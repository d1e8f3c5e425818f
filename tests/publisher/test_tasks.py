"""Tasks: outcome bookkeeping, retries for transient errors only, the sweepers."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.utils import timezone

from link_tracking_publisher.models import Link, PublishOutbox
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.tasks import (
    cleanup_old_outbox_entries,
    publish_link_task,
    publish_outbox_metrics,
    publish_outbox_task,
    retry_pending_outbox,
)
from link_tracking_runtime import item_key

from .factories import LinkFactory

pytestmark = pytest.mark.django_db

THROTTLED = ClientError(
    {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
)
DENIED = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem")


@pytest.fixture
def link(account: Any, domain: Any) -> Link:
    return LinkFactory(account=account, domain=domain)


def _entry(link: Link) -> PublishOutbox:
    return PublishOutbox.objects.get(link=link, runtime_version=link.runtime_version)


def test_publish_task_writes_and_records(table: Any, link: Link) -> None:
    outcome = publish_link_task.apply(args=[str(link.pk), _entry(link).pk]).get()
    assert outcome == "written"
    entry = _entry(link)
    assert (entry.status, entry.result, entry.retry_count) == ("complete", "written", 0)
    assert entry.completed_at and entry.last_attempt_at
    assert table.get_item(Key=item_key("go.example.com", link.slug_canonical))["Item"]


def test_redelivery_of_a_completed_publish_writes_nothing(table: Any, link: Link) -> None:
    publish_link_task.apply(args=[str(link.pk), _entry(link).pk])
    with mock.patch.object(LinkPublisher, "publish_link") as publish:
        assert publish_link_task.apply(args=[str(link.pk), _entry(link).pk]).get() == "written"
    publish.assert_not_called()


def test_without_an_outbox_id_one_is_created(table: Any, link: Link) -> None:
    PublishOutbox.objects.all().delete()
    assert publish_link_task.apply(args=[str(link.pk)]).get() == "written"
    assert _entry(link).status == "complete"


def test_transient_errors_are_retried_and_counted(table: Any, link: Link) -> None:
    real = LinkPublisher.publish_link
    calls = {"n": 0}

    def flaky(self: LinkPublisher, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise THROTTLED if calls["n"] == 1 else EndpointConnectionError(endpoint_url="x")
        return real(self, *args, **kwargs)

    with mock.patch.object(LinkPublisher, "publish_link", flaky):
        publish_link_task.apply(args=[str(link.pk), _entry(link).pk])
    entry = _entry(link)
    assert (entry.status, entry.result, entry.retry_count) == ("complete", "written", 2)
    assert "EndpointConnectionError" in entry.error_message  # the last error seen is kept


def test_a_database_error_after_the_write_is_retried_not_failed(table: Any, link: Link) -> None:
    """The record lands, then marking the row fails (the database went away): the task
    retries, the retry's conditional put finds the record in place, and the row completes."""
    from django.db import OperationalError

    from link_tracking_publisher import outbox as outbox_state

    real = outbox_state.mark_complete
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    with mock.patch.object(outbox_state, "mark_complete", flaky):
        publish_link_task.apply(args=[str(link.pk), _entry(link).pk])
    entry = _entry(link)
    assert (entry.status, entry.result, entry.retry_count) == ("complete", "already_applied", 1)
    assert "OperationalError" in entry.error_message


def test_retries_are_capped_then_failed(table: Any, link: Link, settings: Any) -> None:
    settings.LINK_TRACKING = {"PUBLISH_MAX_RETRIES": 3}
    with mock.patch.object(LinkPublisher, "publish_link", side_effect=THROTTLED) as publish:
        publish_link_task.apply(args=[str(link.pk), _entry(link).pk])
    assert publish.call_count == 4  # the first try and three retries
    entry = _entry(link)
    assert (entry.status, entry.result, entry.retry_count) == ("failed", "retries_exhausted", 4)
    assert "ProvisionedThroughputExceeded" in entry.error_message


def test_permanent_errors_fail_at_once(table: Any, link: Link) -> None:
    with mock.patch.object(LinkPublisher, "publish_link", side_effect=DENIED) as publish:
        assert (
            publish_link_task.apply(args=[str(link.pk), _entry(link).pk]).get() == "permanent_error"
        )
    assert publish.call_count == 1
    entry = _entry(link)
    assert (entry.status, entry.retry_count) == ("failed", 0)
    assert "AccessDenied" in entry.error_message


def test_a_deleted_link_fails_its_outbox_row(table: Any, link: Link) -> None:
    entry = _entry(link)
    PublishOutbox.objects.filter(pk=entry.pk).update(
        link=LinkFactory(account=link.account, domain=link.domain)
    )
    assert (
        publish_link_task.apply(args=["00000000-0000-4000-8000-000000000000", entry.pk]).get()
        == "link_missing"
    )
    entry.refresh_from_db()
    assert entry.status == "failed" and "no longer exists" in entry.error_message


def _age(entry: PublishOutbox, **delta: Any) -> None:
    PublishOutbox.objects.filter(pk=entry.pk).update(
        updated_at=timezone.now() - dt.timedelta(**delta)
    )


def test_retry_pending_outbox_requeues_only_stuck_rows(account: Any, domain: Any) -> None:
    stuck_pending, stuck_processing, fresh, done, failed = (
        _entry(LinkFactory(account=account, domain=domain)) for _ in range(5)
    )
    PublishOutbox.objects.filter(pk=stuck_processing.pk).update(status="processing")
    PublishOutbox.objects.filter(pk=done.pk).update(status="complete")
    PublishOutbox.objects.filter(pk=failed.pk).update(status="failed")
    for entry in (stuck_pending, stuck_processing, done, failed):
        _age(entry, minutes=6)
    with mock.patch.object(publish_outbox_task, "delay") as delay:
        assert retry_pending_outbox.apply().get() == 2
        # claimed rows were touched: an immediate second sweep leaves them alone
        assert retry_pending_outbox.apply().get() == 0
    # one batch message for the bulk publish path, not one per row
    assert [sorted(c.args[0]) for c in delay.call_args_list] == [
        sorted([stuck_pending.pk, stuck_processing.pk])
    ]
    stuck_processing.refresh_from_db()
    assert stuck_processing.status == "pending"
    fresh.refresh_from_db()
    assert fresh.status == "pending"


def test_cleanup_deletes_by_status_and_age(account: Any, domain: Any) -> None:
    rows = {
        name: _entry(LinkFactory(account=account, domain=domain))
        for name in (
            "old_complete",
            "new_complete",
            "old_failed",
            "new_failed",
            "old_pending",
        )
    }
    now = timezone.now()
    PublishOutbox.objects.filter(pk=rows["old_complete"].pk).update(
        status="complete", completed_at=now - dt.timedelta(days=8)
    )
    PublishOutbox.objects.filter(pk=rows["new_complete"].pk).update(
        status="complete", completed_at=now - dt.timedelta(days=6)
    )
    PublishOutbox.objects.filter(pk=rows["old_failed"].pk).update(
        status="failed", updated_at=now - dt.timedelta(days=31)
    )
    PublishOutbox.objects.filter(pk=rows["new_failed"].pk).update(
        status="failed", updated_at=now - dt.timedelta(days=29)
    )
    _age(rows["old_pending"], days=60)
    assert cleanup_old_outbox_entries.apply().get() == {"completed_deleted": 1, "failed_deleted": 1}
    left = set(PublishOutbox.objects.values_list("pk", flat=True))
    assert left == {rows[n].pk for n in ("new_complete", "new_failed", "old_pending")}


def test_outbox_metrics_are_sent_for_the_alarms(
    aws: None, account: Any, domain: Any, settings: Any
) -> None:
    import boto3

    old, failed, done = (_entry(LinkFactory(account=account, domain=domain)) for _ in range(3))
    PublishOutbox.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=10)
    )
    PublishOutbox.objects.filter(pk=failed.pk).update(status="failed")
    PublishOutbox.objects.filter(pk=done.pk).update(status="complete")

    values = publish_outbox_metrics.apply().get()
    assert values["OutboxFailedCount"] == 1 and values["OutboxPendingCount"] == 1
    assert 590 < values["OutboxOldestPendingAgeSeconds"] < 3600
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    assert cloudwatch.list_metrics(Namespace="LinkTracking/ControlPlane")["Metrics"] == []  # off

    settings.LINK_TRACKING = {"METRICS_ENVIRONMENT": "prod"}
    publish_outbox_metrics.apply().get()
    sent = cloudwatch.list_metrics(Namespace="LinkTracking/ControlPlane")["Metrics"]
    assert {m["MetricName"] for m in sent} == {
        "OutboxOldestPendingAgeSeconds",
        "OutboxPendingCount",
        "OutboxFailedCount",
    }
    assert all(m["Dimensions"] == [{"Name": "Environment", "Value": "prod"}] for m in sent)


def test_dispatch_names_every_task_the_app_registers() -> None:
    """A layer that sends a task names it with a constant of ``dispatch``: each one is a task
    the app registers, and the app registers no task without one."""
    from celery import current_app

    from link_tracking_publisher import dispatch
    from link_tracking_publisher.tasks import verify_domain_task

    registered = {name for name in current_app.tasks if name.startswith("link_tracking.")}
    assert registered == dispatch.TASK_NAMES
    assert len(dispatch.TASK_NAMES) == 22
    assert verify_domain_task.name == dispatch.VERIFY_DOMAIN

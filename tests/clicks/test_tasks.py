"""The beat tasks: registered under the names the schedule uses, and doing their work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from celery import current_app

from link_tracking_publisher.models import (
    ClickEventKey,
    ClickWebhook,
    ClickWebhookDelivery,
    MessageClick,
)
from link_tracking_publisher.schedule import BEAT_SCHEDULE
from link_tracking_publisher.tasks import (
    cleanup_click_webhook_deliveries,
    deliver_click_webhooks,
    ingest_click_events,
    prune_click_event_keys,
)
from link_tracking_runtime.events import encode_event

from .conftest import click

pytestmark = pytest.mark.django_db


def test_the_schedule_names_registered_tasks() -> None:
    import devsite.celery  # noqa: F401  (the app that autodiscovers the tasks)

    names = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {
        "link_tracking.ingest_click_events",
        "link_tracking.deliver_click_webhooks",
        "link_tracking.prune_click_event_keys",
    } <= names
    assert names <= set(current_app.tasks)


def test_ingest_task_reads_the_local_source(
    tmp_path: Path, link: Any, account: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setattr(time, "time", lambda: 1793613600.0 + 60)
    path = tmp_path / "click-events.ndjson"
    path.write_bytes(encode_event(click(link, sms_msg_id="m1")))
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_EVENTS_SOURCE": str(path)}
    ClickWebhook.objects.create(account=account, url="https://hooks.example.com/", secret="s")
    result = ingest_click_events.apply().get()
    assert result["counted"] == 1 and result["webhook_deliveries"] == 1
    assert MessageClick.objects.get().human_clicks == 1
    assert ingest_click_events.apply().get()["counted"] == 0


def test_ingest_task_without_a_source_does_nothing(settings: Any) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_EVENTS_SOURCE": ""}
    assert ingest_click_events.apply().get() == {}


def test_deliver_task_with_nothing_due() -> None:
    assert ClickWebhookDelivery.objects.count() == 0
    assert deliver_click_webhooks.apply().get() == {}


def test_old_deliveries_are_trimmed(account: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    hook = ClickWebhook.objects.create(account=account, url="https://h.example.com/", secret="s")
    status = ClickWebhookDelivery.Status
    now = timezone.now()
    for n, (state, age) in enumerate(
        [(status.DELIVERED, 8), (status.DELIVERED, 1), (status.FAILED, 8), (status.FAILED, 31)]
    ):
        ClickWebhookDelivery.objects.create(
            webhook=hook, event_id=f"e{n}", payload={}, next_attempt_at=now, status=state
        )
        ClickWebhookDelivery.objects.filter(event_id=f"e{n}").update(
            updated_at=now - timedelta(days=age)
        )
    assert cleanup_click_webhook_deliveries.apply().get() == {"delivered": 1, "failed": 1}
    assert set(ClickWebhookDelivery.objects.values_list("event_id", flat=True)) == {"e1", "e2"}


def test_prune_task_deletes_keys_past_the_horizon(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_DEDUPE_HORIZON_DAYS": 30}
    today = 20_000
    monkeypatch.setattr(time, "time", lambda: today * 86400.0 + 3600)
    ClickEventKey.objects.bulk_create(
        [ClickEventKey(key=1, day=today - 31), ClickEventKey(key=2, day=today - 30)]
    )
    assert prune_click_event_keys.apply().get() == {"deleted": 1}
    assert list(ClickEventKey.objects.values_list("key", flat=True)) == [2]

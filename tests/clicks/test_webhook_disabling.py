"""A click webhook that keeps failing is switched off, its deliveries held; switched on
again, it is sent what was held."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone

from link_tracking_publisher.clicks.webhooks import deliver_due, new_secret, send_delivery
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery
from link_tracking_publisher.services.webhooks import ENABLED_MESSAGE, enable_webhook
from link_tracking_publisher.signals import webhook_disabled

from .conftest import Receiver, click
from .test_webhooks import ingest, make_due

pytestmark = pytest.mark.django_db
Status = ClickWebhookDelivery.Status


@pytest.fixture
def limits(settings: Any) -> Callable[..., None]:
    def set_limits(*, attempts: int = 1, failures: int = 3) -> None:
        settings.LINK_TRACKING = {
            **settings.LINK_TRACKING,
            "CLICK_WEBHOOK_MAX_ATTEMPTS": attempts,
            "WEBHOOK_DISABLE_AFTER_FAILURES": failures,
        }

    return set_limits


@pytest.fixture
def told() -> Iterator[list[dict[str, Any]]]:
    """What ``webhook_disabled`` receivers are sent."""
    received: list[dict[str, Any]] = []

    def on_disabled(sender: Any, **kwargs: Any) -> None:
        received.append({"sender": sender, **kwargs})

    webhook_disabled.connect(on_disabled)
    yield received
    webhook_disabled.disconnect(on_disabled)


class Endpoint:
    """An ``httpx`` transport answering every request with ``status``, counting them."""

    def __init__(self, status: int = 503) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(self.status)

        return httpx.MockTransport(handle)


def fail_clicks(tmp_path: Path, link: Any, n: int, endpoint: Endpoint) -> dict[str, int]:
    ingest(tmp_path, [click(link) for _ in range(n)])
    make_due()
    return deliver_due(transport=endpoint.transport())


def test_a_retried_attempt_is_no_failure_a_delivery_given_up_is_one(
    tmp_path: Path, link: Any, webhook: ClickWebhook, limits: Callable[..., None]
) -> None:
    limits(attempts=2)
    endpoint = Endpoint(503)
    assert fail_clicks(tmp_path, link, 1, endpoint) == {"pending": 1}
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0  # retried: not given up yet
    make_due()
    assert deliver_due(transport=endpoint.transport()) == {"failed": 1}
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 1 and webhook.disabled_at is None


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(404)],
    ids=["connection-error", "timeout", "non-2xx"],
)
def test_every_kind_of_failure_counts(
    tmp_path: Path, link: Any, webhook: ClickWebhook, limits: Callable[..., None], failure: Any
) -> None:
    limits()

    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    ingest(tmp_path, [click(link), click(link)])
    assert deliver_due(transport=httpx.MockTransport(handle)) == {"failed": 2}
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 2


def test_a_delivered_one_resets_the_count(
    tmp_path: Path, link: Any, webhook: ClickWebhook, limits: Callable[..., None]
) -> None:
    limits(failures=3)
    fail_clicks(tmp_path, link, 2, Endpoint(500))
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 2
    assert fail_clicks(tmp_path, link, 1, Endpoint(204)) == {"delivered": 1}
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0
    fail_clicks(tmp_path, link, 2, Endpoint(500))  # two more: not three in a row
    webhook.refresh_from_db()
    assert (webhook.consecutive_failures, webhook.disabled_at) == (2, None)


def test_switched_off_exactly_at_the_threshold_and_told_once(
    tmp_path: Path,
    link: Any,
    webhook: ClickWebhook,
    limits: Callable[..., None],
    told: list[dict[str, Any]],
) -> None:
    limits(failures=3)
    endpoint = Endpoint(503)
    fail_clicks(tmp_path, link, 2, endpoint)
    webhook.refresh_from_db()
    assert (webhook.consecutive_failures, webhook.disabled_at, told) == (2, None, [])

    # Five more clicks in one run: the third failure switches it off mid-run, and the four
    # after it are not attempted.
    assert fail_clicks(tmp_path, link, 5, endpoint) == {"failed": 1}
    assert len(endpoint.requests) == 3
    webhook.refresh_from_db()
    assert webhook.disabled_at is not None and webhook.consecutive_failures == 3
    assert webhook.disabled_reason == (
        "Switched off after 3 consecutive failed deliveries; the last: "
        "gave up after 1 attempts: HTTP 503"
    )
    (message,) = told
    assert message["sender"] is ClickWebhook
    assert message["webhook"] == webhook and message["webhook"].disabled_at is not None
    assert message["reason"] == webhook.disabled_reason

    # One that was in flight when it was switched off fails too: counted, not told again.
    in_flight = webhook.deliveries.filter(status=Status.PENDING).first()
    assert in_flight is not None
    ClickWebhookDelivery.objects.filter(pk=in_flight.pk).update(status=Status.SENDING)
    in_flight.refresh_from_db()
    with httpx.Client(transport=endpoint.transport()) as client:
        assert send_delivery(in_flight, client) == Status.FAILED
    disabled_at = webhook.disabled_at
    webhook.refresh_from_db()
    assert (webhook.consecutive_failures, webhook.disabled_at) == (4, disabled_at)
    assert len(told) == 1


def test_a_raising_receiver_leaves_it_switched_off(
    tmp_path: Path, link: Any, webhook: ClickWebhook, limits: Callable[..., None]
) -> None:
    limits(failures=1)

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("mail server down")

    webhook_disabled.connect(broken)
    try:
        assert fail_clicks(tmp_path, link, 2, Endpoint(500)) == {"failed": 1}
    finally:
        webhook_disabled.disconnect(broken)
    webhook.refresh_from_db()
    assert webhook.disabled_at is not None


def test_no_attempts_while_switched_off_and_new_clicks_are_kept(
    tmp_path: Path, link: Any, webhook: ClickWebhook
) -> None:
    ClickWebhook.objects.filter(pk=webhook.pk).update(
        disabled_at=timezone.now(), disabled_reason="test"
    )
    endpoint = Endpoint(204)
    assert fail_clicks(tmp_path, link, 3, endpoint) == {}
    make_due()
    assert deliver_due(transport=endpoint.transport()) == {}
    assert endpoint.requests == []
    # Held, not cancelled or failed: the backlog waits to be replayed.
    assert list(webhook.deliveries.values_list("status", "attempts")) == [(Status.PENDING, 0)] * 3


def test_switched_on_again_the_backlog_reaches_a_real_receiver(
    tmp_path: Path,
    link: Any,
    account: Any,
    receiver: str,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_WEBHOOK_ALLOW_HTTP": True}
    hook = ClickWebhook.objects.create(
        account=account,
        url=receiver,
        secret=new_secret(),
        consecutive_failures=20,
        disabled_at=timezone.now(),
        disabled_reason="Switched off after 20 consecutive failed deliveries; the last: HTTP 503",
    )
    events = [click(link) for _ in range(3)]
    ingest(tmp_path, events)
    # One was mid-way through its retries when the webhook was switched off.
    later = timezone.now() + timedelta(hours=1)
    hook.deliveries.filter(event_id=events[0].event_id).update(attempts=5, next_attempt_at=later)
    # One had been given up before: a retry's business, not the replay's.
    hook.deliveries.filter(event_id=events[1].event_id).update(status=Status.FAILED)
    assert deliver_due() == {}
    assert Receiver.bodies == []

    user = get_user_model().objects.create_user("ops", "ops@example.com", "pw")
    with django_capture_on_commit_callbacks() as callbacks:
        assert enable_webhook(hook, actor=user) == 2
    assert len(callbacks) == 1  # the send task, enqueued after commit
    assert (hook.consecutive_failures, hook.disabled_at, hook.disabled_reason) == (0, None, "")
    entry = LogEntry.objects.get(object_id=str(hook.pk))
    assert (entry.user, entry.change_message) == (user, ENABLED_MESSAGE)

    assert deliver_due() == {"delivered": 2}
    sent = {
        {k.lower(): v for k, v in headers.items()}["webhook-id"] for headers, _ in Receiver.bodies
    }
    assert sent == {events[0].event_id, events[2].event_id}
    assert hook.deliveries.get(event_id=events[0].event_id).attempts == 1  # from the first
    assert hook.deliveries.get(event_id=events[1].event_id).status == Status.FAILED


def test_switching_on_a_webhook_that_is_on_changes_nothing(
    tmp_path: Path, link: Any, webhook: ClickWebhook
) -> None:
    ingest(tmp_path, [click(link)])
    later = timezone.now() + timedelta(hours=1)
    webhook.deliveries.update(attempts=3, next_attempt_at=later)
    user = get_user_model().objects.create_user("ops", "ops@example.com", "pw")
    assert enable_webhook(webhook, actor=user) == 0
    assert list(webhook.deliveries.values_list("attempts", "next_attempt_at")) == [(3, later)]
    assert not LogEntry.objects.exists()

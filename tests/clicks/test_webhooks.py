"""Click notifications: the link_clicked signal, and signed webhooks through the outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.clicks.webhooks import deliver_due, new_secret, verify
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery
from link_tracking_publisher.signals import link_clicked

from .conftest import PUBLIC_ADDRESS, T0, Receiver, click, write_ndjson

pytestmark = pytest.mark.django_db
Status = ClickWebhookDelivery.Status


def ingest(tmp_path: Path, events: list[Any]) -> Any:
    path = write_ndjson(tmp_path / f"e{len(list(tmp_path.iterdir()))}.ndjson", events)
    return ingest_objects(local_objects(path), now=T0 + 3600)


def make_due() -> None:
    ClickWebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_signal_once_per_new_click(tmp_path: Path, link: Any, campaign: Any) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    link_clicked.connect(receiver)
    try:
        event = click(link, sms_msg_id="m1", ab_variant="b", geo_country="fr", is_bot=True)
        ingest(tmp_path, [event, event])
        ingest(tmp_path, [event])  # redelivered: not new
    finally:
        link_clicked.disconnect(receiver)
    assert len(received) == 1
    got = received[0]
    assert got["link"] == link and got["campaign"] == campaign
    assert (got["sms_msg_id"], got["is_bot"], got["variant"], got["country"]) == (
        "m1",
        True,
        "b",
        "FR",
    )
    assert got["device"] == "mobile" and got["clicked_at"].timestamp() == T0


def test_a_raising_receiver_rolls_the_batch_back(tmp_path: Path, link: Any) -> None:
    def receiver(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    link_clicked.connect(receiver)
    event = click(link)
    try:
        with pytest.raises(RuntimeError):
            ingest(tmp_path, [event])
    finally:
        link_clicked.disconnect(receiver)
    assert ingest(tmp_path, [event]).counted == 1  # not lost: counted once fixed


def test_human_clicks_only_unless_asked(
    tmp_path: Path, link: Any, webhook: ClickWebhook, account: Any
) -> None:
    with_bots = ClickWebhook.objects.create(
        account=account, url="https://b.example.com/", secret=new_secret(), include_bots=True
    )
    human, bot = click(link, sms_msg_id="m1"), click(link, is_bot=True)
    ingest(tmp_path, [human, bot])
    ingest(tmp_path, [human])  # redelivered: no second delivery
    assert set(webhook.deliveries.values_list("event_id", flat=True)) == {human.event_id}
    assert with_bots.deliveries.count() == 2


def test_delivery_is_signed_and_recorded(tmp_path: Path, link: Any, webhook: ClickWebhook) -> None:
    event = click(link, sms_msg_id="m1")
    ingest(tmp_path, [event])
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    assert deliver_due(transport=httpx.MockTransport(handler)) == {"delivered": 1}
    assert deliver_due(transport=httpx.MockTransport(handler)) == {}  # never twice
    (request,) = requests
    # Sent to the address the host resolved to when it was checked, under the URL's host name.
    assert str(request.url) == webhook.url.replace("hooks.example.com", PUBLIC_ADDRESS)
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert verify(webhook.secret, request.headers, request.content)
    assert not verify(new_secret(), request.headers, request.content)
    assert not verify(webhook.secret, request.headers, request.content + b" ")
    body = json.loads(request.content)
    assert body["event_id"] == event.event_id == request.headers["webhook-id"]
    assert (body["sms_msg_id"], body["link_id"], body["is_bot"]) == ("m1", str(link.pk), False)
    delivery = ClickWebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.DELIVERED,
        1,
        204,
    )


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(500), "HTTP 500"),
        (httpx.Response(302, headers={"location": "https://elsewhere/"}), "redirect"),
        (httpx.ReadTimeout("slow"), "timeout"),
    ],
)
def test_failures_are_retried_with_backoff_then_failed(
    tmp_path: Path, link: Any, webhook: ClickWebhook, settings: Any, response: Any, reason: str
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_WEBHOOK_MAX_ATTEMPTS": 3}
    ingest(tmp_path, [click(link)])
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if isinstance(response, Exception):
            raise response
        return response

    transport = httpx.MockTransport(handler)
    assert deliver_due(transport=transport) == {"pending": 1}
    delivery = ClickWebhookDelivery.objects.get()
    assert reason in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)  # backing off
    assert deliver_due(transport=transport) == {}  # not due yet
    make_due()
    deliver_due(transport=transport)
    make_due()
    assert deliver_due(transport=transport) == {"failed": 1}
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.attempts == 3 == len(calls)
    assert (
        delivery.last_error.startswith("gave up after 3 attempts") and reason in delivery.last_error
    )


def test_a_real_endpoint_receives_a_verifiable_request(
    tmp_path: Path, link: Any, account: Any, receiver: str, settings: Any
) -> None:
    # A local receiver, as in development: http and a loopback address are allowed.
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_WEBHOOK_ALLOW_HTTP": True}
    webhook = ClickWebhook.objects.create(account=account, url=receiver, secret=new_secret())
    ingest(tmp_path, [click(link)])
    assert deliver_due() == {"delivered": 1}
    ((headers, body),) = Receiver.bodies
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify(webhook.secret, lowered, body)

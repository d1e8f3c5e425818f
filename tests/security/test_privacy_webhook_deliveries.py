"""Erasure and access reach the click webhook outbox.

Before: after an erasure request for ``sms_msg_id`` 777 was ``complete``, ``webhook-deliveries/``
and the admin still showed the payload with ``"sms_msg_id": "777"``, a pending delivery was
POSTed to the receiver minutes later, and neither erasure nor access reported the deliveries.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from link_tracking_publisher.clicks.webhooks import deliver_due, new_secret
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery, PrivacyRequest
from link_tracking_publisher.services.privacy import REDACTED
from link_tracking_publisher.tasks import process_privacy_request_task
from link_tracking_publisher.tasks.click_tasks import deliver_click_webhooks
from tests.api.conftest import API
from tests.security.test_privacy_erasure import _request, s3  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SUBJECT = "777"
Status = ClickWebhookDelivery.Status


def _payload(n: int, sms_msg_id: str | None) -> dict[str, Any]:
    """A delivery's body as ``clicks.ingest.click_payload`` writes it."""
    return {
        "type": "link.clicked",
        "event_id": f"e{n}",
        "clicked_at": "2026-12-01T10:00:00Z",
        "link_id": "3f1c1d1e-0000-4000-8000-000000000001",
        "campaign_id": None,
        "sms_msg_id": sms_msg_id,
        "is_bot": False,
        "variant": None,
        "country": "fr",
        "device": "mobile",
        "outcome": "ok",
        "channel": "sms",
    }


@pytest.fixture
def webhook(account_a: Any) -> ClickWebhook:
    return ClickWebhook.objects.create(
        account=account_a, url="https://hooks.example.com/clicks", secret=new_secret()
    )


def _delivery(webhook: ClickWebhook, n: int, status: str, sms_msg_id: str | None = SUBJECT) -> Any:
    return ClickWebhookDelivery.objects.create(
        webhook=webhook,
        event_id=f"e{n}",
        payload=_payload(n, sms_msg_id),
        status=status,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
        attempts=0 if status == Status.PENDING else 3,
    )


@pytest.fixture
def deliveries(webhook: ClickWebhook) -> dict[str, Any]:
    """One delivery of the subject in each state, and one of someone else, still due."""
    return {
        "pending": _delivery(webhook, 1, Status.PENDING),
        "sending": _delivery(webhook, 2, Status.SENDING),
        "delivered": _delivery(webhook, 3, Status.DELIVERED),
        "failed": _delivery(webhook, 4, Status.FAILED),
        "other": _delivery(webhook, 5, Status.PENDING, sms_msg_id="778"),
    }


def _erase(alice_client: APIClient, account_a: Any) -> dict[str, Any]:
    request_id = _request(alice_client, account_a, subject_value=SUBJECT)
    assert process_privacy_request_task(request_id) == "complete"
    result: dict[str, Any] = PrivacyRequest.objects.get(pk=request_id).result
    return result


def test_erasure_cancels_pending_deliveries_and_redacts_sent_ones(
    s3: Any,  # noqa: F811
    alice_client: APIClient,
    account_a: Any,
    deliveries: dict[str, Any],
) -> None:
    result = _erase(alice_client, account_a)
    store = result["stores"]["webhook_deliveries"]
    assert (store["done"], store["found"], store["erased"]) == (True, 4, 4)
    assert store["detail"] == {"cancelled": 2, "redacted": 2, "in_flight": 1}
    assert result["remaining"] == []

    for name, status in [
        ("pending", Status.CANCELLED),
        ("sending", Status.CANCELLED),
        ("delivered", Status.DELIVERED),
        ("failed", Status.FAILED),
    ]:
        delivery = deliveries[name]
        delivery.refresh_from_db()
        assert delivery.status == status, name
        assert delivery.payload == {**_payload(int(delivery.event_id[1:]), REDACTED)}, name
    other = deliveries["other"]
    other.refresh_from_db()
    assert (other.status, other.payload["sms_msg_id"]) == (Status.PENDING, "778")

    # Neither the API nor the admin shows the identifier any more.
    listed = alice_client.get(f"{API}/webhook-deliveries/").json()
    assert len(listed["results"]) == 5
    assert f'"sms_msg_id": "{SUBJECT}"' not in json.dumps(listed)
    assert '"sms_msg_id": "[erased]"' in json.dumps(listed)
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("ops", "o@x.io", "pw"))
    for delivery in list(deliveries.values())[:4]:
        page = admin.get(
            reverse("admin:link_tracking_clickwebhookdelivery_change", args=[delivery.pk])
        )
        assert page.status_code == 200
        shown = page.content.decode()
        assert "&quot;sms_msg_id&quot;: &quot;[erased]&quot;" in shown
        assert f"&quot;{SUBJECT}&quot;" not in shown


def test_erasure_is_idempotent_and_reports_done_only_when_done(
    s3: Any,  # noqa: F811
    alice_client: APIClient,
    account_a: Any,
    deliveries: dict[str, Any],
) -> None:
    _erase(alice_client, account_a)
    again = _erase(alice_client, account_a)["stores"]["webhook_deliveries"]
    # Redacted payloads no longer match the subject: a second erasure finds nothing to do.
    assert (again["done"], again["found"], again["erased"]) == (True, 0, 0)


def test_a_retry_after_erasure_sends_nothing(
    s3: Any,  # noqa: F811
    alice_client: APIClient,
    account_a: Any,
    deliveries: dict[str, Any],
) -> None:
    _erase(alice_client, account_a)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    # The sweeper, even once a stuck SENDING row would be due again.
    ClickWebhookDelivery.objects.update(updated_at=timezone.now() - timedelta(days=1))
    assert deliver_due(transport=httpx.MockTransport(handler)) == {"delivered": 1}
    assert [json.loads(r.content)["sms_msg_id"] for r in sent] == ["778"]  # the other one only

    # The API's retry says why.
    for name in ("pending", "sending"):
        response = alice_client.post(f"{API}/webhook-deliveries/{deliveries[name].pk}/retry/")
        assert response.status_code == 409
        assert "cancelled by an erasure request" in response.json()["detail"]

    # The admin's retry queues none of them and says why.
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("ops", "o@x.io", "pw"))
    url = reverse("admin:link_tracking_clickwebhookdelivery_changelist")
    response = admin.post(
        url,
        {
            "action": "retry",
            "_selected_action": [deliveries["pending"].pk, deliveries["sending"].pk],
        },
        follow=True,
    )
    assert "Not queued: 2 cancelled" in response.content.decode()
    assert set(
        ClickWebhookDelivery.objects.filter(
            pk__in=[deliveries["pending"].pk, deliveries["sending"].pk]
        ).values_list("status", flat=True)
    ) == {Status.CANCELLED}

    # The task the retry would have enqueued sends nothing either.
    sent.clear()
    assert deliver_click_webhooks() == {}
    assert sent == []


def test_a_failed_delivery_retried_after_erasure_sends_the_redacted_payload(
    s3: Any,  # noqa: F811
    alice_client: APIClient,
    account_a: Any,
    deliveries: dict[str, Any],
) -> None:
    _erase(alice_client, account_a)
    failed = deliveries["failed"]
    assert alice_client.post(f"{API}/webhook-deliveries/{failed.pk}/retry/").status_code == 202
    ClickWebhookDelivery.objects.exclude(pk=failed.pk).delete()
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(204)

    assert deliver_due(transport=httpx.MockTransport(handler)) == {"delivered": 1}
    assert json.loads(sent[0])["sms_msg_id"] == REDACTED


def test_access_reports_the_subjects_deliveries(
    s3: Any,  # noqa: F811
    alice_client: APIClient,
    account_a: Any,
    deliveries: dict[str, Any],
) -> None:
    request_id = _request(alice_client, account_a, request_type="access", subject_value=SUBJECT)
    assert process_privacy_request_task(request_id) == "complete"
    store = PrivacyRequest.objects.get(pk=request_id).result["stores"]["webhook_deliveries"]
    assert (store["done"], store["found"]) == (True, 4)
    found = store["detail"]["deliveries"]
    assert [d["event_id"] for d in found] == ["e1", "e2", "e3", "e4"]
    assert {d["status"] for d in found} == {"pending", "sending", "delivered", "failed"}
    assert all(d["payload"]["sms_msg_id"] == SUBJECT for d in found)
    # Access changes nothing.
    assert ClickWebhookDelivery.objects.filter(status=Status.CANCELLED).count() == 0


def test_erasure_by_link_redacts_the_links_deliveries(
    s3: Any,  # noqa: F811
    alice_client: APIClient,
    account_a: Any,
    webhook: ClickWebhook,
) -> None:
    from tests.publisher.factories import DomainFactory, LinkFactory

    link = LinkFactory(account=account_a, domain=DomainFactory(account=account_a))
    delivery = _delivery(webhook, 1, Status.PENDING, sms_msg_id="m-1")
    delivery.payload = {**delivery.payload, "link_id": str(link.pk)}
    delivery.save()
    request_id = _request(alice_client, account_a, subject_type="link", subject_value=str(link.pk))
    assert process_privacy_request_task(request_id) == "complete"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.payload["sms_msg_id"]) == (Status.CANCELLED, REDACTED)
    assert delivery.payload["link_id"] == str(link.pk)  # a link is not personal data


@pytest.mark.parametrize(
    ("subject_type", "identifier"), [("ip_hash", "ip_hash"), ("click_id", "click_session_id")]
)
def test_erasure_and_access_by_ip_hash_or_click_id_reach_the_deliveries(
    s3: Any,  # noqa: F811
    tmp_path: Any,
    alice_client: APIClient,
    account_a: Any,
    domain_a: Any,
    webhook: ClickWebhook,
    subject_type: str,
    identifier: str,
) -> None:
    """The payload carries neither the click's ``ip_hash`` nor its click id (before, a request
    by either found none of the subject's deliveries: ``found`` 0, every one still due, its
    ``sms_msg_id`` kept). Clicks go through the real ingestion, which writes the deliveries."""
    from link_tracking_publisher.clicks.ingest import ingest_objects
    from link_tracking_publisher.clicks.sources import local_objects
    from tests.clicks.conftest import T0, click, write_ndjson
    from tests.publisher.factories import LinkFactory

    link = LinkFactory(account=account_a, domain=domain_a)
    theirs = {"ip_hash": "ip-subject", "click_session_id": "click-subject"}
    events = [
        click(link, sms_msg_id="m-1", **{identifier: theirs[identifier]}),
        click(link, sms_msg_id="m-2", **{identifier: theirs[identifier]}),
        click(link, sms_msg_id="m-3"),  # someone else's click
    ]
    path = write_ndjson(tmp_path / "clicks.ndjson", events)
    assert ingest_objects(local_objects(path), now=T0 + 3600).new_deliveries == 3
    by_message = {d.payload["sms_msg_id"]: d for d in ClickWebhookDelivery.objects.all()}
    ClickWebhookDelivery.objects.filter(pk=by_message["m-2"].pk).update(
        status=Status.DELIVERED, delivered_at=timezone.now()
    )
    stored = json.dumps(list(ClickWebhookDelivery.objects.values()), default=str)
    assert theirs[identifier] not in stored  # only keyed hashes beside the payload

    fields = {"subject_type": subject_type, "subject_value": theirs[identifier]}
    access = _request(alice_client, account_a, request_type="access", **fields)
    assert process_privacy_request_task(access) == "complete"
    store = PrivacyRequest.objects.get(pk=access).result["stores"]["webhook_deliveries"]
    assert store["found"] == 2
    assert sorted(d["payload"]["sms_msg_id"] for d in store["detail"]["deliveries"]) == [
        "m-1",
        "m-2",
    ]

    erasure = _request(alice_client, account_a, **fields)
    assert process_privacy_request_task(erasure) == "complete"
    result = PrivacyRequest.objects.get(pk=erasure).result
    store = result["stores"]["webhook_deliveries"]
    assert (store["done"], store["found"], store["erased"]) == (True, 2, 2)
    assert store["detail"] == {"cancelled": 1, "redacted": 1, "in_flight": 0}
    assert result["remaining"] == []
    for message, status in [("m-1", Status.CANCELLED), ("m-2", Status.DELIVERED)]:
        delivery = ClickWebhookDelivery.objects.get(pk=by_message[message].pk)
        assert (delivery.status, delivery.payload["sms_msg_id"]) == (status, REDACTED), message
        assert delivery.subject_hashes == [], message
    other = ClickWebhookDelivery.objects.get(pk=by_message["m-3"].pk)
    assert (other.status, other.payload["sms_msg_id"]) == (Status.PENDING, "m-3")
    assert other.subject_hashes

    # The sweeper sends only the other visitor's delivery.
    sent: list[bytes] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(204)

    ClickWebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert deliver_due(transport=httpx.MockTransport(receive)) == {"delivered": 1}
    assert [json.loads(body)["sms_msg_id"] for body in sent] == ["m-3"]

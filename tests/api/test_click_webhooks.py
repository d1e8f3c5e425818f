"""Click webhooks and their deliveries through the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery

from .conftest import API

pytestmark = pytest.mark.django_db


def test_create_generates_a_secret_and_needs_https(alice_client: Any, account_a: Any) -> None:
    response = alice_client.post(
        f"{API}/webhooks/",
        {"account": account_a.pk, "url": "http://hooks.example.com/"},
        format="json",
    )
    assert response.status_code == 400 and "url" in response.json()
    response = alice_client.post(
        f"{API}/webhooks/",
        {"account": account_a.pk, "url": "https://hooks.example.com/", "include_bots": True},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["include_bots"] is True
    rotated = alice_client.post(f"{API}/webhooks/{body['id']}/rotate-secret/").json()
    assert rotated["secret"] != body["secret"]
    patched = alice_client.patch(
        f"{API}/webhooks/{body['id']}/", {"active": False}, format="json"
    ).json()
    assert patched["active"] is False


def test_webhooks_and_deliveries_are_account_scoped(
    alice_client: Any, bob_client: Any, account_a: Any, account_b: Any
) -> None:
    hook = ClickWebhook.objects.create(account=account_a, url="https://a.example.com/", secret="s")
    ClickWebhookDelivery.objects.create(
        webhook=hook,
        event_id="e1",
        payload={},
        next_attempt_at=timezone.now(),
        status=ClickWebhookDelivery.Status.FAILED,
        last_error="gave up after 8 attempts: HTTP 500",
    )
    assert alice_client.get(f"{API}/webhooks/").json()["count"] == 1
    assert bob_client.get(f"{API}/webhooks/").json()["count"] == 0
    assert bob_client.get(f"{API}/webhooks/{hook.pk}/").status_code == 404
    response = bob_client.post(
        f"{API}/webhooks/",
        {"account": account_a.pk, "url": "https://x.example.com/"},
        format="json",
    )
    assert response.status_code == 400 and "account" in response.json()
    deliveries = alice_client.get(f"{API}/webhook-deliveries/", {"status": "failed"}).json()
    assert deliveries["results"][0]["last_error"].endswith("HTTP 500")
    assert bob_client.get(f"{API}/webhook-deliveries/").json()["results"] == []


def test_retry_a_failed_delivery(alice_client: Any, account_a: Any) -> None:
    hook = ClickWebhook.objects.create(account=account_a, url="https://a.example.com/", secret="s")
    delivery = ClickWebhookDelivery.objects.create(
        webhook=hook,
        event_id="e1",
        payload={},
        next_attempt_at=timezone.now(),
        status=ClickWebhookDelivery.Status.FAILED,
        attempts=8,
    )
    response = alice_client.post(f"{API}/webhook-deliveries/{delivery.pk}/retry/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    assert alice_client.post(f"{API}/webhook-deliveries/{delivery.pk}/retry/").status_code == 409


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://metadata.google.internal/",
    ],
)
def test_private_hosts_are_refused(alice_client: Any, account_a: Any, url: str) -> None:
    response = alice_client.post(
        f"{API}/webhooks/", {"account": account_a.pk, "url": url}, format="json"
    )
    assert response.status_code == 400 and "url" in response.json()

"""Click webhooks and their deliveries through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery
from link_tracking_publisher.services.api_keys import create_api_key

from .conftest import API
from .test_api_keys import key_client

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


# --- switched off after failed deliveries, and on again ------------------------------------


def _switched_off(account: Any) -> ClickWebhook:
    hook = ClickWebhook.objects.create(
        account=account,
        url="https://a.example.com/",
        secret="s",
        consecutive_failures=20,
        disabled_at=timezone.now(),
        disabled_reason="Switched off after 20 consecutive failed deliveries; the last: HTTP 503",
    )
    ClickWebhookDelivery.objects.create(
        webhook=hook,
        event_id="held",
        payload={},
        attempts=4,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    return hook


def test_a_switched_off_webhook_shows_why_and_is_switched_on_again(
    alice_client: Any, account_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    hook = _switched_off(account_a)
    shown = alice_client.get(f"{API}/webhooks/{hook.pk}/").json()
    assert shown["consecutive_failures"] == 20 and shown["disabled_at"] is not None
    assert shown["disabled_reason"].startswith("Switched off after 20")
    # Read-only: a PATCH cannot switch it on behind the service's back.
    patched = alice_client.patch(
        f"{API}/webhooks/{hook.pk}/",
        {"disabled_at": None, "consecutive_failures": 0, "description": "crm"},
        format="json",
    )
    assert patched.status_code == 200
    assert patched.json()["disabled_at"] is not None and patched.json()["description"] == "crm"

    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_client.post(f"{API}/webhooks/{hook.pk}/enable/")
    assert response.status_code == 200
    body = response.json()
    assert (body["consecutive_failures"], body["disabled_at"], body["disabled_reason"]) == (
        0,
        None,
        "",
    )
    assert len(callbacks) == 1  # the held delivery's send, after commit
    held = ClickWebhookDelivery.objects.get(event_id="held")
    assert held.attempts == 0 and held.next_attempt_at <= timezone.now()
    # Again: it is on, nothing changes.
    assert alice_client.post(f"{API}/webhooks/{hook.pk}/enable/").status_code == 200


def test_switching_on_another_accounts_webhook_is_a_404(
    alice_client: Any, bob_client: Any, account_a: Any
) -> None:
    hook = _switched_off(account_a)
    assert bob_client.post(f"{API}/webhooks/{hook.pk}/enable/").status_code == 404
    hook.refresh_from_db()
    assert hook.disabled_at is not None


def test_switching_on_with_an_api_key_needs_webhooks_manage(account_a: Any, account_b: Any) -> None:
    hook = _switched_off(account_a)
    _, reader = create_api_key(account=account_a, name="crm", scopes=["links:read", "links:write"])
    response = key_client(reader).post(f"{API}/webhooks/{hook.pk}/enable/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This API key does not have the scope 'webhooks:manage' this request needs."
    }
    _, other = create_api_key(account=account_b, name="crm", scopes=["webhooks:manage"])
    assert key_client(other).post(f"{API}/webhooks/{hook.pk}/enable/").status_code == 404
    hook.refresh_from_db()
    assert hook.disabled_at is not None
    _, manager = create_api_key(account=account_a, name="ops", scopes=["webhooks:manage"])
    response = key_client(manager).post(f"{API}/webhooks/{hook.pk}/enable/")
    assert response.status_code == 200 and response.json()["disabled_at"] is None

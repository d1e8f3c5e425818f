"""A click webhook's signing secret is shown once, when it is made, and rotating it does not
break receivers.

Before: every user who could read webhooks (a staff user without a single permission) got each
``secret`` from ``GET webhooks/`` (list and detail) and on the admin's change page, and could
forge signed deliveries; a rotation replaced the secret at once, so deliveries in flight failed
the receiver's check until it was given the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from link_tracking_publisher.clicks.webhooks import deliver_due, new_secret, verify
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(account_a: Any) -> ClickWebhook:
    return ClickWebhook.objects.create(
        account=account_a, url="https://hooks.example.com/", secret=new_secret()
    )


@pytest.fixture
def viewer_client(
    make_user: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> APIClient:
    """Staff without any permission: may read, never write."""
    return client_for(make_user("viewer", staff=True, perms=False))


def test_list_and_detail_never_show_the_secret(viewer_client: APIClient, hook: Any) -> None:
    listed = viewer_client.get(f"{API}/webhooks/").json()["results"]
    detail = viewer_client.get(f"{API}/webhooks/{hook.pk}/").json()
    for body in (listed[0], detail):
        assert "secret" not in body and hook.secret not in str(body)
        assert body["secret_hint"] == "whsec_…" + hook.secret.rstrip("=")[-4:]


def test_the_secret_is_shown_once_on_creation_and_on_rotation(
    alice_client: APIClient, account_a: Any
) -> None:
    created = alice_client.post(
        f"{API}/webhooks/", {"account": account_a.pk, "url": "https://h.example.com/"}, "json"
    ).json()
    stored = ClickWebhook.objects.get(pk=created["id"])
    assert created["secret"] == stored.secret
    rotated = alice_client.post(f"{API}/webhooks/{created['id']}/rotate-secret/").json()
    stored.refresh_from_db()
    assert rotated["secret"] == stored.secret != created["secret"]
    patched = alice_client.patch(
        f"{API}/webhooks/{created['id']}/", {"description": "x"}, format="json"
    ).json()
    assert "secret" not in patched and "secret" not in alice_client.get(f"{API}/webhooks/").json()


def test_rotation_needs_the_change_permission(viewer_client: APIClient, hook: Any) -> None:
    before = hook.secret
    assert viewer_client.post(f"{API}/webhooks/{hook.pk}/rotate-secret/").status_code == 403
    hook.refresh_from_db()
    assert hook.secret == before


def _delivery(hook: ClickWebhook) -> ClickWebhookDelivery:
    return ClickWebhookDelivery.objects.create(
        webhook=hook,
        event_id=f"e{ClickWebhookDelivery.objects.count()}",
        payload={"a": 1},
        next_attempt_at=timezone.now(),
    )


def test_both_secrets_sign_during_the_overlap_and_only_the_new_one_after(
    staff_client: APIClient, hook: Any
) -> None:
    old = hook.secret
    new = staff_client.post(f"{API}/webhooks/{hook.pk}/rotate-secret/").json()["secret"]
    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    _delivery(hook)
    assert deliver_due(transport=httpx.MockTransport(receive)) == {"delivered": 1}
    request = sent[-1]
    assert len(request.headers["webhook-signature"].split()) == 2
    assert verify(old, request.headers, request.content)
    assert verify(new, request.headers, request.content)

    later = timezone.now() + timedelta(hours=24, minutes=1)
    with time_machine.travel(later, tick=False):
        _delivery(hook)
        assert deliver_due(transport=httpx.MockTransport(receive)) == {"delivered": 1}
        request = sent[-1]
        now = later.timestamp()
        assert len(request.headers["webhook-signature"].split()) == 1
        assert verify(new, request.headers, request.content, now=now)
        assert not verify(old, request.headers, request.content, now=now)


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("ops", "o@x.io", "pw"))
    return client


def test_the_admin_shows_the_secret_once_on_adding_and_rotating(
    admin_client: Client, account_a: Any
) -> None:
    response = admin_client.post(
        reverse("admin:link_tracking_clickwebhook_add"),
        {"account": account_a.pk, "url": "https://new.example.com/", "active": "on"},
    )
    hook = ClickWebhook.objects.get(url="https://new.example.com/")
    change = reverse("admin:link_tracking_clickwebhook_change", args=[hook.pk])
    assert hook.secret in admin_client.get(change).content.decode()  # the message, once
    page = admin_client.get(change).content.decode()
    assert hook.secret not in page and hook.secret.rstrip("=")[-4:] in page

    old = hook.secret
    changelist = reverse("admin:link_tracking_clickwebhook_changelist")
    response = admin_client.post(
        changelist, {"action": "rotate_secret", "_selected_action": [hook.pk]}
    )
    hook.refresh_from_db()
    assert hook.secret != old and hook.previous_secret == old
    assert response.status_code == 302
    assert hook.secret in admin_client.get(change).content.decode()  # the message, once
    assert hook.secret not in admin_client.get(change).content.decode()

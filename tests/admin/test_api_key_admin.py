"""API keys in the admin: created through the service, the key shown once, revoked and rotated
by actions, never deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from link_tracking_publisher.models import ApiKey
from link_tracking_publisher.services import api_keys as api_key_service
from tests.publisher.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator() -> Any:
    return get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")


@pytest.fixture
def client(operator: Any) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def _url(view: str, *args: Any) -> str:
    return reverse(f"admin:link_tracking_apikey_{view}", args=args)


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_adding_a_key_shows_it_once(client: Client, operator: Any) -> None:
    account = AccountFactory()
    response = client.post(
        _url("add"),
        {"account": account.pk, "name": "reporting job", "scopes": ["stats:read", "links:read"]},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get()
    assert (key.name, key.scopes, key.created_by) == (
        "reporting job",
        ["links:read", "stats:read"],
        operator,
    )
    [shown] = [m for m in _messages(response) if "shown only now" in m]
    raw = shown.split(": ", 1)[1].split(" ", 1)[0]
    assert raw.startswith(key.prefix + "_")
    assert api_key_service.authenticate(raw) == key
    listing = client.get(_url("changelist")).content.decode()
    assert key.prefix in listing and raw not in listing
    page = client.get(_url("change", key.pk)).content.decode()
    assert key.prefix in page and raw not in page


def test_bad_input_is_a_form_error(client: Client) -> None:
    account = AccountFactory()
    response = client.post(
        _url("add"),
        {
            "account": account.pk,
            "name": "x",
            "scopes": ["links:read"],
            "expires_at_0": "2001-01-01",
            "expires_at_1": "00:00:00",
        },
    )
    assert (
        response.status_code == 200
        and "The expiry must be in the future." in response.content.decode()
    )
    response = client.post(_url("add"), {"account": account.pk, "name": "x"})
    assert response.status_code == 200 and not ApiKey.objects.exists()


def test_revoke_and_rotate_are_actions(client: Client) -> None:
    key, raw = api_key_service.create_api_key(
        account=AccountFactory(), name="crm", scopes=["links:write"]
    )
    response = client.post(
        _url("changelist"), {"action": "rotate", "_selected_action": [key.pk]}, follow=True
    )
    [shown] = [m for m in _messages(response) if "shown only now" in m]
    new_raw = shown.split(": ", 1)[1].split(" ", 1)[0]
    assert new_raw != raw and api_key_service.authenticate(new_raw) == key
    with pytest.raises(api_key_service.InvalidApiKey):
        api_key_service.authenticate(raw)

    client.post(_url("changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    with pytest.raises(api_key_service.InvalidApiKey):
        api_key_service.authenticate(new_raw)


def test_keys_are_not_deleted(client: Client) -> None:
    key, _ = api_key_service.create_api_key(account=AccountFactory(), name="crm", scopes=["import"])
    assert client.get(_url("delete", key.pk)).status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()

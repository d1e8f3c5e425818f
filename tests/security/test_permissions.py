"""Writes need Django model permissions on top of account scoping; writes are throttled.

Before: the default access policy let any ``is_staff`` user do everything whatever their
Django permissions (a staff user with none could ``PUT utm-policy/``, which republishes every
link), and the API had no throttling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from link_tracking_publisher.checks import check_settings
from link_tracking_publisher.models import GlobalUTMPolicy, Link
from tests.api.conftest import API
from tests.publisher.factories import DomainFactory, LinkFactory

pytestmark = pytest.mark.django_db


def _grant(user: Any, *codenames: str) -> Any:
    """Give ``user`` these permissions; returns the user afresh (Django caches permissions)."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="link_tracking", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def bare_staff(make_user: Callable[..., Any]) -> Any:
    """Staff, and not one Django permission."""
    return make_user("bare", staff=True, perms=False)


def test_a_staff_user_without_permissions_cannot_put_the_utm_policy(
    bare_staff: Any, client_for: Callable[[Any], APIClient], enqueued: mock.MagicMock
) -> None:
    client = client_for(bare_staff)
    body = {"default_utm_params": {"utm_source": "hijacked"}}
    assert client.get(f"{API}/utm-policy/").status_code == 200  # reading is fine
    assert client.put(f"{API}/utm-policy/", body, format="json").status_code == 403
    assert client.patch(f"{API}/utm-policy/", body, format="json").status_code == 403
    assert GlobalUTMPolicy.load().default_utm_params == {}
    assert not enqueued.called  # nothing republished

    client = client_for(_grant(bare_staff, "change_globalutmpolicy"))
    assert client.put(f"{API}/utm-policy/", body, format="json").status_code == 200


def test_each_write_needs_its_own_model_permission(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    account_a: Any,
    membership_policy: None,
    enqueued: mock.MagicMock,
) -> None:
    user = make_user("carol", accounts=(account_a,), perms=False)
    domain = DomainFactory(account=account_a)
    link = LinkFactory(account=account_a, domain=domain)
    body = {"account": account_a.pk, "domain": str(domain.pk), "destination_url": "https://a.ex/"}

    client = client_for(user)
    assert client.get(f"{API}/links/").status_code == 200
    assert client.post(f"{API}/links/", body, format="json").status_code == 403
    assert client.post(f"{API}/links/{link.pk}/unpublish/").status_code == 403
    assert client.delete(f"{API}/domains/{domain.pk}/").status_code == 403

    user = _grant(user, "add_link")
    client = client_for(user)
    assert client.post(f"{API}/links/", body, format="json").status_code == 201
    # add is not change: deactivating a link is a change.
    assert client.post(f"{API}/links/{link.pk}/unpublish/").status_code == 403
    client = client_for(_grant(user, "change_link"))
    assert client.post(f"{API}/links/{link.pk}/unpublish/").status_code == 202
    assert Link.objects.get(pk=link.pk).active is False


def test_a_superuser_needs_no_explicit_permission(
    client_for: Callable[[Any], APIClient], enqueued: mock.MagicMock
) -> None:
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    body = {"default_utm_params": {"utm_source": "x"}}
    assert client_for(root).put(f"{API}/utm-policy/", body, format="json").status_code == 200


def test_writes_are_throttled_per_user(
    settings: Any,
    alice_client: APIClient,
    bob_client: APIClient,
    account_a: Any,
    account_b: Any,
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_WRITE_THROTTLE_RATE": "2/minute"}

    def campaign(client: APIClient, account: Any, n: int) -> int:
        body = {"account": account.pk, "name": f"c{n}"}
        return client.post(f"{API}/campaigns/", body, format="json").status_code

    assert [campaign(alice_client, account_a, n) for n in range(3)] == [201, 201, 429]
    assert alice_client.get(f"{API}/campaigns/").status_code == 200  # reads are not
    assert campaign(bob_client, account_b, 9) == 201  # per user


def test_bulk_endpoints_have_their_own_rate(
    settings: Any, alice_client: APIClient, account_a: Any, enqueued: mock.MagicMock
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_BULK_THROTTLE_RATE": "1/hour"}
    domain = DomainFactory(account=account_a)
    body = {
        "account": account_a.pk,
        "domain": str(domain.pk),
        "destination_url": "https://a.example/",
        "keywords": ["A", "B"],
    }
    assert alice_client.post(f"{API}/links/bulk/", body, format="json").status_code == 201
    response = alice_client.post(f"{API}/links/bulk/", body, format="json")
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert Link.objects.count() == 2


def test_throttle_rates_are_checked_at_start_up(settings: Any) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_WRITE_THROTTLE_RATE": "lots"}
    assert "link_tracking.E012" in [e.id for e in check_settings()]
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_WRITE_THROTTLE_RATE": None}
    assert "link_tracking.E012" not in [e.id for e in check_settings()]

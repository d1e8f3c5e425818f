from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from link_tracking_publisher import dispatch
from tests.publisher.conftest import _aws_env, aws, table  # noqa: F401  (shared fixtures)
from tests.publisher.factories import AccountFactory, DomainFactory, LinkCampaignFactory

from .policies import GROUP_PREFIX

API = "/api/link_tracking"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def membership_policy(settings: Any) -> None:
    """Users reach the accounts of their ``account:<pk>`` groups (a host's own rule)."""
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "ACCOUNT_ACCESS_POLICY": "tests.api.policies.GroupMembershipPolicy",
    }


@pytest.fixture
def enqueued() -> Iterator[mock.MagicMock]:
    """Every task the service layer enqueues after commit, captured instead of sent."""
    with mock.patch.object(dispatch, "enqueue_on_commit") as enqueue:
        yield enqueue


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    def make(
        name: str, *, staff: bool = False, accounts: tuple[Any, ...] = (), perms: bool = True
    ) -> Any:
        """A user; with ``perms`` (the default) holding every link_tracking model permission,
        as an operator the host gave a role would (tests/security/ covers users without)."""
        user = get_user_model().objects.create_user(name, password="pw", is_staff=staff)
        if perms:
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label="link_tracking")
            )
        for account in accounts:
            group, _ = Group.objects.get_or_create(name=f"{GROUP_PREFIX}{account.pk}")
            user.groups.add(group)
        return user

    return make


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def account_a(db: None) -> Any:
    return AccountFactory(name="A")


@pytest.fixture
def account_b(db: None) -> Any:
    return AccountFactory(name="B")


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    return make_user("staff", staff=True)


@pytest.fixture
def staff_client(staff: Any, client_for: Callable[[Any], APIClient]) -> APIClient:
    return client_for(staff)


@pytest.fixture
def alice(make_user: Callable[..., Any], account_a: Any, membership_policy: None) -> Any:
    """A member of account A (only), under the membership policy."""
    return make_user("alice", accounts=(account_a,))


@pytest.fixture
def bob(make_user: Callable[..., Any], account_b: Any, membership_policy: None) -> Any:
    """A member of account B (only), under the membership policy."""
    return make_user("bob", accounts=(account_b,))


@pytest.fixture
def alice_client(alice: Any, client_for: Callable[[Any], APIClient]) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob: Any, client_for: Callable[[Any], APIClient]) -> APIClient:
    return client_for(bob)


@pytest.fixture
def domain_a(account_a: Any) -> Any:
    return DomainFactory(domain_name="a.example.com", account=account_a)


@pytest.fixture
def domain_b(account_b: Any) -> Any:
    return DomainFactory(domain_name="b.example.com", account=account_b)


@pytest.fixture
def shared_domain(db: None) -> Any:
    return DomainFactory(domain_name="go.example.com", account=None)


@pytest.fixture
def campaign_a(account_a: Any) -> Any:
    return LinkCampaignFactory(account=account_a, campaign_id="SPRING26")


@pytest.fixture
def campaign_b(account_b: Any) -> Any:
    return LinkCampaignFactory(account=account_b, campaign_id="SPRING26")

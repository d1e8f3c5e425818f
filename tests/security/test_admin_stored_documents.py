"""One tenant's app-link document cannot break admin pages for every operator.

Before: an Apple app-site-association document of 900 nested lists was accepted; then the
admin's add-link, import and domain pages answered 500 (RecursionError), because every page
offering the domain in a drop-down loaded (and the domain page encoded) its documents. Now
selects and filters load names only, and the domain's own page shows a stored document past the
contract's bounds as a note to replace it. The documents here are written to the database
directly, as one stored before documents were bounded would be.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from link_tracking_publisher.models import Domain, MessageClick
from tests.publisher.factories import AccountFactory, DomainFactory, LinkFactory

pytestmark = pytest.mark.django_db


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def operator_client() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bad_domain() -> Domain:
    account = AccountFactory()
    domain = DomainFactory(domain_name="deep.example.com", account=account)
    link = LinkFactory(account=account, domain=domain)  # with a version and an outbox row
    MessageClick.objects.create(link=link, sms_msg_id="m1", last_click_at=timezone.now())
    Domain.objects.filter(pk=domain.pk).update(
        apple_app_site_association={"applinks": _deep(900)}, assetlinks=_deep(900)
    )
    return domain


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("link_add", False),
        ("link_import", False),
        ("link_changelist", False),
        ("domain_changelist", False),
        ("domain_add", False),
        ("domain_change", True),
        ("linkversion_changelist", False),
        ("publishoutbox_changelist", False),
        ("messageclick_changelist", False),
    ],
)
def test_admin_pages_answer_with_a_deeply_nested_stored_document(
    operator_client: Client, bad_domain: Domain, name: str, args: bool
) -> None:
    url = reverse(f"admin:link_tracking_{name}", args=[bad_domain.pk] if args else [])
    response = operator_client.get(url)
    assert response.status_code == 200


def test_the_domain_drop_down_lists_names_not_documents(
    operator_client: Client, bad_domain: Domain
) -> None:
    Domain.objects.filter(pk=bad_domain.pk).update(
        apple_app_site_association={"applinks": {"marker": "document-text"}}
    )
    page = operator_client.get(reverse("admin:link_tracking_link_add")).content.decode()
    assert "deep.example.com" in page and "document-text" not in page


def test_the_domain_page_asks_to_replace_a_stored_document_past_the_bounds(
    operator_client: Client, bad_domain: Domain
) -> None:
    url = reverse("admin:link_tracking_domain_change", args=[bad_domain.pk])
    page = operator_client.get(url).content.decode()
    assert "The stored document is refused (Nested deeper than 20 levels" in page

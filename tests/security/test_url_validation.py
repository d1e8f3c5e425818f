"""Redirect targets that browsers and Python parse to different hosts are refused.

Before: Django's URL validator accepted ``https://evil.example\\@good.example/``: Python's
``urlsplit`` sees the host ``good.example``, a browser ``evil.example``. URLs carrying a user
name or password were accepted too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link
from tests.api.conftest import API
from tests.publisher.factories import DomainFactory

pytestmark = pytest.mark.django_db

REFUSED = [
    "https://evil.example\\@good.example/",
    "https://good.example\\evil.example/",
    "https://good.example/path\\..\\x",
    "https://user:password@good.example/",
    "https://user@good.example/",
    "https://good.example@evil.example/",
]


def test_the_ambiguous_url_parses_to_two_hosts() -> None:
    # Why: Python says good.example; a browser (WHATWG URL) turns '\\' into '/' and says evil.
    assert urlsplit(REFUSED[0]).hostname == "good.example"


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("field", ["destination_url", "fallback_url"])
def test_destinations_and_fallbacks_are_refused_with_a_field_error(
    alice_client: APIClient, account_a: Any, field: str, url: str
) -> None:
    domain = DomainFactory(account=account_a)
    body = {"account": account_a.pk, "domain": str(domain.pk)}
    body["destination_url"] = "https://good.example/"
    body[field] = url
    response = alice_client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()) == [field]
    assert not Link.objects.exists()


@pytest.mark.parametrize("url", REFUSED[:2])
def test_routing_rule_targets_are_refused_too(
    alice_client: APIClient, account_a: Any, url: str
) -> None:
    domain = DomainFactory(account=account_a)
    body = {
        "account": account_a.pk,
        "domain": str(domain.pk),
        "destination_url": "https://good.example/",
        "routing_rules": {"type": "geo", "us": url},
    }
    response = alice_client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 400 and list(response.json()) == ["routing_rules"]
    assert "backslash" in str(response.json())
    body["routing_rules"] = {"type": "geo", "us": "https://good.example/us"}
    assert alice_client.post(f"{API}/links/", body, format="json").status_code == 201


def test_at_signs_in_the_path_and_query_are_fine(alice_client: APIClient, account_a: Any) -> None:
    domain = DomainFactory(account=account_a)
    body = {
        "account": account_a.pk,
        "domain": str(domain.pk),
        "destination_url": "https://good.example/@team?ref=a@b",
    }
    assert alice_client.post(f"{API}/links/", body, format="json").status_code == 201

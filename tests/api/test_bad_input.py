"""No input is a server error: one test per class of bad input, each answered with a 4xx."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link
from link_tracking_runtime.routing import MAX_LANGUAGES
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

#: Second letters of language tags: three times these is one tag past the bound.
TAGS = "abcdefghijklmnopq"[: MAX_LANGUAGES // 3 + 1]


@pytest.fixture
def link(account_a: Any, domain_a: Any) -> Link:
    return LinkFactory(account=account_a, domain=domain_a)


@pytest.fixture
def post_raw(staff_client: APIClient) -> Any:
    def post(path: str, raw: bytes | str, content_type: str = "application/json") -> Any:
        return staff_client.generic("POST", f"{API}/{path}", raw, content_type=content_type)

    return post


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"\xff\xfe\x00",  # not UTF-8
        b'{"destination_url": NaN}',
        b'{"max_clicks": Infinity}',
        b'{"routing_rules": {"type": "ab_test", "split": 1e400}}',  # parses to inf
        b'{"max_clicks": 1' + b"0" * 60 + b"}",  # no DynamoDB number holds it
        b'{"routing_rules": {"type": "ab_test", "split": 1e-200}}',
        b'{"keyword": "\\ud800"}',  # a lone surrogate: no database can encode it
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the recursion limit
        b'"just a string"',
        b"[1, 2, 3]",
        b"null",
    ],
)
def test_malformed_bodies_are_400(post_raw: Any, raw: bytes) -> None:
    response = post_raw("links/", raw)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_only_json_is_accepted(post_raw: Any) -> None:
    response = post_raw("links/", "keyword=HELP", "application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_nul_characters_are_field_errors(
    staff_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    base = {"account": account_a.pk, "domain": str(domain_a.pk), "destination_url": "https://x.io/"}
    for change, field in [
        ({"keyword": "a\x00b"}, "keyword"),
        ({"utm_overrides": {"utm_source": "a\x00"}}, "utm_overrides"),
        ({"routing_rules": {"type": "geo", "de\x00": "https://x.io/"}}, "routing_rules"),
    ]:
        response = staff_client.post(f"{API}/links/", {**base, **change}, format="json")
        assert response.status_code == 400 and field in response.json(), change
    response = staff_client.get(f"{API}/links/", {"search": "a\x00b"})
    assert response.status_code == 400 and list(response.json()) == ["search"]
    response = staff_client.get(f"{API}/links/", {"keyword": "a\x00b"})
    assert response.status_code == 400 and list(response.json()) == ["keyword"]


def test_odd_routing_rules_are_field_errors(staff_client: APIClient, link: Link) -> None:
    rules = {"type": "time", "business_hours": "https://x.io/", "timezone": "A" * 300}
    response = staff_client.patch(
        f"{API}/links/{link.pk}/", {"routing_rules": rules}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["routing_rules"]
    rules = {
        "type": "ab_test",
        "variant_a": "https://a.io/",
        "variant_b": "https://b.io/",
        "split": 10**30,
    }
    response = staff_client.patch(
        f"{API}/links/{link.pk}/", {"routing_rules": rules}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["routing_rules"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"type": "language", "french": "https://fr.io/"}, "'french' is neither a language tag"),
        ({"type": "language", "fr-x-sms": "https://fr.io/"}, "neither a language tag"),
        ({"type": "language", "fr": "https://fr.io/", "FR": "https://fr.io/"}, "given twice"),
        ({"type": "language", "default": "https://en.io/"}, "at least one language tag"),
        (
            {"type": "language", **{f"{a}{b}": "https://x.io/" for a in "abc" for b in TAGS}},
            f"at most {MAX_LANGUAGES} language tags",
        ),
        ({"type": "language", "fr": "https://user:pw@fr.io/"}, "https://user:pw@fr.io/"),
    ],
)
def test_bad_language_rules_are_field_errors(
    staff_client: APIClient, link: Link, rules: dict[str, str], message: str
) -> None:
    response = staff_client.patch(
        f"{API}/links/{link.pk}/", {"routing_rules": rules}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["routing_rules"]
    assert message in " ".join(response.json()["routing_rules"])


@pytest.mark.parametrize(
    "path",
    [
        "links/?page=0",
        "links/?page=-1",
        "links/?page=99999999999999999999999",
        "links/?page_size=99999999999999999999999",
        "links/?ordering=-nonexistent,,",
        "publish-outbox/?link=xyz",
        "domains/?account=99999999999999999999999",
        "links/{link}/versions/?page=abc",
        "links/{link}/preview/?at=99999-01-01",
    ],
)
def test_odd_query_strings_are_never_server_errors(
    staff_client: APIClient, link: Link, path: str
) -> None:
    response = staff_client.get(f"{API}/" + path.format(link=link.pk))
    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("value", [True, None, [], {}, 1.5, "one", -1, 2**70])
def test_wrong_types_for_ids_are_field_errors(
    staff_client: APIClient, account_a: Any, value: Any
) -> None:
    response = staff_client.post(
        f"{API}/links/",
        {"account": value, "domain": value, "destination_url": "https://x.io/"},
        format="json",
    )
    assert response.status_code == 400
    assert {"account", "domain"} <= set(response.json())

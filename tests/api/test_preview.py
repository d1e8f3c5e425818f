"""Preview: the record as the publisher builds it, run through the contract's click decision
(the runtime's). Compared here with the contract functions called directly."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import GlobalUTMPolicy
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_runtime import RoutingContext, build_redirect_url, route
from link_tracking_runtime.click import visitor_key
from link_tracking_runtime.routing import ab_bucket
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"


@pytest.fixture
def link(account_a: Any, domain_a: Any, campaign_a: Any) -> Any:
    GlobalUTMPolicy.objects.create(default_utm_params={"utm_source": "sms"})
    campaign_a.utm_template = {"utm_campaign": "${campaign_id}", "utm_content": "${keyword}"}
    campaign_a.save()
    return LinkFactory(
        account=account_a,
        domain=domain_a,
        campaign=campaign_a,
        keyword="HELP",
        destination_url="https://shop.example.com/?ref=x",
        dynamic_param_allowlist=["click_id", "geo", "sms_msg_id"],
        routing_rules={
            "type": "geo",
            "de": "https://shop.example.de/",
            "eu": "https://shop.example.eu/",
        },
    )


def test_preview_is_what_the_contract_computes(staff_client: APIClient, link: Any) -> None:
    response = staff_client.get(
        f"{API}/links/{link.pk}/preview/",
        {"country": "de", "user_agent": IPHONE, "sms_msg_id": "42", "at": "2026-03-01T12:00:00Z"},
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    now = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC).timestamp()
    record = LinkPublisher().build_record(link, now=now)
    decision = route(
        record,
        RoutingContext(now=now, visitor_key=visitor_key("42", "", IPHONE), geo_country="DE"),
    )
    expected = build_redirect_url(
        record,
        click_id=data["click_id"],
        now=now,
        destination=decision.destination,
        geo_country="DE",
        request_params={"sms_msg_id": "42"},
    )
    assert data["redirect_url"] == expected
    assert data["redirect_url"] == (
        "https://shop.example.de/?utm_campaign=SPRING26&utm_content=HELP&utm_source=sms"
        f"&click_id={data['click_id']}&geo=DE&sms_msg_id=42"
    )
    assert (data["policy"], data["routing_reason"], data["device"]) == ("ok", "geo:de", "ios")
    assert data["resolved_utm_params"] == {
        "utm_source": "sms",
        "utm_campaign": "SPRING26",
        "utm_content": "HELP",
    }
    assert data["forwarded_params"] == {"sms_msg_id": "42"}
    assert data["request_url"] == f"{link.get_full_url()}?sms_msg_id=42"
    assert data["record"]["PK"] == "DOMAIN#a.example.com"
    assert data["clicked_at"] == int(now)


def test_region_routing_and_no_forwarding_without_the_request_param(
    staff_client: APIClient, link: Any
) -> None:
    data = staff_client.get(f"{API}/links/{link.pk}/preview/", {"country": "FR"}).json()
    assert data["routing_reason"] == "geo:eu"
    assert data["redirect_url"].startswith("https://shop.example.eu/?")
    assert "sms_msg_id" not in data["redirect_url"] and data["forwarded_params"] == {}


def test_an_inactive_or_expired_link_previews_its_fallback(
    staff_client: APIClient, link: Any
) -> None:
    link.active = False
    link.save()
    data = staff_client.get(f"{API}/links/{link.pk}/preview/").json()
    assert (data["policy"], data["redirect_url"]) == ("inactive", "https://a.example.com/disabled")
    link.active = True
    link.expires_at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    link.save()
    data = staff_client.get(
        f"{API}/links/{link.pk}/preview/", {"at": "2026-02-01T00:00:00Z"}
    ).json()
    assert data["policy"] == "expired"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "DEU"}, "country"),
        ({"at": "yesterday"}, "at"),
        ({"sms_msg_id": "x" * 257}, "sms_msg_id"),
        ({"user_agent": "u" * 1025}, "user_agent"),
        ({"accept_language": "fr," * 2731}, "accept_language"),
    ],
)
def test_bad_preview_params_are_field_errors(
    staff_client: APIClient, link: Any, params: dict[str, str], field: str
) -> None:
    response = staff_client.get(f"{API}/links/{link.pk}/preview/", params)
    assert response.status_code == 400 and list(response.json()) == [field]


def test_a_preview_writes_nothing(staff_client: APIClient, link: Any) -> None:
    before = (link.runtime_version, link.versions.count(), link.publish_outbox.count())
    staff_client.get(f"{API}/links/{link.pk}/preview/")
    link.refresh_from_db()
    assert (link.runtime_version, link.versions.count(), link.publish_outbox.count()) == before


@pytest.fixture
def routed_link(account_a: Any, domain_a: Any, campaign_a: Any) -> Any:
    """A factory of links of account A's campaign with the given routing rules."""

    def make(routing_rules: dict[str, str]) -> Any:
        return LinkFactory(
            account=account_a, domain=domain_a, campaign=campaign_a, routing_rules=routing_rules
        )

    return make


def test_ab_preview_keys_visitors_as_the_runtime_does(
    staff_client: APIClient, routed_link: Any
) -> None:
    link = routed_link(
        {
            "type": "ab_test",
            "variant_a": "https://a.example.com/",
            "variant_b": "https://b.example.com/",
        }
    )
    seen = set()
    for index in range(40):
        sms = f"msg-{index}"
        data = staff_client.get(f"{API}/links/{link.pk}/preview/", {"sms_msg_id": sms}).json()
        # The runtime's key for an SMS click is "sms:" + id (not the raw id).
        expected = "a" if ab_bucket(str(link.pk), f"sms:{sms}") < 0.5 else "b"
        assert data["ab_variant"] == expected
        assert data["redirect_url"].startswith(f"https://{expected}.example.com/")
        seen.add(expected)
    assert seen == {"a", "b"}
    # Without an sms_msg_id, the visitor is its ip_hash and User-Agent, as in its events.
    data = staff_client.get(
        f"{API}/links/{link.pk}/preview/", {"visitor_key": "f00d", "user_agent": IPHONE}
    ).json()
    key = f"ip:f00d\n{IPHONE}"
    assert data["ab_variant"] == ("a" if ab_bucket(str(link.pk), key) < 0.5 else "b")


def test_language_preview_reads_the_accept_language_as_the_runtime_does(
    staff_client: APIClient, routed_link: Any
) -> None:
    link = routed_link(
        {
            "type": "language",
            "fr": "https://example.ca/fr",
            "fr-CA": "https://example.ca/qc",
            "default": "https://example.ca/en",
        }
    )
    url = f"{API}/links/{link.pk}/preview/"
    data = staff_client.get(url, {"accept_language": "en;q=0.4, fr-CH;q=0.8"}).json()
    assert data["routing_reason"] == "language:fr"
    assert data["redirect_url"].startswith("https://example.ca/fr?")
    data = staff_client.get(url, {"accept_language": "fr-CA"}).json()
    assert data["routing_reason"] == "language:fr-ca"
    # No header, one the runtime ignores (over its bound) or one whose q does not parse is
    # the default; never a 400.
    for params in (
        {},
        {"accept_language": "fr-CA," * 200},
        {"accept_language": "fr-CA;q=abc"},
        {"accept_language": "fr;q=1.5"},
        {"accept_language": ""},
    ):
        response = staff_client.get(url, params)
        assert response.status_code == 200
        assert response.json()["routing_reason"] == "language:default"
        assert response.json()["redirect_url"].startswith("https://example.ca/en?")

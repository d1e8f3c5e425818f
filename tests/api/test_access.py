"""Authorisation: the access policy decides which accounts a user reaches; everything of
another account is not found (404), through every route, nested ones included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import LinkCampaignCrmCampaignMapping, PrivacyRequest
from tests.publisher.factories import CrmCampaignFactory, LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


# --- the default policy: staff only ----------------------------------------------------------


def test_anonymous_users_are_refused(account_a: Any) -> None:
    response = APIClient().get(f"{API}/links/")
    assert response.status_code in (401, 403)


def test_by_default_non_staff_users_reach_nothing(
    make_user: Callable[..., Any], client_for: Callable[[Any], APIClient], domain_a: Any
) -> None:
    client = client_for(make_user("someone"))
    for path in ("links/", "domains/", "campaigns/", "publish-outbox/", "utm-policy/"):
        response = client.get(f"{API}/{path}")
        assert response.status_code == 403, path
    assert client.get(f"{API}/domains/{domain_a.pk}/").status_code == 403


def test_by_default_staff_reach_every_account(
    staff_client: APIClient, account_a: Any, account_b: Any, domain_a: Any, domain_b: Any
) -> None:
    LinkFactory(account=account_a, domain=domain_a)
    LinkFactory(account=account_b, domain=domain_b)
    response = staff_client.get(f"{API}/links/")
    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_inactive_staff_reach_nothing(
    make_user: Callable[..., Any], client_for: Callable[[Any], APIClient], account_a: Any
) -> None:
    user = make_user("former", staff=True)
    user.is_active = False
    user.save()
    assert client_for(user).get(f"{API}/links/").status_code == 403


# --- a custom policy: members of account A and B ---------------------------------------------


@pytest.fixture
def b_objects(account_b: Any, domain_b: Any, campaign_b: Any) -> dict[str, Any]:
    link = LinkFactory(account=account_b, domain=domain_b, campaign=campaign_b)
    mapping = LinkCampaignCrmCampaignMapping.objects.create(
        link_campaign=campaign_b, crm_campaign=CrmCampaignFactory(account=account_b)
    )
    request = PrivacyRequest.objects.create(
        account=account_b, request_type="access", subject_type="sms_msg_id", subject_hash="0" * 64
    )
    return {
        "link": link,
        "domain": domain_b,
        "campaign": campaign_b,
        "mapping": mapping,
        "outbox": link.publish_outbox.get(),
        "privacy": request,
    }


def test_lists_show_only_the_users_accounts(
    alice_client: APIClient, account_a: Any, domain_a: Any, campaign_a: Any, b_objects: Any
) -> None:
    mine = LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a)
    links = alice_client.get(f"{API}/links/").json()
    assert [item["id"] for item in links["results"]] == [str(mine.pk)]
    assert [d["id"] for d in alice_client.get(f"{API}/domains/").json()["results"]] == [
        str(domain_a.pk)
    ]
    assert [c["id"] for c in alice_client.get(f"{API}/campaigns/").json()["results"]] == [
        str(campaign_a.pk)
    ]
    outbox = alice_client.get(f"{API}/publish-outbox/").json()["results"]
    assert [e["link"] for e in outbox] == [str(mine.pk)]
    assert alice_client.get(f"{API}/privacy-requests/").json()["count"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "links/{link}/",
        "links/{link}/preview/",
        "links/{link}/versions/",
        "domains/{domain}/",
        "campaigns/{campaign}/",
        "campaigns/{campaign}/crm-mappings/",
        "campaigns/{campaign}/crm-mappings/{mapping}/",
        "publish-outbox/{outbox}/",
        "privacy-requests/{privacy}/",
    ],
)
def test_another_accounts_objects_are_not_found(
    alice_client: APIClient, b_objects: dict[str, Any], path: str
) -> None:
    url = f"{API}/" + path.format(**{k: v.pk for k, v in b_objects.items()})
    assert alice_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "links/{link}/", {"destination_url": "https://evil.example.com/"}),
        ("post", "links/{link}/publish/", {}),
        ("post", "links/{link}/unpublish/", {}),
        ("post", "links/{link}/signed-url/", {}),
        ("patch", "domains/{domain}/", {"active": False}),
        ("delete", "domains/{domain}/", None),
        ("patch", "campaigns/{campaign}/", {"name": "mine now"}),
        ("delete", "campaigns/{campaign}/", None),
        ("post", "campaigns/{campaign}/crm-mappings/", {"crm_campaign": 1}),
        ("patch", "campaigns/{campaign}/crm-mappings/{mapping}/", {"is_active": False}),
        ("delete", "campaigns/{campaign}/crm-mappings/{mapping}/", None),
        ("post", "publish-outbox/{outbox}/retry/", None),
        ("post", "privacy-requests/{privacy}/retry/", None),
    ],
)
def test_another_accounts_objects_cannot_be_changed(
    alice_client: APIClient, b_objects: dict[str, Any], method: str, path: str, body: Any
) -> None:
    url = f"{API}/" + path.format(**{k: v.pk for k, v in b_objects.items()})
    response = getattr(alice_client, method)(url, body, format="json")
    assert response.status_code == 404
    link, domain, campaign = b_objects["link"], b_objects["domain"], b_objects["campaign"]
    link.refresh_from_db(), domain.refresh_from_db(), campaign.refresh_from_db()
    assert (link.destination_url, link.active, link.runtime_version) == (
        "https://shop.example.com/landing",
        True,
        1,
    )
    assert domain.active and campaign.name != "mine now"
    assert LinkCampaignCrmCampaignMapping.objects.filter(pk=b_objects["mapping"].pk).exists()


def test_a_mapping_is_only_found_under_its_own_campaign(
    alice_client: APIClient, account_a: Any, campaign_a: Any, b_objects: dict[str, Any]
) -> None:
    # B's mapping id, under A's campaign: still not found.
    url = f"{API}/campaigns/{campaign_a.pk}/crm-mappings/{b_objects['mapping'].pk}/"
    assert alice_client.get(url).status_code == 404
    assert alice_client.delete(url).status_code == 404
    assert LinkCampaignCrmCampaignMapping.objects.filter(pk=b_objects["mapping"].pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "campaigns/not-a-uuid/crm-mappings/",
        "campaigns/{campaign}/crm-mappings/not-a-number/",
        "campaigns/{campaign}/crm-mappings/99999999999999999999999/",
        "links/not-a-uuid/",
        "links/not-a-uuid/preview/",
        "publish-outbox/abc/",
        "publish-outbox/99999999999999999999999/",
        "privacy-requests/abc/",
        "no-such-resource/",
    ],
)
def test_malformed_ids_are_not_found(alice_client: APIClient, campaign_a: Any, path: str) -> None:
    response = alice_client.get(f"{API}/" + path.format(campaign=campaign_a.pk))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_another_accounts_ids_cannot_be_used_in_writes(
    alice_client: APIClient,
    account_a: Any,
    account_b: Any,
    domain_a: Any,
    campaign_a: Any,
    b_objects: dict[str, Any],
) -> None:
    base = {"account": account_a.pk, "domain": str(domain_a.pk)}
    url = "https://shop.example.com/"
    cases = [
        ({**base, "account": account_b.pk}, "account"),
        ({**base, "domain": str(b_objects["domain"].pk)}, "domain"),
        ({**base, "campaign": str(b_objects["campaign"].pk)}, "campaign"),
    ]
    for body, field in cases:
        response = alice_client.post(f"{API}/links/", {**body, "destination_url": url}, "json")
        assert response.status_code == 400
        assert list(response.json()) == [field]
    response = alice_client.post(
        f"{API}/campaigns/", {"account": account_b.pk, "name": "x"}, format="json"
    )
    assert response.status_code == 400 and "account" in response.json()
    # A CRM campaign of account B cannot be mapped to a link campaign of account A.
    response = alice_client.post(
        f"{API}/campaigns/{campaign_a.pk}/crm-mappings/",
        {"crm_campaign": CrmCampaignFactory(account=account_b).pk},
        format="json",
    )
    assert response.status_code == 400 and list(response.json()) == ["crm_campaign"]
    response = alice_client.post(
        f"{API}/privacy-requests/",
        {
            "account": account_b.pk,
            "request_type": "access",
            "subject_type": "sms_msg_id",
            "subject_value": "1",
        },
        format="json",
    )
    assert response.status_code == 400 and list(response.json()) == ["account"]


def test_filtering_by_another_account_reveals_nothing(
    alice_client: APIClient, account_b: Any, b_objects: dict[str, Any]
) -> None:
    response = alice_client.get(f"{API}/links/", {"account": account_b.pk})
    assert response.status_code == 400 and "account" in response.json()
    response = alice_client.get(f"{API}/links/", {"domain": str(b_objects["domain"].pk)})
    assert response.status_code == 200 and response.json()["count"] == 0


# --- shared domains ----------------------------------------------------------------------------


def test_shared_domains_are_read_and_used_by_everyone(
    alice_client: APIClient, account_a: Any, shared_domain: Any
) -> None:
    listed = alice_client.get(f"{API}/domains/").json()["results"]
    assert [d["domain_name"] for d in listed] == ["go.example.com"]
    response = alice_client.post(
        f"{API}/links/",
        {
            "account": account_a.pk,
            "domain": str(shared_domain.pk),
            "destination_url": "https://shop.example.com/",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_only_staff_change_shared_domains(
    alice_client: APIClient, staff_client: APIClient, shared_domain: Any
) -> None:
    url = f"{API}/domains/{shared_domain.pk}/"
    assert alice_client.patch(url, {"purpose": "qr"}, format="json").status_code == 403
    assert alice_client.delete(url).status_code == 403
    shared_domain.refresh_from_db()
    assert shared_domain.purpose == "general"
    response = staff_client.patch(url, {"purpose": "qr"}, format="json")
    assert response.status_code == 200 and response.json()["purpose"] == "qr"


def test_only_staff_create_shared_domains(alice_client: APIClient, staff_client: APIClient) -> None:
    body = {"domain_name": "shared.example.com", "account": None}
    response = alice_client.post(f"{API}/domains/", body, format="json")
    assert response.status_code == 400 and list(response.json()) == ["account"]
    response = staff_client.post(f"{API}/domains/", body, format="json")
    assert response.status_code == 201 and response.json()["account"] is None


def test_a_policy_setting_that_names_no_policy_is_a_system_check_error(settings: Any) -> None:
    from link_tracking_publisher.checks import check_settings

    settings.LINK_TRACKING = {"ACCOUNT_ACCESS_POLICY": "no.such.Policy"}
    assert "link_tracking.E010" in {e.id for e in check_settings()}
    settings.LINK_TRACKING = {"PRIVACY_REQUEST_PROCESSOR": "no.such.processor"}
    assert "link_tracking.E010" in {e.id for e in check_settings()}


def test_api_sizes_must_be_positive_integers(settings: Any) -> None:
    from link_tracking_publisher.checks import check_settings

    settings.LINK_TRACKING = {"BULK_CREATE_MAX_LINKS": 0, "API_PAGE_SIZE": "50"}
    assert [e.id for e in check_settings()] == ["link_tracking.E011", "link_tracking.E011"]
    settings.LINK_TRACKING = {}
    assert check_settings() == []

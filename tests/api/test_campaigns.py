"""Campaigns (optional campaign_id, unique per account) and their nested CRM mappings."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import (
    LinkCampaign,
    LinkCampaignCrmCampaignMapping,
    PublishOutbox,
)
from link_tracking_publisher.tasks import publish_outbox_task
from tests.publisher.factories import CrmCampaignFactory, LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


def test_create_without_and_with_campaign_id(staff_client: APIClient, account_a: Any) -> None:
    for campaign_id in (None, "", "SPRING26"):
        response = staff_client.post(
            f"{API}/campaigns/",
            {"account": account_a.pk, "name": "Spring", "campaign_id": campaign_id},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["campaign_id"] == (campaign_id or None)
    assert LinkCampaign.objects.filter(campaign_id__isnull=True).count() == 2


def test_campaign_id_is_unique_per_account(
    staff_client: APIClient, account_a: Any, account_b: Any, campaign_a: Any
) -> None:
    body = {"name": "Again", "campaign_id": "SPRING26"}
    response = staff_client.post(f"{API}/campaigns/", {**body, "account": account_a.pk}, "json")
    assert response.status_code == 400 and list(response.json()) == ["campaign_id"]
    response = staff_client.post(f"{API}/campaigns/", {**body, "account": account_b.pk}, "json")
    assert response.status_code == 201
    other = LinkCampaign.objects.create(account=account_a, name="x", campaign_id="OTHER")
    response = staff_client.patch(
        f"{API}/campaigns/{other.pk}/", {"campaign_id": "SPRING26"}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["campaign_id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"utm_template": {"utm_source": "${nope}"}}, "utm_template"),
        ({"utm_template": {"utm_source": None}}, "utm_template"),
        ({"end_date": "2026-01-01", "start_date": "2026-02-01"}, "end_date"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
    ],
)
def test_bad_campaign_input_is_a_field_error(
    staff_client: APIClient, account_a: Any, change: dict[str, Any], field: str
) -> None:
    response = staff_client.post(
        f"{API}/campaigns/", {"account": account_a.pk, "name": "Spring", **change}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == [field], response.json()


def test_a_template_change_republishes_the_campaigns_links(
    staff_client: APIClient, campaign_a: Any, domain_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = LinkFactory(account=campaign_a.account, domain=domain_a, campaign=campaign_a)
    with mock.patch.object(publish_outbox_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.patch(
                f"{API}/campaigns/{campaign_a.pk}/",
                {"utm_template": {"utm_campaign": "${campaign_id}"}, "campaign_id": "SUMMER"},
                format="json",
            )
    assert response.status_code == 200, response.json()
    entry = PublishOutbox.objects.get(link=link, runtime_version=2)  # written with the change
    delay.assert_called_once_with([entry.pk])
    link.refresh_from_db()
    assert link.campaign_identifier == "SUMMER"


def test_a_campaign_stays_with_its_account(
    staff_client: APIClient, campaign_a: Any, account_b: Any
) -> None:
    response = staff_client.patch(
        f"{API}/campaigns/{campaign_a.pk}/", {"account": account_b.pk}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["account"]


def test_a_campaign_in_use_cannot_be_deleted(
    staff_client: APIClient, campaign_a: Any, domain_a: Any
) -> None:
    LinkFactory(account=campaign_a.account, domain=domain_a, campaign=campaign_a)
    assert staff_client.delete(f"{API}/campaigns/{campaign_a.pk}/").status_code == 409
    unused = LinkCampaign.objects.create(account=campaign_a.account, name="unused")
    assert staff_client.delete(f"{API}/campaigns/{unused.pk}/").status_code == 204


def test_list_and_detail_show_crm_campaign_ids_and_mappings(
    staff_client: APIClient, campaign_a: Any
) -> None:
    crm1, crm2 = (
        CrmCampaignFactory(account=campaign_a.account),
        CrmCampaignFactory(account=campaign_a.account),
    )
    for crm in (crm1, crm2, crm1):  # crm1 twice, over two date ranges
        LinkCampaignCrmCampaignMapping.objects.create(link_campaign=campaign_a, crm_campaign=crm)
    detail = staff_client.get(f"{API}/campaigns/{campaign_a.pk}/").json()
    assert detail["crm_campaign_ids"] == sorted([crm1.pk, crm2.pk])
    assert len(detail["crm_campaign_mappings"]) == 3
    listed = staff_client.get(f"{API}/campaigns/").json()["results"][0]
    assert listed["crm_campaign_ids"] == detail["crm_campaign_ids"]
    assert {m["crm_campaign"] for m in listed["crm_campaign_mappings"]} == {crm1.pk, crm2.pk}


def test_campaign_filters_and_search(
    staff_client: APIClient, campaign_a: Any, campaign_b: Any
) -> None:
    LinkCampaign.objects.create(account=campaign_a.account, name="Winter", active=False)
    names = lambda params: sorted(  # noqa: E731
        c["name"] for c in staff_client.get(f"{API}/campaigns/", params).json()["results"]
    )
    assert names({"account": campaign_a.account.pk}) == sorted([campaign_a.name, "Winter"])
    assert names({"active": "false"}) == ["Winter"]
    assert names({"search": "wint"}) == ["Winter"]
    assert len(names({"campaign_id": "SPRING26"})) == 2


# --- crm-mappings ------------------------------------------------------------------------------


def test_crm_mapping_crud(staff_client: APIClient, campaign_a: Any) -> None:
    crm = CrmCampaignFactory(account=campaign_a.account)
    base = f"{API}/campaigns/{campaign_a.pk}/crm-mappings/"
    response = staff_client.post(
        base, {"crm_campaign": crm.pk, "start_date": "2026-03-01"}, format="json"
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["link_campaign"], created["crm_campaign"], created["is_active"]) == (
        str(campaign_a.pk),
        crm.pk,
        True,
    )
    url = f"{base}{created['id']}/"
    assert staff_client.get(base).json()["count"] == 1
    assert staff_client.get(url).json()["start_date"] == "2026-03-01"
    response = staff_client.patch(
        url, {"end_date": "2026-04-30", "is_active": False}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["end_date"], response.json()["is_active"]) == ("2026-04-30", False)
    response = staff_client.patch(url, {"end_date": "2026-01-01"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["end_date"]
    other = CrmCampaignFactory(account=campaign_a.account)
    response = staff_client.patch(url, {"crm_campaign": other.pk}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["crm_campaign"]
    assert staff_client.delete(url).status_code == 204
    assert not LinkCampaignCrmCampaignMapping.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "crm_campaign"),
        ({"crm_campaign": 99999}, "crm_campaign"),
        ({"crm_campaign": "abc"}, "crm_campaign"),
        ({"crm_campaign": "{crm}", "start_date": "March"}, "start_date"),
        (
            {"crm_campaign": "{crm}", "start_date": "2026-02-01", "end_date": "2026-01-01"},
            "end_date",
        ),
    ],
)
def test_bad_mapping_input_is_a_field_error(
    staff_client: APIClient, campaign_a: Any, body: dict[str, Any], field: str
) -> None:
    crm = CrmCampaignFactory(account=campaign_a.account)
    body = {k: (crm.pk if v == "{crm}" else v) for k, v in body.items()}
    response = staff_client.post(
        f"{API}/campaigns/{campaign_a.pk}/crm-mappings/", body, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == [field], response.json()

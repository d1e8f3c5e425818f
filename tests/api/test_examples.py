"""Every example request body of the schema is one the API accepts, and the schema shows it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.api import examples
from link_tracking_publisher.models import ClickWebhook, LinkCampaignCrmCampaignMapping, Tag
from tests.publisher.factories import (
    CrmCampaignFactory,
    DomainFactory,
    LinkCampaignFactory,
    LinkFactory,
)

from .conftest import API

PLACEHOLDERS = {
    examples.ACCOUNT_ID: "account",
    examples.DOMAIN_ID: "domain",
    examples.CAMPAIGN_ID: "campaign",
    examples.CRM_CAMPAIGN_ID: "crm_campaign",
}

#: operation -> (method, path with {names} of the objects, status expected).
ROUTES = {
    "domains.create": ("post", "/domains/", 201),
    "domains.partial_update": ("patch", "/domains/{domain}/", 200),
    "campaigns.create": ("post", "/campaigns/", 201),
    "campaigns.partial_update": ("patch", "/campaigns/{campaign}/", 200),
    "tags.create": ("post", "/tags/", 201),
    "tags.partial_update": ("patch", "/tags/{tag}/", 200),
    "crm-mappings.create": ("post", "/campaigns/{campaign}/crm-mappings/", 201),
    "crm-mappings.partial_update": ("patch", "/campaigns/{campaign}/crm-mappings/{mapping}/", 200),
    "links.create": ("post", "/links/", 201),
    "links.partial_update": ("patch", "/links/{link}/", 200),
    "links.bulk": ("post", "/links/bulk/", 201),
    "utm-policy.partial_update": ("patch", "/utm-policy/", 200),
    "privacy-requests.create": ("post", "/privacy-requests/", 201),
    "webhooks.create": ("post", "/webhooks/", 201),
    "webhooks.partial_update": ("patch", "/webhooks/{webhook}/", 200),
}


def test_every_example_has_a_route_here() -> None:
    assert set(ROUTES) == set(examples.EXAMPLES)


def _real_ids(value: Any, objects: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _real_ids(v, objects) for k, v in value.items()}
    if isinstance(value, list):
        return [_real_ids(v, objects) for v in value]
    if not isinstance(value, bool) and value in PLACEHOLDERS:
        return str(objects[PLACEHOLDERS[value]].pk)
    return value


@pytest.fixture
def objects(account_a: Any) -> dict[str, Any]:
    campaign = LinkCampaignFactory(account=account_a)
    crm_campaign = CrmCampaignFactory(account=account_a)
    return {
        "account": account_a,
        "domain": DomainFactory(account=account_a, domain_name="examples.example.com"),
        "campaign": campaign,
        "crm_campaign": crm_campaign,
        "mapping": LinkCampaignCrmCampaignMapping.objects.create(
            link_campaign=campaign, crm_campaign=CrmCampaignFactory(account=account_a)
        ),
        "link": LinkFactory(account=account_a),
        "tag": Tag.objects.create(account=account_a, name="agency-south"),
        "webhook": ClickWebhook.objects.create(
            account=account_a, url="https://hooks.example.com/a", secret="whsec_test"
        ),
    }


@pytest.mark.parametrize("operation", sorted(examples.EXAMPLES))
def test_the_api_accepts_the_example(
    operation: str, staff_client: APIClient, objects: dict[str, Any], enqueued: Any
) -> None:
    method, path, expected = ROUTES[operation]
    _, body = examples.EXAMPLES[operation]
    url = API + path.format(**{name: obj.pk for name, obj in objects.items()})
    response = getattr(staff_client, method)(url, _real_ids(body, objects), format="json")
    assert response.status_code == expected, response.content


def test_the_schema_shows_every_example(staff_client: APIClient) -> None:
    schema = staff_client.get(f"{API}/schema/", {"format": "json"}).json()
    shown = []
    for operations in schema["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for example in content.get("application/json", {}).get("examples", {}).values():
                shown.append(json.dumps(example["value"], sort_keys=True))
    expected = [json.dumps(body, sort_keys=True) for _, body in examples.EXAMPLES.values()]
    assert sorted(shown) == sorted(expected)

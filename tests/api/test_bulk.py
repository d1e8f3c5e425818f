"""Bulk create: one link per keyword through the service layer, all or nothing."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link, LinkVersion, PublishOutbox
from link_tracking_publisher.services.bulk import BulkCreateError, bulk_create_links

from .conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def body(account_a: Any, domain_a: Any, campaign_a: Any) -> dict[str, Any]:
    return {
        "account": account_a.pk,
        "domain": str(domain_a.pk),
        "campaign": str(campaign_a.pk),
        "destination_url": "https://law.example.com/",
        "keywords": ["HELP", "LAW", "INJURY"],
        "utm_overrides": {"utm_content": "${keyword}"},
    }


def _nothing_written() -> bool:
    return (Link.objects.count(), LinkVersion.objects.count(), PublishOutbox.objects.count()) == (
        0,
        0,
        0,
    )


def test_one_link_per_keyword_each_versioned_and_outboxed(
    staff_client: APIClient, body: dict[str, Any], enqueued: mock.MagicMock
) -> None:
    response = staff_client.post(f"{API}/links/bulk/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["count"] == 3
    assert [link["keyword"] for link in data["results"]] == ["HELP", "LAW", "INJURY"]
    assert len({link["slug"] for link in data["results"]}) == 3
    for item in data["results"]:
        link = Link.objects.get(pk=item["id"])
        assert link.versions.count() == 1 and link.publish_outbox.count() == 1
        assert (link.campaign_identifier, link.utm_overrides) == (
            "SPRING26",
            {"utm_content": "${keyword}"},
        )
    assert enqueued.call_count == 3


@pytest.mark.parametrize(
    ("keywords", "errors"),
    [
        (["HELP", "", "LAW"], {"1"}),
        (["HELP", "LAW", "HELP"], {"2"}),
        (["HELP", "K" * 65], {"1"}),
        (["OK", "  ", "OK"], {"1", "2"}),
    ],
)
def test_per_item_errors_and_nothing_written(
    staff_client: APIClient, body: dict[str, Any], keywords: list[str], errors: set[str]
) -> None:
    response = staff_client.post(
        f"{API}/links/bulk/", {**body, "keywords": keywords}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["keywords"]) == errors
    assert _nothing_written()


def test_a_shared_field_error_is_reported_once(
    staff_client: APIClient, body: dict[str, Any]
) -> None:
    response = staff_client.post(
        f"{API}/links/bulk/", {**body, "destination_url": "javascript:x"}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["destination_url"]
    response = staff_client.post(
        f"{API}/links/bulk/", {**body, "signature_required": True}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["signature_secret_ref"]
    assert _nothing_written()


def test_the_batch_size_is_limited(
    staff_client: APIClient, body: dict[str, Any], settings: Any
) -> None:
    settings.LINK_TRACKING = {"BULK_CREATE_MAX_LINKS": 2}
    response = staff_client.post(f"{API}/links/bulk/", body, format="json")
    assert response.status_code == 400 and "keywords" in response.json()
    for keywords in ([], "HELP", [1, 2]):
        response = staff_client.post(f"{API}/links/bulk/", {**body, "keywords": keywords}, "json")
        assert response.status_code == 400 and "keywords" in response.json(), keywords
    assert _nothing_written()


def test_a_failure_late_in_the_batch_rolls_back_the_links_made_before_it(
    account_a: Any, domain_a: Any
) -> None:
    # The service itself: keyword 2 fails inside create_link (after 0 and 1 were written).
    from link_tracking_publisher.services import bulk

    real = bulk.create_link
    calls: list[str] = []

    def flaky(**kwargs: Any) -> Link:
        calls.append(kwargs["keyword"])
        if kwargs["keyword"] == "THIRD":
            from django.core.exceptions import ValidationError

            raise ValidationError({"keyword": "refused by a test"})
        return real(**kwargs)

    with mock.patch.object(bulk, "create_link", flaky), pytest.raises(BulkCreateError) as info:
        bulk_create_links(
            keywords=["FIRST", "SECOND", "THIRD", "FOURTH"],
            account=account_a,
            domain=domain_a,
            destination_url="https://shop.example.com/",
        )
    assert calls == ["FIRST", "SECOND", "THIRD", "FOURTH"]  # every keyword is checked
    assert info.value.item_errors == {2: ["refused by a test"]}
    assert _nothing_written()

"""A domain's orphan clicks (clicks on no link of it) through the API: the top missing slugs
and the counts by day, account-scoped, bounded."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import OrphanClicks
from link_tracking_publisher.services import api_keys as api_key_service

from .conftest import API

pytestmark = pytest.mark.django_db


def _day(days_ago: int) -> datetime:
    return datetime.fromtimestamp((time.time() // 86400 - days_ago) * 86400, UTC)


@pytest.fixture
def orphans(domain_a: Any, domain_b: Any) -> None:
    for domain, days_ago, slug, human, bot in (
        (domain_a, 0, "SPRNG", 5, 1),
        (domain_a, 1, "SPRNG", 3, 0),
        (domain_a, 1, "SUMMER", 4, 9),
        (domain_a, 0, "", 0, 40),  # paths that cannot be a slug
        (domain_a, 40, "OLD", 99, 0),  # outside the default 30 days
        (domain_b, 0, "THEIRS", 7, 0),
    ):
        OrphanClicks.objects.create(
            domain=domain,
            day=_day(days_ago),
            slug=slug,
            human_clicks=human,
            bot_clicks=bot,
            last_click_at=_day(days_ago),
        )


def test_the_top_missing_slugs_and_the_days(
    alice_client: APIClient, domain_a: Any, orphans: None
) -> None:
    response = alice_client.get(f"{API}/domains/{domain_a.pk}/orphan-clicks/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(r["slug"], r["human_clicks"], r["bot_clicks"]) for r in body["top_slugs"]] == [
        ("SPRNG", 8, 1),
        ("SUMMER", 4, 9),
        ("", 0, 40),
    ]
    assert [(r["human_clicks"], r["bot_clicks"]) for r in body["by_day"]] == [(7, 9), (5, 41)]
    wider = alice_client.get(
        f"{API}/domains/{domain_a.pk}/orphan-clicks/", {"days": 60, "limit": 1}
    ).json()
    assert [r["slug"] for r in wider["top_slugs"]] == ["OLD"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 367}, "days"),
        ({"limit": 101}, "limit"),
        ({"days": "x"}, "days"),
    ],
)
def test_bad_ranges_are_field_errors(
    alice_client: APIClient, domain_a: Any, params: dict[str, Any], field: str
) -> None:
    response = alice_client.get(f"{API}/domains/{domain_a.pk}/orphan-clicks/", params)
    assert response.status_code == 400 and list(response.json()) == [field]


def test_another_accounts_domain_is_not_found(
    alice_client: APIClient, domain_b: Any, orphans: None
) -> None:
    assert alice_client.get(f"{API}/domains/{domain_b.pk}/orphan-clicks/").status_code == 404


def test_an_api_key_needs_stats_read(account_a: Any, domain_a: Any, orphans: None) -> None:
    url = f"{API}/domains/{domain_a.pk}/orphan-clicks/"
    answers = []
    for scopes in (["stats:read"], ["links:read"]):
        _, raw = api_key_service.create_api_key(account=account_a, name="n", scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        answers.append(client.get(url))
    assert answers[0].status_code == 200
    assert answers[1].status_code == 403 and "'stats:read'" in answers[1].json()["detail"]

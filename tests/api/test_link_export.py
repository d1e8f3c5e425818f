"""CSV export of links: the list's filters, short URLs and all-time click counts, streamed."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.services.link_csv import EXPORT_COLUMNS
from tests.clicks.rollups import add_clicks
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

HOUR = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)


def _rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == EXPORT_COLUMNS
    return list(reader)


@pytest.fixture
def links(account_a: Any, domain_a: Any, campaign_a: Any, domain_b: Any) -> dict[str, Any]:
    sms = LinkFactory(
        account=account_a,
        domain=domain_a,
        campaign=campaign_a,
        slug="Spring",
        keyword="HELP",
        channel="sms",
        max_clicks=10,
    )
    email = LinkFactory(account=account_a, domain=domain_a, keyword="MAIL", channel="email")
    other = LinkFactory(account=domain_b.account, domain=domain_b, keyword="HELP")
    for hour, (human, bot) in enumerate([(3, 1), (4, 0)]):
        # Under two dimensions: counted once.
        add_clicks(sms, HOUR + datetime.timedelta(hours=hour), human=human, bot=bot, country="DE")
    return {"sms": sms, "email": email, "other": other}


def test_every_link_of_the_account_with_short_url_and_clicks(
    alice_client: APIClient, links: dict[str, Any]
) -> None:
    rows = _rows(alice_client.get(f"{API}/links/export/"))
    by_url = {row["short_url"]: row for row in rows}
    assert set(by_url) == {links["sms"].get_full_url(), links["email"].get_full_url()}
    sms = by_url["https://a.example.com/Spring"]
    assert sms["domain"] == "a.example.com"
    assert sms["slug"] == "Spring"
    assert sms["keyword"] == "HELP"
    assert sms["campaign"] == "SPRING26"
    assert sms["active"] == "true"
    assert sms["max_clicks"] == "10"
    assert (sms["human_clicks"], sms["bot_clicks"]) == ("7", "1")
    email = by_url[links["email"].get_full_url()]
    assert (email["human_clicks"], email["bot_clicks"], email["campaign"]) == ("0", "0", "")


def test_filtered_searched_and_ordered_like_the_list(
    alice_client: APIClient, links: dict[str, Any]
) -> None:
    for query in ({"channel": "email"}, {"keyword": "help"}, {"search": "MAIL"}, {}):
        listed = alice_client.get(f"{API}/links/", {**query, "ordering": "keyword"}).json()
        exported = _rows(alice_client.get(f"{API}/links/export/", {**query, "ordering": "keyword"}))
        assert [row["short_url"] for row in exported] == [
            link["short_url"] for link in listed["results"]
        ]
        assert exported, query


def test_a_bad_filter_is_a_json_field_error(alice_client: APIClient, links: Any) -> None:
    response = alice_client.get(f"{API}/links/export/", {"channel": "fax"})
    assert response.status_code == 400
    assert "channel" in response.json()


def test_large_exports_are_streamed_in_order(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    for n in range(30):
        LinkFactory(account=account_a, domain=domain_a, keyword=f"K{n:02d}")
    rows = _rows(alice_client.get(f"{API}/links/export/", {"ordering": "keyword"}))
    assert [row["keyword"] for row in rows] == [f"K{n:02d}" for n in range(30)]

"""Click statistics, per-message clicks: exact figures, filters, CSV, account scoping."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from tests.clicks.conftest import T0, click, write_ndjson
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db
HOUR = 3600.0


@pytest.fixture
def links(account_a: Any, domain_a: Any, campaign_a: Any, account_b: Any, domain_b: Any) -> Any:
    one = LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a, keyword="ONE")
    two = LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a, keyword="TWO")
    other = LinkFactory(account=account_b, domain=domain_b, keyword="B")
    return one, two, other


@pytest.fixture
def clicked(links: Any, tmp_path: Path) -> Any:
    one, two, other = links
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120"
    events = [
        click(
            one,
            at=T0 + 60,
            ip_hash="v1",
            sms_msg_id="m1",
            geo_country="US",
            user_agent=iphone,
            ab_variant="a",
        ),
        click(
            one,
            at=T0 + 120,
            ip_hash="v1",
            sms_msg_id="m1",
            geo_country="US",
            user_agent=iphone,
            ab_variant="a",
        ),
        click(
            one,
            at=T0 + 30,
            ip_hash="bot",
            sms_msg_id="m1",
            is_bot=True,
            user_agent="Slackbot-LinkExpanding",
            bot_reason="user_agent",
        ),
        click(
            one,
            at=T0 + HOUR + 5,
            ip_hash="v2",
            sms_msg_id="m2",
            geo_country="DE",
            user_agent=desktop,
            ab_variant="b",
        ),
        click(one, at=T0 + 26 * HOUR, ip_hash="v3", outcome="expired", geo_country="DE"),
        click(two, at=T0 + 2 * HOUR, ip_hash="v1", sms_msg_id="m3"),
        click(other, at=T0 + 60, ip_hash="x", sms_msg_id="m1"),
    ]
    report = ingest_objects(
        local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 100 * HOUR
    )
    assert report.counted == len(events)
    return links


def test_link_stats_are_exact(staff_client: Any, clicked: Any) -> None:
    one = clicked[0]
    body = staff_client.get(f"{API}/links/{one.pk}/stats/", {"interval": "day"}).json()
    assert (body["clicks"], body["human_clicks"], body["bot_clicks"]) == (5, 4, 1)
    assert body["unique_visitors"] == 3 and body["unique_visitors_exact"] is True
    assert body["first_click_at"] == "2026-11-02T10:00:30Z"
    assert body["last_click_at"] == "2026-11-03T12:00:00Z"
    assert [(p["start"], p["human_clicks"], p["bot_clicks"]) for p in body["series"]] == [
        ("2026-11-02T00:00:00Z", 3, 1),
        ("2026-11-03T00:00:00Z", 1, 0),
    ]
    breakdowns = body["breakdowns"]
    assert breakdowns["country"] == [
        {"value": "DE", "clicks": 2, "human_clicks": 2, "bot_clicks": 0},
        {"value": "US", "clicks": 2, "human_clicks": 2, "bot_clicks": 0},
        {"value": "", "clicks": 1, "human_clicks": 0, "bot_clicks": 1},
    ]
    assert {r["value"]: r["clicks"] for r in breakdowns["device"]} == {
        "mobile": 3,
        "desktop": 1,
        "other": 1,
    }
    assert {r["value"]: r["clicks"] for r in breakdowns["variant"]} == {"a": 2, "b": 1, "": 2}
    assert {r["value"]: r["clicks"] for r in breakdowns["outcome"]} == {"ok": 4, "expired": 1}
    assert {r["value"]: r["clicks"] for r in breakdowns["channel"]} == {"sms": 5}
    assert breakdowns["bot_reason"] == [
        {"value": "user_agent", "clicks": 1, "human_clicks": 0, "bot_clicks": 1}
    ]


def test_from_to_select_whole_hours_and_hourly_series_is_zero_filled(
    staff_client: Any, clicked: Any
) -> None:
    one = clicked[0]
    body = staff_client.get(
        f"{API}/links/{one.pk}/stats/",
        {"from": "2026-11-02T10:30:00Z", "to": "2026-11-02T13:00:00Z", "interval": "hour"},
    ).json()
    assert (body["human_clicks"], body["bot_clicks"], body["unique_visitors"]) == (3, 1, 2)
    assert [(p["start"][11:16], p["clicks"]) for p in body["series"]] == [
        ("10:00", 3),
        ("11:00", 1),
        ("12:00", 0),
    ]


def test_campaign_stats_sum_its_links(staff_client: Any, clicked: Any, campaign_a: Any) -> None:
    body = staff_client.get(f"{API}/campaigns/{campaign_a.pk}/stats/").json()
    assert (body["clicks"], body["human_clicks"]) == (6, 5)
    assert body["unique_visitors"] == 3  # v1 clicked both links: one visitor


def test_csv_export(staff_client: Any, clicked: Any) -> None:
    response = staff_client.get(f"{API}/links/{clicked[0].pk}/stats/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "key", "clicks", "human_clicks", "bot_clicks"]
    assert rows[1][0] == "total" and rows[1][2:] == ["5", "4", "1"]
    assert ["country", "DE", "2", "2", "0"] in rows
    assert ["series_day", "2026-11-03T00:00:00Z", "1", "1", "0"] in rows


def test_bot_clicks_by_reason_in_the_api_and_the_csv(
    staff_client: Any, links: Any, campaign_a: Any, tmp_path: Path
) -> None:
    one, two, _ = links
    events = [
        click(one, at=T0 + 60, is_bot=True, bot_reason="head"),
        click(one, at=T0 + 61, is_bot=True, bot_reason="head"),
        click(one, at=T0 + 62, is_bot=True, bot_reason="prefetch_header"),
        click(two, at=T0 + 63, is_bot=True),  # an event from before bot_reason: unknown
        click(two, at=T0 + 64),  # a person: no reason row
    ]
    report = ingest_objects(
        local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 100 * HOUR
    )
    assert report.counted == len(events)
    body = staff_client.get(f"{API}/campaigns/{campaign_a.pk}/stats/").json()
    assert (body["human_clicks"], body["bot_clicks"]) == (1, 4)
    assert body["breakdowns"]["bot_reason"] == [
        {"value": "head", "clicks": 2, "human_clicks": 0, "bot_clicks": 2},
        {"value": "prefetch_header", "clicks": 1, "human_clicks": 0, "bot_clicks": 1},
        {"value": "unknown", "clicks": 1, "human_clicks": 0, "bot_clicks": 1},
    ]
    response = staff_client.get(f"{API}/links/{one.pk}/stats/", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row for row in rows if row[0] == "bot_reason"] == [
        ["bot_reason", "head", "2", "0", "2"],
        ["bot_reason", "prefetch_header", "1", "0", "1"],
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "to"),
        ({"interval": "minute"}, "interval"),
        ({"from": "2020-01-01T00:00:00Z", "interval": "hour"}, "interval"),
    ],
)
def test_bad_query_is_a_field_level_400(
    staff_client: Any, clicked: Any, params: dict[str, str], field: str
) -> None:
    response = staff_client.get(f"{API}/links/{clicked[0].pk}/stats/", params)
    assert response.status_code == 400 and field in response.json()


def test_stats_are_account_scoped(alice_client: Any, bob_client: Any, clicked: Any) -> None:
    one, _, other = clicked
    assert alice_client.get(f"{API}/links/{one.pk}/stats/").status_code == 200
    assert bob_client.get(f"{API}/links/{one.pk}/stats/").status_code == 404
    assert alice_client.get(f"{API}/links/{other.pk}/stats/").status_code == 404
    assert alice_client.get(f"{API}/links/not-a-uuid/stats/").status_code == 404


def test_no_clicks(staff_client: Any, links: Any) -> None:
    body = staff_client.get(f"{API}/links/{links[0].pk}/stats/").json()
    assert body["clicks"] == 0 and body["series"] == [] and body["first_click_at"] is None


def test_message_clicks(alice_client: Any, clicked: Any, campaign_a: Any) -> None:
    one, two, _ = clicked
    body = alice_client.get(f"{API}/message-clicks/", {"sms_msg_id": "m1"}).json()
    assert len(body["results"]) == 1  # account B's m1 is not alice's
    row = body["results"][0]
    assert row == {
        "sms_msg_id": "m1",
        "link": str(one.pk),
        "campaign": str(campaign_a.pk),
        "human_clicks": 2,
        "bot_clicks": 1,
        "first_human_click_at": "2026-11-02T10:01:00Z",
        "last_click_at": "2026-11-02T10:02:00Z",
    }
    by_link = alice_client.get(f"{API}/message-clicks/", {"link": str(two.pk)}).json()
    assert [r["sms_msg_id"] for r in by_link["results"]] == ["m3"]
    by_campaign = alice_client.get(f"{API}/message-clicks/", {"campaign": str(campaign_a.pk)})
    # By link, then message id (the order of the message_click_unique index).
    assert sorted(r["sms_msg_id"] for r in by_campaign.json()["results"]) == ["m1", "m2", "m3"]
    assert alice_client.get(f"{API}/message-clicks/", {"link": "x"}).status_code == 400


def test_breakdowns_count_the_whole_days_a_range_touches(staff_client: Any, clicked: Any) -> None:
    one = clicked[0]
    body = staff_client.get(
        f"{API}/links/{one.pk}/stats/",
        {"from": "2026-11-02T11:00:00Z", "to": "2026-11-02T12:00:00Z", "interval": "hour"},
    ).json()
    assert body["clicks"] == 1  # the 11:00 hour
    assert (body["breakdowns_from"], body["breakdowns_to"]) == (
        "2026-11-02T00:00:00Z",
        "2026-11-03T00:00:00Z",
    )
    assert {r["value"]: r["clicks"] for r in body["breakdowns"]["outcome"]} == {"ok": 4}


def test_a_day_series_joins_whole_days_and_partial_ones(staff_client: Any, clicked: Any) -> None:
    one = clicked[0]
    body = staff_client.get(
        f"{API}/links/{one.pk}/stats/",
        {"from": "2026-11-02T10:30:00Z", "to": "2026-11-03T13:00:00Z", "interval": "day"},
    ).json()
    assert [(p["start"][:10], p["human_clicks"], p["bot_clicks"]) for p in body["series"]] == [
        ("2026-11-02", 3, 1),
        ("2026-11-03", 1, 0),
    ]
    body = staff_client.get(
        f"{API}/links/{one.pk}/stats/",
        {"from": "2026-11-01T00:00:00Z", "to": "2026-11-04T00:00:00Z", "interval": "day"},
    ).json()
    assert [p["clicks"] for p in body["series"]] == [0, 4, 1]


def test_a_180_day_hourly_series_is_served(staff_client: Any, clicked: Any) -> None:
    response = staff_client.get(
        f"{API}/campaigns/{clicked[0].campaign_id}/stats/",
        {"from": "2026-06-01T00:00:00Z", "to": "2026-11-28T00:00:00Z", "interval": "hour"},
    )
    assert response.status_code == 200
    series = response.json()["series"]
    assert len(series) == 180 * 24 and sum(p["clicks"] for p in series) == 6


_STATISTICS_TABLES = ("hourclicks", "daybreakdown", "clicktotals", "clickvisitor", '_link"')


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, "to"),
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "to"),
        ({"from": "0001-01-01T00:00:00Z"}, "from"),
        ({"to": "0001-01-01T00:00:00Z"}, "to"),
        (
            {"from": "2024-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "interval": "hour"},
            "interval",
        ),
        ({"from": "1990-01-01T00:00:00Z", "interval": "day"}, "interval"),
    ],
)
def test_a_refused_range_never_reaches_the_database(
    staff_client: Any,
    clicked: Any,
    params: dict[str, str],
    field: str,
    django_assert_num_queries: Any,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from link_tracking_publisher.api.click_serializers import StatsQuerySerializer

    with django_assert_num_queries(0):
        query = StatsQuerySerializer(data=params)
        assert not query.is_valid() and list(query.errors) == [field]
    for path in (f"links/{clicked[0].pk}", f"campaigns/{clicked[0].campaign_id}"):
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(f"{API}/{path}/stats/", params)
        assert response.status_code == 400 and list(response.json()) == [field]
        touched = [q["sql"] for q in queries if any(t in q["sql"] for t in _STATISTICS_TABLES)]
        assert not touched

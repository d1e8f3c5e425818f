"""Tags: per account, on links (by name or id), the links filter, and the tag statistics."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.models import Link, PublishOutbox, Tag
from link_tracking_publisher.services import api_keys as api_key_service
from link_tracking_publisher.services.tags import MAX_TAGS_PER_LINK
from tests.clicks.conftest import T0, click, write_ndjson
from tests.clicks.rollups import add_clicks
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db
HOUR = 3600.0


@pytest.fixture
def vip_a(account_a: Any) -> Tag:
    return Tag.objects.create(account=account_a, name="VIP", colour="#ff0000")


@pytest.fixture
def print_a(account_a: Any) -> Tag:
    return Tag.objects.create(account=account_a, name="print-run-3")


@pytest.fixture
def vip_b(account_b: Any) -> Tag:
    return Tag.objects.create(account=account_b, name="vip")


def _link_body(account: Any, domain: Any, **fields: Any) -> dict[str, Any]:
    return {
        "account": account.pk,
        "domain": str(domain.pk),
        "destination_url": "https://shop.example.com/spring",
        **fields,
    }


# --- the tags resource -------------------------------------------------------------------


def test_a_tag_is_created_listed_renamed_and_deleted(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    response = alice_client.post(
        f"{API}/tags/", {"account": account_a.pk, "name": "Agency North"}, format="json"
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["name"], created["colour"], created["link_count"]) == ("Agency North", "", 0)
    link = LinkFactory(account=account_a, domain=domain_a, tags=[created["id"]])
    listed = alice_client.get(f"{API}/tags/").json()["results"]
    assert [(t["name"], t["link_count"]) for t in listed] == [("Agency North", 1)]
    response = alice_client.patch(
        f"{API}/tags/{created['id']}/", {"name": "Agency N.", "colour": "#00aa00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["colour"]) == ("Agency N.", "#00aa00")
    # The link keeps its tag under the new name.
    assert alice_client.get(f"{API}/links/{link.pk}/").json()["tags"] == ["Agency N."]
    assert alice_client.delete(f"{API}/tags/{created['id']}/").status_code == 204
    assert not Tag.objects.exists()
    assert alice_client.get(f"{API}/links/{link.pk}/").json()["tags"] == []
    assert Link.objects.filter(pk=link.pk).exists()


def test_a_name_is_unique_per_account_whatever_its_case(
    alice_client: APIClient, staff_client: APIClient, account_a: Any, account_b: Any, vip_a: Tag
) -> None:
    response = alice_client.post(
        f"{API}/tags/", {"account": account_a.pk, "name": "vip"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["This account already has a tag with this name."]}
    other = Tag.objects.create(account=account_a, name="other")
    response = alice_client.patch(f"{API}/tags/{other.pk}/", {"name": "Vip"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["name"]
    # Another account may have its own "vip".
    response = staff_client.post(
        f"{API}/tags/", {"account": account_b.pk, "name": "vip"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "a|b"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({"name": "ok", "colour": "#12345"}, "colour"),
        ({"name": "ok\x00"}, "name"),
    ],
)
def test_bad_input_is_a_field_level_400(
    alice_client: APIClient, account_a: Any, body: dict[str, Any], field: str
) -> None:
    response = alice_client.post(f"{API}/tags/", {"account": account_a.pk, **body}, format="json")
    assert response.status_code == 400 and list(response.json()) == [field], response.json()
    assert not Tag.objects.exists()


def test_another_accounts_tag_is_not_found(
    alice_client: APIClient, bob_client: APIClient, account_a: Any, vip_a: Tag, vip_b: Tag
) -> None:
    assert [t["id"] for t in bob_client.get(f"{API}/tags/").json()["results"]] == [str(vip_b.pk)]
    assert bob_client.get(f"{API}/tags/{vip_a.pk}/").status_code == 404
    assert bob_client.patch(f"{API}/tags/{vip_a.pk}/", {"name": "x"}, "json").status_code == 404
    assert bob_client.delete(f"{API}/tags/{vip_a.pk}/").status_code == 404
    assert bob_client.get(f"{API}/tags/{vip_a.pk}/stats/").status_code == 404
    assert bob_client.get(f"{API}/tags/not-a-uuid/stats/").status_code == 404
    vip_a.refresh_from_db()
    assert vip_a.name == "VIP"
    # Nor can bob make one in alice's account, or move his own there.
    response = bob_client.post(f"{API}/tags/", {"account": account_a.pk, "name": "x"}, "json")
    assert response.status_code == 400 and list(response.json()) == ["account"]
    response = bob_client.patch(f"{API}/tags/{vip_b.pk}/", {"account": account_a.pk}, "json")
    assert response.status_code == 400 and list(response.json()) == ["account"]


def test_the_tag_list_filters_by_name_in_any_case(
    alice_client: APIClient, vip_a: Tag, print_a: Tag
) -> None:
    body = alice_client.get(f"{API}/tags/", {"name": "vip"}).json()
    assert [t["id"] for t in body["results"]] == [str(vip_a.pk)]
    body = alice_client.get(f"{API}/tags/", {"search": "print"}).json()
    assert [t["id"] for t in body["results"]] == [str(print_a.pk)]


# --- tags on links -------------------------------------------------------------------------


def test_a_link_is_created_with_tags_by_name_in_any_case_or_id(
    alice_client: APIClient, account_a: Any, domain_a: Any, vip_a: Tag, print_a: Tag
) -> None:
    response = alice_client.post(
        f"{API}/links/",
        _link_body(account_a, domain_a, tags=["vip", str(print_a.pk), "VIP"]),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["tags"] == ["print-run-3", "VIP"]
    link = Link.objects.get(pk=response.json()["id"])
    assert set(link.tags.all()) == {vip_a, print_a}


@pytest.mark.parametrize("ref", ["nope", "vip_b_id", "vip_b_name"])
def test_a_tag_that_is_not_the_accounts_is_a_400_naming_it(
    alice_client: APIClient,
    account_a: Any,
    domain_a: Any,
    vip_a: Tag,
    vip_b: Tag,
    account_b: Any,
    ref: str,
) -> None:
    Tag.objects.create(account=account_b, name="only-in-b")
    name = {"nope": "nope", "vip_b_id": str(vip_b.pk), "vip_b_name": "only-in-b"}[ref]
    response = alice_client.post(
        f"{API}/links/", _link_body(account_a, domain_a, tags=["VIP", name]), format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"tags": [f"No tag {name!r} in this account."]}
    assert not Link.objects.exists()  # the link is not made without its tags


def test_changing_a_links_tags_replaces_them_and_publishes_nothing(
    alice_client: APIClient, account_a: Any, domain_a: Any, vip_a: Tag, print_a: Tag
) -> None:
    link = LinkFactory(account=account_a, domain=domain_a, tags=[vip_a])
    outbox = PublishOutbox.objects.filter(link=link).count()
    response = alice_client.patch(f"{API}/links/{link.pk}/", {"tags": ["print-run-3"]}, "json")
    assert response.status_code == 200, response.json()
    assert response.json()["tags"] == ["print-run-3"]
    assert response.json()["runtime_version"] == 1  # tags are not in the runtime record
    assert PublishOutbox.objects.filter(link=link).count() == outbox
    assert link.versions.count() == 1
    # With another change, that change is versioned and the tags are set too.
    response = alice_client.patch(
        f"{API}/links/{link.pk}/", {"tags": [], "keyword": "NEW"}, format="json"
    )
    assert (response.json()["tags"], response.json()["runtime_version"]) == ([], 2)
    # An update naming no tags leaves them.
    link.tags.set([vip_a])
    alice_client.patch(f"{API}/links/{link.pk}/", {"keyword": "NEWER"}, format="json")
    assert list(link.tags.all()) == [vip_a]


def test_a_bad_tag_in_an_update_changes_nothing(
    alice_client: APIClient, account_a: Any, domain_a: Any, vip_a: Tag, vip_b: Tag
) -> None:
    link = LinkFactory(account=account_a, domain=domain_a, tags=[vip_a])
    response = alice_client.patch(
        f"{API}/links/{link.pk}/", {"tags": [str(vip_b.pk)], "keyword": "X"}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["tags"]
    link.refresh_from_db()
    assert (link.keyword, list(link.tags.all()), link.runtime_version) == ("", [vip_a], 1)


@pytest.mark.parametrize(
    "tags", [["x" * 65], "vip", [5], ["t"] * (MAX_TAGS_PER_LINK + 1)], ids=repr
)
def test_bad_tags_in_a_link_payload_are_a_field_level_400(
    alice_client: APIClient, account_a: Any, domain_a: Any, vip_a: Tag, tags: Any
) -> None:
    response = alice_client.post(
        f"{API}/links/", _link_body(account_a, domain_a, tags=tags), format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["tags"], response.json()


def test_bulk_links_share_their_tags(
    alice_client: APIClient, account_a: Any, domain_a: Any, vip_a: Tag
) -> None:
    body = _link_body(account_a, domain_a, keywords=["ONE", "TWO"], tags=["vip"])
    response = alice_client.post(f"{API}/links/bulk/", body, format="json")
    assert response.status_code == 201, response.json()
    assert [link["tags"] for link in response.json()["results"]] == [["VIP"], ["VIP"]]
    response = alice_client.post(
        f"{API}/links/bulk/", {**body, "keywords": ["THREE"], "tags": ["nope"]}, format="json"
    )
    assert response.status_code == 400 and "tags" in response.json()
    assert Link.objects.count() == 2


def test_links_filter_by_tag_name_in_any_case_or_id(
    staff_client: APIClient,
    alice_client: APIClient,
    account_a: Any,
    domain_a: Any,
    account_b: Any,
    domain_b: Any,
    vip_a: Tag,
    print_a: Tag,
    vip_b: Tag,
) -> None:
    both = LinkFactory(account=account_a, domain=domain_a, tags=[vip_a, print_a])
    vip = LinkFactory(account=account_a, domain=domain_a, tags=[vip_a])
    LinkFactory(account=account_a, domain=domain_a)
    theirs = LinkFactory(account=account_b, domain=domain_b, tags=[vip_b])

    def ids(client: APIClient, tag: str) -> set[str]:
        response = client.get(f"{API}/links/", {"tag": tag})
        assert response.status_code == 200, response.json()
        return {link["id"] for link in response.json()["results"]}

    assert (
        ids(alice_client, "vip")
        == ids(alice_client, str(vip_a.pk))
        == {
            str(both.pk),
            str(vip.pk),
        }
    )
    assert ids(alice_client, "PRINT-RUN-3") == {str(both.pk)}
    assert ids(alice_client, str(vip_b.pk)) == set()  # another account's tag matches nothing
    assert ids(alice_client, "nope") == set()
    # A user of both accounts finds each account's "vip".
    assert ids(staff_client, "vip") == {str(both.pk), str(vip.pk), str(theirs.pk)}
    # And the export takes the same filter.
    response = alice_client.get(f"{API}/links/export/", {"tag": "print-run-3"})
    text = b"".join(response.streaming_content).decode()
    assert text.count("\n") == 2 and "print-run-3|VIP" in text


# --- statistics ---------------------------------------------------------------------------


@pytest.fixture
def tagged(
    account_a: Any, domain_a: Any, campaign_a: Any, account_b: Any, domain_b: Any, vip_a: Tag
) -> Any:
    """A tag on two links of different campaigns (one with none), beside an untagged link
    of the same campaign and a link of another account."""
    one = LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a, tags=[vip_a])
    loose = LinkFactory(account=account_a, domain=domain_a, tags=[vip_a])
    untagged = LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a)
    other = LinkFactory(account=account_b, domain=domain_b)
    return one, loose, untagged, other


def test_tag_stats_sum_its_links_ingested_clicks(
    alice_client: APIClient, tagged: Any, vip_a: Tag, tmp_path: Path
) -> None:
    one, loose, untagged, other = tagged
    events = [
        click(one, at=T0 + 60, ip_hash="v1", geo_country="US"),
        click(one, at=T0 + 120, ip_hash="v1", geo_country="US"),
        click(one, at=T0 + 30, ip_hash="bot", is_bot=True, user_agent="Slackbot-LinkExpanding"),
        click(loose, at=T0 + HOUR + 5, ip_hash="v1", geo_country="DE"),  # v1 again
        click(loose, at=T0 + 26 * HOUR, ip_hash="v2", outcome="expired"),
        click(untagged, at=T0 + 60, ip_hash="v3"),
        click(other, at=T0 + 60, ip_hash="v4"),
    ]
    report = ingest_objects(
        local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 100 * HOUR
    )
    assert report.counted == len(events)
    body = alice_client.get(f"{API}/tags/{vip_a.pk}/stats/").json()
    assert (body["clicks"], body["human_clicks"], body["bot_clicks"]) == (5, 4, 1)
    assert body["unique_visitors"] == 2  # v1 clicked both tagged links: one visitor
    assert body["first_click_at"] == "2026-11-02T10:00:30Z"
    assert body["last_click_at"] == "2026-11-03T12:00:00Z"
    assert [(p["start"], p["human_clicks"], p["bot_clicks"]) for p in body["series"]] == [
        ("2026-11-02T00:00:00Z", 3, 1),
        ("2026-11-03T00:00:00Z", 1, 0),
    ]
    assert {r["value"]: r["clicks"] for r in body["breakdowns"]["country"]} == {
        "US": 2,
        "DE": 1,
        "": 2,
    }
    assert {r["value"]: r["clicks"] for r in body["breakdowns"]["outcome"]} == {
        "ok": 4,
        "expired": 1,
    }
    # Hourly over a range: the two links' rows of one hour are one point.
    body = alice_client.get(
        f"{API}/tags/{vip_a.pk}/stats/",
        {"from": "2026-11-02T10:00:00Z", "to": "2026-11-02T13:00:00Z", "interval": "hour"},
    ).json()
    assert [(p["start"][11:16], p["clicks"]) for p in body["series"]] == [
        ("10:00", 3),
        ("11:00", 1),
        ("12:00", 0),
    ]
    assert (body["clicks"], body["unique_visitors"]) == (4, 1)


def test_tag_stats_over_a_range_from_roll_up_rows(
    alice_client: APIClient, tagged: Any, vip_a: Tag
) -> None:
    one, loose, untagged, _ = tagged
    day = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    add_clicks(one, day + datetime.timedelta(hours=9), human=10, bot=2, country="FR")
    add_clicks(loose, day + datetime.timedelta(hours=9), human=5, country="FR")
    add_clicks(loose, day + datetime.timedelta(days=1, hours=3), human=7, bot=1, country="BE")
    add_clicks(loose, day + datetime.timedelta(days=3), human=100)  # after the range
    add_clicks(untagged, day + datetime.timedelta(hours=9), human=1000)
    body = alice_client.get(
        f"{API}/tags/{vip_a.pk}/stats/",
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "interval": "day"},
    ).json()
    assert (body["clicks"], body["human_clicks"], body["bot_clicks"]) == (25, 22, 3)
    assert [(p["start"][:10], p["human_clicks"], p["bot_clicks"]) for p in body["series"]] == [
        ("2026-03-01", 15, 2),
        ("2026-03-02", 7, 1),
    ]
    assert body["breakdowns"]["country"] == [
        {"value": "FR", "clicks": 17, "human_clicks": 15, "bot_clicks": 2},
        {"value": "BE", "clicks": 8, "human_clicks": 7, "bot_clicks": 1},
    ]
    # All time: the sum of the tagged links' totals.
    body = alice_client.get(f"{API}/tags/{vip_a.pk}/stats/").json()
    assert (body["clicks"], body["human_clicks"]) == (125, 122)
    # A link that loses the tag leaves its figures.
    loose.tags.clear()
    body = alice_client.get(f"{API}/tags/{vip_a.pk}/stats/").json()
    assert (body["clicks"], body["human_clicks"]) == (12, 10)


def test_a_tag_without_clicks(alice_client: APIClient, vip_a: Tag) -> None:
    body = alice_client.get(f"{API}/tags/{vip_a.pk}/stats/").json()
    assert (body["clicks"], body["series"], body["first_click_at"]) == (0, [], None)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "to"),
        ({"interval": "minute"}, "interval"),
        (
            {"from": "2024-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "interval": "hour"},
            "interval",
        ),
    ],
)
def test_tag_stats_take_the_ranges_campaign_stats_take(
    alice_client: APIClient, tagged: Any, vip_a: Tag, params: dict[str, str], field: str
) -> None:
    response = alice_client.get(f"{API}/tags/{vip_a.pk}/stats/", params)
    assert response.status_code == 400 and list(response.json()) == [field]


def test_tag_stats_as_csv(alice_client: APIClient, tagged: Any, vip_a: Tag) -> None:
    add_clicks(tagged[0], datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC), human=3, bot=1)
    response = alice_client.get(f"{API}/tags/{vip_a.pk}/stats/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[1].endswith(",4,3,1")


# --- API keys ------------------------------------------------------------------------------


def _key_client(account: Any, *scopes: str) -> APIClient:
    _, raw = api_key_service.create_api_key(account=account, name="crm", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_api_key_scopes(account_a: Any, vip_a: Tag, vip_b: Tag) -> None:
    reader = _key_client(account_a, "links:read")
    assert [t["id"] for t in reader.get(f"{API}/tags/").json()["results"]] == [str(vip_a.pk)]
    assert reader.get(f"{API}/tags/{vip_b.pk}/").status_code == 404
    response = reader.post(f"{API}/tags/", {"account": account_a.pk, "name": "x"}, "json")
    assert response.status_code == 403 and "'links:write'" in response.json()["detail"]
    response = reader.get(f"{API}/tags/{vip_a.pk}/stats/")
    assert response.status_code == 403 and "'stats:read'" in response.json()["detail"]
    writer = _key_client(account_a, "links:write")
    response = writer.post(f"{API}/tags/", {"account": account_a.pk, "name": "x"}, "json")
    assert response.status_code == 201
    stats = _key_client(account_a, "stats:read")
    assert stats.get(f"{API}/tags/{vip_a.pk}/stats/").status_code == 200

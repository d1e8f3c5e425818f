"""``message-clicks`` and ``webhook-deliveries`` read with a cursor, and a campaign's message
clicks exported as one CSV or NDJSON stream."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from link_tracking_publisher.api.pagination import MAX_CURSOR_LENGTH
from link_tracking_publisher.clicks import messages as message_export
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery, MessageClick
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db
AT = timezone.now().replace(microsecond=0)


@pytest.fixture
def links(account_a: Any, domain_a: Any, campaign_a: Any) -> list[Any]:
    return [
        LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a, keyword=f"K{i}")
        for i in range(3)
    ]


def add_messages(links: list[Any], ids: list[str], *, ties: bool = False) -> None:
    """A row per link and id; with ``ties`` every row has the same counts and times."""
    MessageClick.objects.bulk_create(
        MessageClick(
            link=link,
            sms_msg_id=msg,
            human_clicks=1 if ties else n % 5,
            last_click_at=AT if ties else AT - timedelta(seconds=n % 7),
        )
        for n, (link, msg) in enumerate((link, msg) for link in links for msg in ids)
    )


def cursor_of(url: str | None) -> str | None:
    return parse_qs(urlsplit(url).query)["cursor"][0] if url else None


def walk(client: Any, path: str, params: dict[str, Any], *, between: Any = None) -> list[Any]:
    """Every result of every page, following ``next``; ``between(page)`` after each page."""
    seen: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert "count" not in body
        seen.extend(body["results"])
        if between is not None:
            between(body["results"])
        cursor = cursor_of(body["next"])
        if cursor is None:
            return seen


def key(row: dict[str, Any]) -> tuple[str, str]:
    return row["link"], row["sms_msg_id"]


def test_a_walk_sees_every_row_once_in_index_order(alice_client: Any, links: list[Any]) -> None:
    add_messages(links, [f"m{i:03}" for i in range(40)])
    seen = walk(alice_client, f"{API}/message-clicks/", {"page_size": 7})
    assert len(seen) == 120 == len(set(map(key, seen)))
    assert [key(r) for r in seen] == sorted(
        (str(link), msg) for link, msg in MessageClick.objects.values_list("link_id", "sms_msg_id")
    )


def test_a_walk_under_concurrent_inserts_sees_each_row_once(
    alice_client: Any, links: list[Any]
) -> None:
    """Rows added while a client walks (before and after its position) never shift a page:
    every row there at the start is seen exactly once, and nothing twice."""
    add_messages(links, [f"m{i:03}" for i in range(0, 120, 2)])
    before = {
        (str(link), msg) for link, msg in MessageClick.objects.values_list("link_id", "sms_msg_id")
    }
    rng = random.Random(5)
    odd = [f"m{i:03}" for i in range(1, 120, 2)]
    rng.shuffle(odd)

    def insert(_page: list[Any]) -> None:
        for _ in range(3):
            if odd:
                add_messages([rng.choice(links)], [odd.pop()])

    seen = walk(alice_client, f"{API}/message-clicks/", {"page_size": 9}, between=insert)
    keys = [key(r) for r in seen]
    assert len(keys) == len(set(keys))  # nothing twice
    assert before <= set(keys)  # everything that was there from the start
    assert keys == sorted(keys)


@pytest.mark.parametrize("ordering", ["human_clicks", "-human_clicks", "-last_click_at"])
def test_ties_are_broken_by_the_primary_key(
    alice_client: Any, links: list[Any], ordering: str
) -> None:
    add_messages(links, [f"m{i:03}" for i in range(30)], ties=True)
    seen = walk(alice_client, f"{API}/message-clicks/", {"page_size": 4, "ordering": ordering})
    assert len(seen) == 90 == len(set(map(key, seen)))
    expected = MessageClick.objects.order_by(ordering, ("-" if "-" in ordering else "") + "pk")
    assert [key(r) for r in seen] == [(str(m.link_id), m.sms_msg_id) for m in expected]


def test_previous_goes_back_over_the_same_pages(alice_client: Any, links: list[Any]) -> None:
    add_messages(links, [f"m{i:03}" for i in range(10)])
    pages: list[list[Any]] = []
    body = alice_client.get(f"{API}/message-clicks/", {"page_size": 7}).json()
    assert body["previous"] is None
    while True:
        pages.append([key(r) for r in body["results"]])
        if body["next"] is None:
            break
        body = alice_client.get(body["next"]).json()
    back = [[key(r) for r in body["results"]]]
    while body["previous"] is not None:
        body = alice_client.get(body["previous"]).json()
        back.append([key(r) for r in body["results"]])
    assert back[::-1] == pages and len(pages) == 5


def test_back_from_an_empty_page_shows_the_last_row_again(
    alice_client: Any, links: list[Any]
) -> None:
    """The rows after a page were deleted: its next page is empty, and going back from there
    ends with the row the cursor was at."""
    add_messages(links[:1], [f"m{i:02}" for i in range(20)])
    first = alice_client.get(f"{API}/message-clicks/", {"page_size": 7}).json()
    MessageClick.objects.filter(sms_msg_id__gt="m06").delete()
    empty = alice_client.get(first["next"]).json()
    assert empty["results"] == [] and empty["next"] is None
    back = alice_client.get(empty["previous"]).json()
    assert back["results"] == first["results"]


def test_filters_and_account_scope_still_apply(
    alice_client: Any, bob_client: Any, links: list[Any], account_b: Any, domain_b: Any
) -> None:
    add_messages(links, ["m1", "m2"])
    add_messages([LinkFactory(account=account_b, domain=domain_b, keyword="B")], ["m1"])
    assert len(walk(alice_client, f"{API}/message-clicks/", {"sms_msg_id": "m1"})) == 3
    assert len(walk(bob_client, f"{API}/message-clicks/", {})) == 1
    assert len(walk(alice_client, f"{API}/message-clicks/", {"link": str(links[0].pk)})) == 2


def _first_next(client: Any, **params: Any) -> str:
    body = client.get(f"{API}/message-clicks/", {"page_size": 2, **params}).json()
    cursor = cursor_of(body["next"])
    assert cursor
    return cursor


def _forged(payload: Any) -> str:
    """A cursor signed as the API signs them, around a payload it never gives."""
    return signing.dumps(payload, salt="link_tracking.api.cursor", compress=True)


def test_a_tampered_or_stale_cursor_is_a_field_level_400(
    alice_client: Any, links: list[Any]
) -> None:
    add_messages(links, ["m1", "m2", "m3"])
    good = _first_next(alice_client)
    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    stale = _first_next(alice_client, ordering="-last_click_at")
    order = ["link_id", "sms_msg_id"]
    for cursor in [
        flipped,
        "garbage",
        "",
        "x" * (MAX_CURSOR_LENGTH + 1),
        stale,
        _forged({"o": order, "p": ["not-a-uuid", "m1"], "r": False, "i": False}),
        _forged({"o": order, "p": [str(links[0].pk)], "r": False, "i": False}),
        _forged({"o": order, "p": "m1", "r": False, "i": False}),
        _forged({"o": order, "p": [str(links[0].pk), "m1"], "r": False}),
        _forged(["not", "a", "dict"]),
    ]:
        response = alice_client.get(f"{API}/message-clicks/", {"cursor": cursor})
        assert response.status_code == 400, cursor
        assert list(response.json()) == ["cursor"], response.json()
    assert (
        "another ordering"
        in alice_client.get(f"{API}/message-clicks/", {"cursor": stale}).json()["cursor"][0]
    )
    assert alice_client.get(f"{API}/message-clicks/", {"cursor": good}).status_code == 200


@pytest.mark.parametrize("size", ["0", "-1", "x", "1.5", "501", "99999999999999999999"])
def test_page_size_out_of_bounds_is_a_400(alice_client: Any, links: list[Any], size: str) -> None:
    response = alice_client.get(f"{API}/message-clicks/", {"page_size": size})
    assert response.status_code == 400 and list(response.json()) == ["page_size"]


def test_page_size_bounds_are_served(alice_client: Any, links: list[Any]) -> None:
    add_messages(links, [f"m{i}" for i in range(200)])
    for size, expected in [("1", 1), ("500", 500), (None, 50)]:
        params = {"page_size": size} if size else {}
        assert len(alice_client.get(f"{API}/message-clicks/", params).json()["results"]) == expected


def test_page_numbers_are_refused_naming_the_change(alice_client: Any, links: list[Any]) -> None:
    response = alice_client.get(f"{API}/message-clicks/", {"page": "2"})
    assert response.status_code == 400
    assert "cursor" in response.json()["page"][0]
    assert alice_client.get(f"{API}/webhook-deliveries/", {"page": "1"}).status_code == 400


def test_mixed_directions_are_refused(alice_client: Any, links: list[Any]) -> None:
    response = alice_client.get(f"{API}/message-clicks/", {"ordering": "link_id,-sms_msg_id"})
    assert response.status_code == 400 and list(response.json()) == ["ordering"]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan text")
def test_a_later_page_is_one_range_scan_of_the_unique_index(
    staff_client: Any, links: list[Any]
) -> None:
    """No OFFSET, no COUNT and no sort: the page seeks into the index of message_click_unique
    where the cursor is (with the statistics SQLite has of a table this size)."""
    add_messages(links, [f"m{i:04}" for i in range(2000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    second = _first_next(staff_client)
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(f"{API}/message-clicks/", {"cursor": second}).status_code == 200
    [page] = [
        q["sql"] for q in queries.captured_queries if "link_tracking_messageclick" in q["sql"]
    ]
    assert "OFFSET" not in page and "COUNT(" not in page
    plan = _plan(page)
    # SQLite names a unique constraint's index itself (sqlite_autoindex_…).
    assert "messageclick USING INDEX sqlite_autoindex" in plan, plan
    assert "(link_id,sms_msg_id)>(?,?)" in plan and "TEMP B-TREE" not in plan, plan


def test_webhook_deliveries_walk_with_a_cursor(alice_client: Any, account_a: Any) -> None:
    hook = ClickWebhook.objects.create(account=account_a, url="https://a.example.com/", secret="s")
    ClickWebhookDelivery.objects.bulk_create(
        ClickWebhookDelivery(webhook=hook, event_id=f"e{i}", payload={}, next_attempt_at=AT)
        for i in range(25)
    )
    ClickWebhookDelivery.objects.update(created_at=AT)  # every one a tie
    seen = walk(alice_client, f"{API}/webhook-deliveries/", {"page_size": 4})
    expected = list(ClickWebhookDelivery.objects.order_by("-created_at", "-pk").values_list("pk"))
    assert [(r["id"],) for r in seen] == expected


# --- the export ----------------------------------------------------------------------------


def export(client: Any, campaign: Any, **params: Any) -> Any:
    return client.get(f"{API}/campaigns/{campaign.pk}/message-clicks/export/", params)


def body_of(response: Any) -> tuple[list[bytes], bytes]:
    assert response.streaming
    chunks = list(response.streaming_content)
    return chunks, b"".join(chunks)


def test_export_streams_every_row_of_a_big_campaign(
    alice_client: Any, links: list[Any], campaign_a: Any, account_a: Any, domain_a: Any
) -> None:
    add_messages(links, [f"m{i:04}" for i in range(1500)])  # 4,500 rows
    add_messages([LinkFactory(account=account_a, domain=domain_a, keyword="NOCAMPAIGN")], ["m1"])
    in_db = MessageClick.objects.filter(link__campaign=campaign_a).count()
    assert in_db == 4500

    response = export(alice_client, campaign_a)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    chunks, data = body_of(response)
    assert len(chunks) >= 3  # written as it is read, CHUNK_ROWS rows at a time
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == list(message_export.COLUMNS)
    assert len(rows) - 1 == in_db
    assert {(r[1], r[0]) for r in rows[1:]} == {
        (str(link), msg)
        for link, msg in MessageClick.objects.filter(link__campaign=campaign_a).values_list(
            "link_id", "sms_msg_id"
        )
    }

    response = export(alice_client, campaign_a, format="ndjson")
    assert response["Content-Type"] == "application/x-ndjson"
    _, data = body_of(response)
    lines = data.decode().splitlines()
    assert len(lines) == in_db
    assert all(json.loads(line)["campaign"] == str(campaign_a.pk) for line in lines)


def test_ndjson_lines_are_the_lists_results(
    alice_client: Any, links: list[Any], campaign_a: Any
) -> None:
    add_messages(links, ["m1", "m2"])
    MessageClick.objects.filter(sms_msg_id="m1").update(first_human_click_at=AT)
    listed = walk(alice_client, f"{API}/message-clicks/", {"campaign": str(campaign_a.pk)})
    _, data = body_of(export(alice_client, campaign_a, format="ndjson"))
    assert [json.loads(line) for line in data.decode().splitlines()] == listed


def test_csv_export_keeps_formulas_as_text(
    alice_client: Any, links: list[Any], campaign_a: Any
) -> None:
    add_messages(links[:1], ["=HYPERLINK(1)"])
    _, data = body_of(export(alice_client, campaign_a))
    assert list(csv.reader(io.StringIO(data.decode())))[1][0] == "'=HYPERLINK(1)"


def test_export_is_account_scoped_and_checks_its_input(
    alice_client: Any, bob_client: Any, links: list[Any], campaign_a: Any, client: Any
) -> None:
    add_messages(links, ["m1"])
    assert export(bob_client, campaign_a).status_code == 404
    assert alice_client.get(f"{API}/campaigns/not-a-uuid/message-clicks/export/").status_code == 404
    response = export(alice_client, campaign_a, format="xlsx")
    assert response.status_code == 400 and list(response.json()) == ["format"]
    assert export(client, campaign_a).status_code in (401, 403)
    url = f"{API}/campaigns/{campaign_a.pk}/message-clicks/export/"
    assert alice_client.post(url).status_code == 405


def _chunks_pulled(rows: Iterator[Any], pulled: list[int]) -> Iterator[Any]:
    for row in rows:
        pulled[0] += 1
        yield row


def test_export_reads_rows_as_it_writes_them(links: list[Any], campaign_a: Any) -> None:
    """The first chunk is written after CHUNK_ROWS rows were read, not all of them."""
    add_messages(links, [f"m{i:04}" for i in range(1500)])
    pulled = [0]
    stream = message_export.stream(
        _chunks_pulled(message_export.campaign_rows(campaign_a.pk), pulled), "ndjson"
    )
    next(stream)
    assert pulled[0] == message_export.CHUNK_ROWS

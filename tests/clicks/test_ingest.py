"""Ingestion: counted once each, in bulk, checkpointed; bad input counted and skipped."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis.strategies as st
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings

from link_tracking_publisher.clicks import dedupe
from link_tracking_publisher.clicks import ingest as ingest_module
from link_tracking_publisher.clicks.ingest import _COUNT_FIELDS, ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.models import (
    CampaignClickTotals,
    CampaignDayBreakdown,
    CampaignHourClicks,
    ClickEventKey,
    ClickIngestCheckpoint,
    ClickVisitor,
    LinkClickTotals,
    LinkDayBreakdown,
    LinkHourClicks,
    MessageClick,
    OrphanClicks,
)
from link_tracking_runtime.events import ClickEvent

from .conftest import T0, click, write_ndjson

pytestmark = pytest.mark.django_db
ROLLUP_TABLES = (
    LinkHourClicks,
    CampaignHourClicks,
    LinkClickTotals,
    CampaignClickTotals,
    LinkDayBreakdown,
    CampaignDayBreakdown,
)


def ingest(path: Path, **kwargs: Any) -> Any:
    return ingest_objects(local_objects(path), now=T0 + 86400, **kwargs)


def totals(link: Any) -> dict[bool, int]:
    """The link's clicks, human and bot, from its hour rows; the other tables say the same."""
    hours = LinkHourClicks.objects.filter(link=link)
    out = {False: sum(r.human_clicks for r in hours), True: sum(r.bot_clicks for r in hours)}
    total = LinkClickTotals.objects.filter(link=link).first()
    all_time = (total.human_clicks, total.bot_clicks) if total else (0, 0)
    assert all_time == (out[False], out[True])
    campaign_rows = (
        CampaignHourClicks.objects.filter(campaign=link.campaign),
        CampaignDayBreakdown.objects.filter(campaign=link.campaign, dimension="outcome"),
    )
    for rows in campaign_rows:
        assert sum(r.human_clicks for r in rows) == out[False]
        assert sum(r.bot_clicks for r in rows) == out[True]
    return out


def test_counts_humans_bots_messages_and_visitors(tmp_path: Path, link: Any) -> None:
    events = [
        click(link, at=T0 + 10, sms_msg_id="m1", ip_hash="alice"),
        click(link, at=T0 + 20, sms_msg_id="m1", ip_hash="alice"),
        click(link, at=T0 + 5, sms_msg_id="m1", is_bot=True, ip_hash="scanner"),
        click(link, at=T0 + 3700, sms_msg_id="m2", ip_hash="bob", geo_country="de"),
    ]
    report = ingest(write_ndjson(tmp_path / "e.ndjson", events))
    assert report.counted == 4 and report.duplicates == 0 and not report.skipped
    assert totals(link) == {False: 3, True: 1}
    m1 = MessageClick.objects.get(sms_msg_id="m1")
    assert (m1.human_clicks, m1.bot_clicks) == (2, 1)
    assert m1.first_human_click_at == datetime.fromtimestamp(T0 + 10, UTC)
    assert m1.last_click_at == datetime.fromtimestamp(T0 + 20, UTC)
    assert ClickVisitor.objects.filter(link=link).count() == 2  # alice (hour 0), bob (hour 1)
    hours = LinkHourClicks.objects.filter(link=link).order_by("hour")
    assert [(h.hour, h.human_clicks, h.bot_clicks) for h in hours] == [
        (datetime.fromtimestamp(T0, UTC), 2, 1),
        (datetime.fromtimestamp(T0 + 3600, UTC), 1, 0),
    ]
    assert hours[0].first_click_at == datetime.fromtimestamp(T0 + 5, UTC)
    assert hours[0].last_click_at == datetime.fromtimestamp(T0 + 20, UTC)
    de = LinkDayBreakdown.objects.get(link=link, dimension="country", value="DE")
    assert de.day == datetime.fromtimestamp(T0 - 10 * 3600, UTC) and de.human_clicks == 1
    for dimension in ("outcome", "channel", "country", "device", "variant"):
        rows = LinkDayBreakdown.objects.filter(dimension=dimension)
        assert sum(r.human_clicks + r.bot_clicks for r in rows) == 4
    total = LinkClickTotals.objects.get(link=link)
    assert (total.first_click_at, total.last_click_at) == (
        datetime.fromtimestamp(T0 + 5, UTC),
        datetime.fromtimestamp(T0 + 3700, UTC),
    )
    assert CampaignClickTotals.objects.get(campaign=link.campaign).human_clicks == 3


def test_bot_clicks_are_broken_down_by_reason(tmp_path: Path, link: Any) -> None:
    def bot(reason: str | None) -> ClickEvent:
        return click(link, is_bot=True, bot_reason=reason)

    events = [
        bot("user_agent"),
        bot("user_agent"),
        bot("head"),
        bot("prefetch_header"),
        bot("teleport"),  # a reason this version does not know
        click(link),  # people get no row
        click(link, bot_reason="head"),  # a person's event naming a reason: still a person
    ]
    # An event written before the click event said why: no bot_reason key at all.
    before = {k: v for k, v in bot(None).as_dict().items() if k != "bot_reason"}
    path = write_ndjson(tmp_path / "e.ndjson", events, extra=json.dumps(before).encode() + b"\n")
    report = ingest(path)
    assert report.counted == 8 and not report.skipped
    assert totals(link) == {False: 2, True: 6}
    day = datetime.fromtimestamp(T0 - 10 * 3600, UTC)
    for table, owner in (
        (LinkDayBreakdown, {"link": link}),
        (CampaignDayBreakdown, {"campaign": link.campaign}),
    ):
        rows = table.objects.filter(dimension="bot_reason", day=day, **owner)
        assert {r.value: (r.human_clicks, r.bot_clicks) for r in rows} == {
            "user_agent": (0, 2),
            "head": (0, 1),
            "prefetch_header": (0, 1),
            "unknown": (0, 2),
        }


def test_an_overlong_bot_reason_is_rejected_like_any_text_field(tmp_path: Path, link: Any) -> None:
    path = write_ndjson(
        tmp_path / "e.ndjson", [click(link), click(link, is_bot=True, bot_reason="x" * 65)]
    )
    report = ingest(path)
    assert report.counted == 1 and dict(report.skipped) == {"oversized_field": 1}
    assert not LinkDayBreakdown.objects.filter(dimension="bot_reason").exists()


def test_running_twice_changes_nothing_and_batch_duplicates_count_once(
    tmp_path: Path, link: Any
) -> None:
    event = click(link, sms_msg_id="m1")
    path = write_ndjson(tmp_path / "e.ndjson", [event, event, click(link)])
    first = ingest(path, batch_size=2)
    assert (first.counted, first.duplicates) == (2, 1)
    ClickIngestCheckpoint.objects.all().delete()  # forget how far we read: only keys remain
    second = ingest(path)
    assert (second.counted, second.duplicates) == (0, 3)
    assert totals(link) == {False: 2, True: 0}
    assert MessageClick.objects.get().human_clicks == 1


def test_second_run_reads_only_what_was_appended(tmp_path: Path, link: Any) -> None:
    path = write_ndjson(tmp_path / "e.ndjson", [click(link)])
    assert ingest(path).counted == 1
    write_ndjson(path, [click(link), click(link)])
    report = ingest(path)
    assert (report.read, report.counted) == (2, 2)


def test_a_line_still_being_written_waits_for_its_end(tmp_path: Path, link: Any) -> None:
    done, partial = click(link), click(link)
    line = json.dumps(partial.as_dict()).encode()
    path = write_ndjson(tmp_path / "e.ndjson", [done], extra=line[:40])
    assert ingest(path).counted == 1
    with path.open("ab") as out:
        out.write(line[40:] + b"\n")
    assert ingest(path).counted == 1
    assert totals(link)[False] == 2


def test_a_crash_mid_batch_rolls_back_and_the_rerun_counts_once(tmp_path: Path, link: Any) -> None:
    path = write_ndjson(tmp_path / "e.ndjson", [click(link, sms_msg_id=str(i)) for i in range(5)])
    real = ingest_module._roll_up
    calls = []

    def crash_on_second(*args: Any) -> None:
        calls.append(1)
        real(*args)
        if len(calls) == 2:
            raise RuntimeError("worker killed")

    with mock.patch.object(ingest_module, "_roll_up", crash_on_second):
        with pytest.raises(RuntimeError):
            ingest(path, batch_size=2)
    assert totals(link)[False] == 2  # the first batch committed, the second rolled back
    assert ClickEventKey.objects.count() == 2
    report = ingest(path, batch_size=2)
    assert (report.counted, report.duplicates) == (3, 0)  # resumed at the checkpoint
    assert totals(link)[False] == 5 and MessageClick.objects.count() == 5


def test_bulk_statements_not_a_row_per_event(tmp_path: Path, link: Any) -> None:
    path = write_ndjson(
        tmp_path / "e.ndjson",
        [click(link, at=T0 + i, sms_msg_id=str(i % 50)) for i in range(400)],
    )
    with CaptureQueriesContext(connection) as queries:
        assert ingest(path).counted == 400
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    # One per table: checkpoint, keys, link and campaign hours, link and campaign totals,
    # link and campaign day breakdowns, visitors, messages.
    assert len(inserts) <= 10, [q["sql"][:80] for q in inserts]


def test_bad_input_is_counted_logged_once_and_skipped(
    tmp_path: Path, link: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = click(link)
    unknown = click(link, link_id="5f0c6b5e-0000-4000-8000-000000000000")
    not_uuid = click(link, link_id="nope")
    future = click(link, at=T0 + 86400 + 3600)
    oversized = click(link, sms_msg_id="x" * 500)
    lines = [
        b"{not json\n",
        b"[1,2]\n",
        json.dumps({**good.as_dict(), "event_id": "e2", "is_bot": "yes"}).encode() + b"\n",
        json.dumps({**good.as_dict(), "event_id": "e3", "timestamp": "soon"}).encode() + b"\n",
        json.dumps({k: v for k, v in dataclasses.asdict(good).items() if k != "event_id"}).encode()
        + b"\n",
    ]
    path = write_ndjson(tmp_path / "e.ndjson", [good, unknown, not_uuid, future, oversized])
    with path.open("ab") as out:
        out.writelines(lines)
        out.write(b"{" + b"a" * 70_000 + b"}\n")
    with caplog.at_level(logging.WARNING):
        report = ingest(path)
    assert report.counted == 1
    assert dict(report.skipped) == {
        "malformed": 5,
        "unknown_link": 2,
        "future": 1,
        "oversized_field": 2,
    }
    warnings = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(warnings) == 4  # once per reason


def test_deleted_link_events_are_skipped(tmp_path: Path, make_link: Any) -> None:
    doomed = make_link(keyword="GONE")
    event = click(doomed)
    doomed.versions.all().delete()
    doomed.publish_outbox.all().delete()
    doomed.delete()
    report = ingest(write_ndjson(tmp_path / "e.ndjson", [event]))
    assert report.skipped["unknown_link"] == 1 and report.counted == 0


def test_a_folder_and_a_truncated_file(tmp_path: Path, link: Any) -> None:
    write_ndjson(tmp_path / "a" / "1.ndjson", [click(link)])
    write_ndjson(tmp_path / "a" / "2.ndjson", [click(link)], extra=b'{"event_id":"cut')
    objects = local_objects(tmp_path / "a")
    objects = [dataclasses.replace(o, growing=False) for o in objects]  # as S3 objects are
    report = ingest_objects(objects, now=T0 + 86400)
    assert report.counted == 2 and report.skipped["truncated_object"] == 1
    assert ClickIngestCheckpoint.objects.filter(completed=True).count() == 2


def test_command(tmp_path: Path, link: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # The command ingests at the real current time, as an operator runs it, so the events are
    # a minute old on any day the suite runs (a fixed day ages past the dedupe horizon).
    minute_ago = time.time() - 60
    events = [click(link, at=minute_ago), click(link, at=minute_ago, is_bot=True)]
    path = write_ndjson(tmp_path / "e.ndjson", events)
    call_command("ingest_click_events", "--source", str(path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["counted"] == 2 and out["read"] == 2
    call_command("ingest_click_events", "--source", str(path))
    assert "Ingested 0 new clicks" in capsys.readouterr().out


@pytest.mark.parametrize("source", ["/nonexistent/click-events", "s3://"])
def test_command_unreadable_source(source: str) -> None:
    with pytest.raises(CommandError):
        call_command("ingest_click_events", "--source", source)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(fields=st.dictionaries(st.sampled_from(list(ClickEvent.__dataclass_fields__)), _JSON))
def test_any_record_is_counted_or_skipped_never_an_error(fields: dict[str, Any]) -> None:
    from link_tracking_publisher.clicks.ingest import IngestReport, _Context, ingest_chunk

    report = IngestReport()
    base = {"event_id": "e", "timestamp": T0, "is_bot": False, "outcome": "ok"}
    ingest_chunk([json.dumps({**base, **fields}).encode()], _Context(report, T0 + 60))
    assert report.counted + report.duplicates + sum(report.skipped.values()) == 1


def test_dedupe_keys_are_64_bit_and_stamped_with_the_event_day(tmp_path: Path, link: Any) -> None:
    events = [click(link, at=T0 + 10), click(link, at=T0 - 86400)]
    ingest(write_ndjson(tmp_path / "e.ndjson", events))
    keys = {row.key: row.day for row in ClickEventKey.objects.all()}
    assert keys == {
        dedupe.event_key(events[0].event_id): int(T0 // 86400),
        dedupe.event_key(events[1].event_id): int(T0 // 86400) - 1,
    }
    assert all(-(2**63) <= key < 2**63 for key in keys)


def test_events_older_than_the_horizon_are_too_old(
    tmp_path: Path, link: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_DEDUPE_HORIZON_DAYS": 2}
    now = T0 + 86400  # ingest() ingests at this time
    inside = click(link, at=now - 2 * 86400 + 1)
    outside = click(link, at=now - 2 * 86400 - 1)
    report = ingest(write_ndjson(tmp_path / "e.ndjson", [inside, outside]))
    assert report.counted == 1 and dict(report.skipped) == {"too_old": 1}
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_DEDUPE_HORIZON_DAYS": None}
    report = ingest(write_ndjson(tmp_path / "f.ndjson", [inside, outside]))
    assert (report.counted, report.duplicates) == (1, 1)  # no horizon: nothing too old


def test_pruning_keeps_every_key_an_accepted_event_can_need(
    tmp_path: Path, link: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_DEDUPE_HORIZON_DAYS": 1}
    day = 86400
    start = (T0 // day) * day  # midnight UTC
    events = [click(link, at=start - day + 3600), click(link, at=start + 60)]
    path = write_ndjson(tmp_path / "e.ndjson", events)
    ingest_objects(local_objects(path), now=start + 120)
    assert ClickEventKey.objects.count() == 2
    # A day after the first event's day ended, no event of that day is accepted any more,
    # so its key goes; the second event's day is still within the horizon.
    assert dedupe.prune_event_keys(now=start + day - 1) == 0
    assert dedupe.prune_event_keys(now=start + day) == 1
    assert list(ClickEventKey.objects.values_list("day", flat=True)) == [int(start // day)]
    # Redelivered after the prune: the first is too old, the second a duplicate, none counted.
    again = write_ndjson(tmp_path / "again.ndjson", events)
    report = ingest_objects(local_objects(again), now=start + day)
    assert report.counted == 0 and report.duplicates == 1
    assert dict(report.skipped) == {"too_old": 1}
    assert totals(link)[False] == 2


def test_no_pruning_without_a_horizon(tmp_path: Path, link: Any, settings: Any) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_DEDUPE_HORIZON_DAYS": None}
    ingest(write_ndjson(tmp_path / "e.ndjson", [click(link, at=T0)]))
    assert dedupe.prune_event_keys(now=T0 + 1000 * 86400) == 0
    assert ClickEventKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_the_event_ids_already_held() -> None:
    import time

    from django.db.migrations.executor import MigrationExecutor

    before = [("link_tracking", "0003_click_statistics")]
    after = [("link_tracking", "0004_click_ingest_keys")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("link_tracking", "ClickEventKey")
    old.objects.bulk_create([old(event_id="e1"), old(event_id="e2")])
    try:
        executor = MigrationExecutor(connection)
        started = int(time.time() // 86400)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("link_tracking", "ClickEventKey")
        keys = {row.key: row.day for row in new.objects.all()}
        assert set(keys) == {dedupe.event_key("e1"), dedupe.event_key("e2")}
        assert set(keys.values()) <= {started, int(time.time() // 86400)}  # the day it ran
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _counted_rows() -> dict[str, list[tuple[Any, ...]]]:
    counts = (*_COUNT_FIELDS,)
    return {
        "hours": sorted(LinkHourClicks.objects.values_list("link", "hour", *counts)),
        "campaign_hours": sorted(
            CampaignHourClicks.objects.values_list("campaign", "hour", *counts)
        ),
        "totals": sorted(LinkClickTotals.objects.values_list("link", *counts)),
        "campaign_totals": sorted(CampaignClickTotals.objects.values_list("campaign", *counts)),
        "days": sorted(
            LinkDayBreakdown.objects.values_list(
                "link", "day", "dimension", "value", "human_clicks", "bot_clicks"
            )
        ),
        "campaign_days": sorted(
            CampaignDayBreakdown.objects.values_list(
                "campaign", "day", "dimension", "value", "human_clicks", "bot_clicks"
            )
        ),
        "visitors": sorted(ClickVisitor.objects.values_list("link", "hour", "visitor")),
        "messages": sorted(
            MessageClick.objects.values_list(
                "link",
                "sms_msg_id",
                "human_clicks",
                "bot_clicks",
                "first_human_click_at",
                "last_click_at",
            )
        ),
        "keys": sorted(ClickEventKey.objects.values_list("key", "day")),
    }


def test_bad_records_in_a_chunk_are_counted_by_reason_and_change_no_row(
    tmp_path: Path, make_link: Any
) -> None:
    """A chunk is decoded and checked in bulk (msgspec, then a column at a time). Records that
    fail a check, wherever they sit in the chunk, are counted by reason and the rows are those
    of the good records alone, to the last column."""
    links = [make_link(keyword="A"), make_link(keyword="B")]
    events = []
    for i in range(120):
        events.append(
            click(
                links[i % 2],
                at=T0 + i * 97 + (i % 7) / 8 if i % 5 else int(T0) + i * 97,  # some integers
                is_bot=i % 4 == 0,
                sms_msg_id=[None, "", f"m{i % 9}"][i % 3],
                ip_hash=None if i % 11 == 0 else f"ip{i % 13}",
                geo_country=[None, "de", "US"][i % 3],
                ab_variant=[None, "a", "b"][i % 3],
                channel=[None, "sms", "email"][i % 3],
                outcome="expired" if i % 10 == 0 else "ok",
                user_agent=None if i % 6 == 0 else "Mozilla/5.0 (Linux; Android 14) Mobile",
            )
        )
    events += events[:15]  # redelivered
    good = ingest(write_ndjson(tmp_path / "good.ndjson", events), batch_size=50)
    good_rows = _counted_rows()
    assert good.counted == 120 and good_rows["messages"] and good_rows["visitors"]
    for model in (
        *ROLLUP_TABLES,
        ClickVisitor,
        MessageClick,
        ClickEventKey,
        ClickIngestCheckpoint,
    ):
        model.objects.all().delete()

    def line(event: Any, **fields: Any) -> bytes:
        return json.dumps({**event.as_dict(), **fields}).encode() + b"\n"

    bad = [
        line(click(links[0], at=T0 + 86400 + 3600)),  # future
        line(click(links[0], at=T0 - 86400 * 400)),  # older than the dedupe horizon
        line(click(links[0], link_id="5f0c6b5e-0000-4000-8000-000000000000")),
        line(click(links[1], sms_msg_id="x" * 500)),  # longer than its column
        line(click(links[1]), timestamp=True),
        line(click(links[1]), is_bot="no"),
        line(click(links[1]), outcome="exploded"),
        b"not json\n",
        b"[1, 2]\n",
    ]
    good_lines = [line(event) for event in events]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(
        b"".join(good_lines[:40] + bad[:3] + good_lines[40:100] + bad[3:] + good_lines[100:])
    )
    report = ingest(path, batch_size=50)
    assert _counted_rows() == good_rows
    assert report.counted == 120 and report.duplicates == 15
    assert report.skipped == {
        "future": 1,
        "too_old": 1,
        "unknown_link": 1,
        "oversized_field": 1,
        "malformed": 5,
    }


def test_datetimes_reach_the_driver_as_django_would_send_them() -> None:
    from link_tracking_publisher.clicks.ingest import IngestReport, _Context

    context = _Context(IngestReport(), T0)
    context.start_chunk()
    stamps = [T0, T0 + 0.5, T0 + 0.9999996, T0 + 1e-6, T0 + 3599.123456789, 1.0]
    values = context.db_datetimes(stamps + stamps)
    assert values == {
        ts: connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(ts, UTC))
        for ts in stamps
    }


def test_clicks_on_no_link_are_counted_as_orphan_clicks_per_domain_day_and_slug(
    tmp_path: Path, link: Any
) -> None:
    def orphan(slug: str, at: float, **fields: Any) -> ClickEvent:
        event = click(link, at=at, **fields)
        return dataclasses.replace(
            event, link_id=None, campaign_id=None, slug=slug, outcome="not_found"
        )

    events = [
        orphan("SPRNG", T0 + 10),
        orphan("SPRNG", T0 + 20, is_bot=True),
        orphan("sprng", T0 + 86400 + 5),  # the next UTC day
        orphan("WP-LOGIN.PHP", T0 + 30),  # not a slug: counted under ""
        dataclasses.replace(orphan("ELSEWHERE", T0 + 40), domain="unknown.example.net"),
        click(link, at=T0 + 50),
    ]
    events.append(events[0])  # a duplicate counts once
    now = T0 + 2 * 86400
    report = ingest_objects(local_objects(write_ndjson(tmp_path / "a.ndjson", events)), now=now)
    assert (report.counted, report.orphans) == (1, 4)
    assert report.skipped == {"unknown_link": 1}  # the unknown domain's
    assert report.duplicates == 1
    day = T0 // 86400 * 86400

    def rows() -> dict[tuple[float, str], tuple[int, int]]:
        return {
            (row.day.timestamp(), row.slug): (row.human_clicks, row.bot_clicks)
            for row in OrphanClicks.objects.filter(domain=link.domain)
        }

    assert rows() == {
        (day, "SPRNG"): (1, 1),
        (day + 86400, "SPRNG"): (1, 0),
        (day, ""): (1, 0),
    }
    # The same events again in another object (a replayed delivery): each counted once.
    again = ingest_objects(local_objects(write_ndjson(tmp_path / "b.ndjson", events)), now=now)
    assert (again.orphans, again.counted) == (0, 0)
    assert rows()[day, "SPRNG"] == (1, 1)

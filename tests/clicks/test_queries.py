"""The Athena path: the same statistics, from the raw events, by the SQL generated once,
run here on DuckDB over Parquet written with the Glue schema, agree with the database path."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from link_tracking_publisher.clicks.devices import device_of, device_sql
from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.queries import StatsQuery, run_duckdb, stats_sql
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.clicks.stats import BREAKDOWNS, click_stats
from link_tracking_publisher.models import Link
from link_tracking_runtime.events import CLICK_EVENT_PARTITION_COLUMN, CLICK_EVENT_PARTITION_FORMAT

from .conftest import T0, click, write_ndjson
from .parquet import write_parquet

pytestmark = pytest.mark.django_db
HOUR = 3600.0
AGENTS = [
    None,
    "",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)",
    "Mozilla/5.0 (Linux; Android 14; SM-X200) AppleWebKit/537.36 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120",
    "Mozilla/5.0 (X11; Linux x86_64)",
    "Slackbot-LinkExpanding 1.0",
    "curl/8.5.0",
]


@pytest.fixture
def events(make_link: Any) -> list[Any]:
    one, two = make_link(keyword="ONE"), make_link(keyword="TWO")
    made = []
    for n in range(60):
        made.append(
            click(
                one if n % 3 else two,
                at=T0 + n * 1700,
                is_bot=n % 5 == 0,
                ip_hash=f"v{n % 17}",
                geo_country=["us", "DE", None][n % 3],
                ab_variant=["a", "b", None, None][n % 4],
                outcome="ok" if n % 7 else "expired",
                user_agent=AGENTS[n % len(AGENTS)],
                sms_msg_id=f"m{n % 9}",
                # Every fourth a QR code's scan (the runtime's event says channel qr).
                **({"channel": "qr"} if n % 4 == 1 else {}),
            )
        )
    return made + made[:5]  # five delivered twice


def write_partitioned(root: Path, events: list[Any], received: float) -> None:
    """One object of ``events`` under the prefix of the hour Firehose ``received`` them."""
    prefix = datetime.fromtimestamp(received, UTC).strftime(CLICK_EVENT_PARTITION_FORMAT)
    folder = root / "click-events" / prefix
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(folder / f"part-{len(list(folder.iterdir()))}.parquet", events)


def glue_table(con: Any, root: Path) -> None:
    """The Glue table as Athena sees it: the files' columns plus the projected partition
    column, whose value is the object's prefix."""
    con.execute(
        f"CREATE VIEW click_events AS SELECT * EXCLUDE (year, month, day, hour), "
        f"printf('year=%s/month=%s/day=%s/hour=%s', year, month, day, hour) "
        f"AS {CLICK_EVENT_PARTITION_COLUMN} FROM read_parquet('{root}/click-events/**/*.parquet', "
        f"hive_partitioning = true, hive_types_autocast = false)"
    )


@pytest.fixture
def duck(tmp_path: Path, events: list[Any]) -> Any:
    for n in range(60):  # one object per event, in the hour it was received
        write_partitioned(tmp_path, events[n : n + 1], received=events[n].timestamp + 60)
    write_partitioned(tmp_path, events[60:], received=events[59].timestamp + 2 * HOUR)
    con = duckdb.connect(":memory:")
    glue_table(con, tmp_path)
    yield con
    con.close()


@pytest.mark.parametrize(
    ("since", "until", "interval"),
    [
        (None, None, "day"),
        (
            datetime.fromtimestamp(T0 + 5 * HOUR + 60, UTC),
            datetime.fromtimestamp(T0 + 20 * HOUR, UTC),
            "hour",
        ),
    ],
)
def test_athena_sql_on_duckdb_agrees_with_the_rollups(
    tmp_path: Path,
    events: list[Any],
    duck: Any,
    campaign: Any,
    since: Any,
    until: Any,
    interval: str,
) -> None:
    ingest_objects(local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 100 * HOUR)
    link_ids = list(Link.objects.values_list("pk", flat=True))
    assert set(campaign.links.values_list("pk", flat=True)) == set(link_ids)
    expected = click_stats(campaign, since=since, until=until, interval=interval)
    got = run_duckdb(
        duck, StatsQuery([str(i) for i in link_ids], since, until, interval), "click_events"
    )
    assert got.pop("unique_visitors_exact") is False and expected.pop("unique_visitors_exact")
    # approx_distinct: HyperLogLog, exact or off by one at this size.
    assert abs(got.pop("unique_visitors") - expected.pop("unique_visitors")) <= 1
    expected["series"] = [p for p in expected["series"] if p["clicks"]]
    assert got == expected
    assert expected["clicks"] == 60 or since is not None
    if since is None:
        assert (expected["scans"], expected["human_scans"]) == (15, 12)


def test_a_range_reads_only_the_hours_its_events_can_have_arrived_in(
    tmp_path: Path, link: Any
) -> None:
    since = datetime.fromtimestamp(T0 + 10 * HOUR, UTC)
    until = datetime.fromtimestamp(T0 + 12 * HOUR, UTC)
    inside = T0 + 11 * HOUR
    too_early, early, on_time, late, too_late = (click(link, at=inside) for _ in range(5))
    # Received before its own hour (a runtime clock ahead): an hour is allowed for that.
    write_partitioned(tmp_path, [too_early], received=since.timestamp() - 2 * HOUR + 60)
    write_partitioned(tmp_path, [early], received=since.timestamp() - HOUR + 60)
    write_partitioned(tmp_path, [on_time], received=inside + 60)
    # Received after `until`: 24 hours are allowed (late_arrival).
    write_partitioned(tmp_path, [late], received=until.timestamp() + 23 * HOUR)
    write_partitioned(tmp_path, [too_late], received=until.timestamp() + 25 * HOUR)
    con = duckdb.connect(":memory:")
    glue_table(con, tmp_path)
    query = StatsQuery([str(link.pk)], since, until, "hour")
    sql = stats_sql(query, "click_events")["totals"]
    assert f"{CLICK_EVENT_PARTITION_COLUMN} >= 'year=" in sql
    assert run_duckdb(con, query, "click_events")["clicks"] == 3
    assert (
        run_duckdb(
            con, dataclasses.replace(query, late_arrival=timedelta(hours=26)), "click_events"
        )["clicks"]
        == 4
    )
    # Without a range, every partition is read.
    assert run_duckdb(con, StatsQuery([str(link.pk)]), "click_events")["clicks"] == 5
    con.close()


def test_device_sql_is_device_of(duck: Any) -> None:
    for agent in AGENTS:
        (sql_device,) = duck.execute(
            f"SELECT {device_sql('ua')} FROM (SELECT ? AS ua)", [agent]
        ).fetchone()
        assert sql_device == device_of(agent), agent


def test_bad_query_input_is_refused() -> None:
    with pytest.raises(ValueError):
        stats_sql(StatsQuery(["x'; DROP TABLE t; --"]), "t")
    with pytest.raises(ValueError):
        stats_sql(StatsQuery(["5f0c6b5e-0000-4000-8000-000000000000"], interval="week"), "t")
    with pytest.raises(ValueError):
        stats_sql(StatsQuery(["5f0c6b5e-0000-4000-8000-000000000000"]), "t; DROP")


def test_click_stats_sql_command(link: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management import CommandError, call_command

    call_command("click_stats_sql", "--link", str(link.pk), "--table", "db.click_events")
    out = capsys.readouterr().out
    statements = 2 + len(BREAKDOWNS)  # totals, series, one per breakdown
    assert out.count(";\n") == statements and f"'{link.pk}'" in out and "approx_distinct" in out
    with pytest.raises(CommandError):
        call_command("click_stats_sql", "--link", "nope")
    with pytest.raises(CommandError):
        call_command("click_stats_sql", "--link", str(link.pk), "--from", "yesterday")

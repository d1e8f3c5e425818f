"""The click statistics as SQL over the raw click events (the Glue table, one row per click):
one definition, rendered as Athena (Trino) SQL. The tests run the very same text on DuckDB
over Parquet written with the Glue schema, after :func:`install_trino_functions` gives DuckDB
the two Trino functions it lacks; so the Athena path is exercised without AWS.

This is the path for volumes the rollups in the database should not hold (docs:
CLICK_STATISTICS.md, "Where each path stops"). Differences from the database path, by design:
distinct visitors are ``approx_distinct`` (HyperLogLog, standard error 2.3%), so results say
``unique_visitors_exact: false``; duplicates delivered twice by Firehose are counted once by
``event_id`` here too (``count(DISTINCT event_id)``-based measures over a deduplicated CTE).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from link_tracking_runtime.bots import BOT_REASONS
from link_tracking_runtime.events import (
    CLICK_EVENT_COLUMNS,
    CLICK_EVENT_PARTITION_COLUMN,
    CLICK_EVENT_PARTITION_FORMAT,
)
from link_tracking_runtime.scan import SCAN_CHANNEL

from .devices import device_sql
from .stats import BREAKDOWNS, INTERVALS, UNKNOWN_BOT_REASON, breakdown_days

__all__ = ["StatsQuery", "duckdb_columns", "install_trino_functions", "run_duckdb", "stats_sql"]

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
}

#: Breakdown → its SQL expression over one event (unknown is '', as in the rollups).
DIMENSION_SQL = {
    "country": "upper(coalesce(geo_country, ''))",
    "device": device_sql("user_agent"),
    "variant": "coalesce(ab_variant, '')",
    "outcome": "outcome",
    "channel": "coalesce(channel, '')",
    "bot_reason": "CASE WHEN bot_reason IN ("
    + ", ".join(f"'{reason}'" for reason in BOT_REASONS)
    + f") THEN bot_reason ELSE '{UNKNOWN_BOT_REASON}' END",
}
assert set(DIMENSION_SQL) == set(BREAKDOWNS)
#: The events a breakdown counts, where not all of them: only bots have a reason.
_DIMENSION_WHERE = {"bot_reason": " WHERE is_bot"}

_MEASURES = (
    "count(*) AS clicks, count_if(NOT is_bot) AS human_clicks, count_if(is_bot) AS bot_clicks"
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_SAFE_TABLE = re.compile(r'^[A-Za-z0-9_."]{1,200}$')


#: How long before an event's own hour Firehose may have received it (the runtime's clock
#: ahead of Firehose's) when choosing the partitions a time range reads.
EARLY_ARRIVAL = timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class StatsQuery:
    """The statistics of some links (their ids, as the events carry them), over whole UTC
    hours in ``[since, until)``, with a series by ``interval``.

    With a range, only the partitions (arrival hours) that can hold its events are read:
    from an hour before ``since`` to ``late_arrival`` after ``until``; an event Firehose
    received later than that (a runtime's spilled events replayed after a long outage) is
    outside the result. Raise ``late_arrival`` to include such stragglers at the cost of
    reading more hours."""

    link_ids: Sequence[str]
    since: datetime | None = None
    until: datetime | None = None
    interval: str = "day"
    late_arrival: timedelta = timedelta(hours=24)


def _events_cte(query: StatsQuery, table: str) -> str:
    if not _SAFE_TABLE.match(table):
        raise ValueError(f"not a table name: {table!r}")
    ids = [str(i) for i in query.link_ids]
    if not ids or not all(_SAFE_ID.match(i) for i in ids):
        raise ValueError("link ids must be UUID-like strings")
    where = [f"link_id IN ({', '.join(repr(i) for i in ids)})"]
    # The partition column's values are fixed-width, so text order is time order.
    partition = CLICK_EVENT_PARTITION_COLUMN
    if query.since is not None:
        start = query.since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        where.append(f"timestamp >= {start.timestamp():.0f}")
        first = (start - EARLY_ARRIVAL).strftime(CLICK_EVENT_PARTITION_FORMAT)
        where.append(f"{partition} >= '{first}'")
    if query.until is not None:
        # Hours that start before "until" (as the rollups select them).
        where.append(f"floor(timestamp / 3600) * 3600 < {query.until.timestamp():.6f}")
        last = (query.until.astimezone(UTC) + query.late_arrival).strftime(
            CLICK_EVENT_PARTITION_FORMAT
        )
        where.append(f"{partition} <= '{last}'")
    # One row per event_id: Firehose delivers at least once.
    return (
        "WITH events AS (SELECT * FROM ("
        "SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY timestamp) AS copy "
        f"FROM {table} WHERE {' AND '.join(where)}) WHERE copy = 1)"
    )


def stats_sql(query: StatsQuery, table: str) -> dict[str, str]:
    """Athena SQL for each part of the statistics: ``totals``, ``series``, one per breakdown."""
    if query.interval not in INTERVALS:
        raise ValueError(f"interval must be one of {sorted(INTERVALS)}")
    cte = _events_cte(query, table)
    # Breakdowns count whole UTC days, as the database path keeps them.
    since, until = breakdown_days(query.since, query.until)
    days_cte = _events_cte(dataclasses.replace(query, since=since, until=until), table)
    statements = {
        "totals": f"{cte} SELECT {_MEASURES}, "
        "approx_distinct(CASE WHEN NOT is_bot THEN ip_hash END) AS unique_visitors, "
        "min(timestamp) AS first_click, max(timestamp) AS last_click, "
        f"count_if(channel = '{SCAN_CHANNEL}') AS scans, "
        f"count_if(channel = '{SCAN_CHANNEL}' AND NOT is_bot) AS human_scans FROM events",
        "series": f"{cte} SELECT date_trunc('{query.interval}', from_unixtime(timestamp)) AS period, "
        f"{_MEASURES} FROM events GROUP BY 1 ORDER BY 1",
    }
    for name, expression in DIMENSION_SQL.items():
        statements[name] = (
            f"{days_cte} SELECT {expression} AS value, {_MEASURES} FROM events"
            f"{_DIMENSION_WHERE.get(name, '')} GROUP BY 1 ORDER BY 1"
        )
    return statements


def install_trino_functions(con: Any) -> None:
    """Give a DuckDB connection the Trino functions :func:`stats_sql` uses that it lacks."""
    con.execute("CREATE OR REPLACE MACRO approx_distinct(x) AS approx_count_distinct(x)")
    con.execute("CREATE OR REPLACE MACRO from_unixtime(x) AS to_timestamp(x) AT TIME ZONE 'UTC'")


def run_duckdb(con: Any, query: StatsQuery, table: str) -> dict[str, Any]:
    """Run :func:`stats_sql` on DuckDB; the result has :func:`.stats.click_stats`'s shape
    (the series without zero-filled periods)."""
    install_trino_functions(con)
    sql = stats_sql(query, table)
    totals = con.execute(sql["totals"]).fetchone()
    clicks, human, bot, visitors, first, last, scans, human_scans = totals

    def at(ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    def counts(row: Sequence[Any]) -> dict[str, int]:
        return {"clicks": row[1], "human_clicks": row[2], "bot_clicks": row[3]}

    breakdowns = {
        name: sorted(
            ({"value": row[0], **counts(row)} for row in con.execute(sql[name]).fetchall()),
            key=lambda item: -item["clicks"],
        )
        for name in BREAKDOWNS
    }
    return {
        "from": query.since,
        "to": query.until,
        "interval": query.interval,
        "clicks": clicks,
        "human_clicks": human or 0,
        "bot_clicks": bot or 0,
        "scans": scans or 0,
        "human_scans": human_scans or 0,
        "unique_visitors": visitors,
        "unique_visitors_exact": False,
        "first_click_at": at(first),
        "last_click_at": at(last),
        "series": [
            {"start": row[0].replace(tzinfo=UTC), **counts(row)}
            for row in con.execute(sql["series"]).fetchall()
        ],
        "breakdowns_from": breakdown_days(query.since, query.until)[0],
        "breakdowns_to": breakdown_days(query.since, query.until)[1],
        "breakdowns": breakdowns,
    }


def duckdb_columns() -> str:
    """The event columns as a DuckDB ``columns={…}`` struct literal (``read_json``)."""
    body = ", ".join(f"'{name}': '{_DUCKDB_TYPES[kind]}'" for name, kind in CLICK_EVENT_COLUMNS)
    return "{" + body + "}"

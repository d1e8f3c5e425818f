"""Click statistics read from the rollups: what the API's ``stats/`` endpoints, their CSV
export and the admin's charts show. Exact: every figure is a sum (or a COUNT DISTINCT of
visitors) over rows the ingestion wrote, never a sample.

Statistics are kept per UTC hour, so ``since``/``until`` select whole hours: every hour that
starts in ``[since rounded down to the hour, until)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDay

from link_tracking_runtime.scan import SCAN_CHANNEL

from ..models import ClickRollup, ClickVisitor

__all__ = [
    "BREAKDOWNS",
    "EARLIEST",
    "INTERVALS",
    "LATEST",
    "MAX_POINTS",
    "click_stats",
    "floor_hour",
    "scans",
]

#: The breakdowns, in the order the API lists them (each a ClickRollup dimension).
BREAKDOWNS = ("country", "device", "variant", "outcome", "channel")
#: The dimension totals and the time series are summed over: every click has one outcome.
_TOTALS_DIMENSION = "outcome"
INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: The longest time series one request returns (zero-filled points included).
MAX_POINTS = 24 * 92
#: The range a ``from`` or ``to`` may name: far inside what ``datetime`` holds, so flooring to
#: the hour or the day and stepping through a series can never overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class RangeTooLong(ValueError):
    """More points than :data:`MAX_POINTS` at this interval."""


def floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _floor(value: datetime, interval: str) -> datetime:
    value = floor_hour(value)
    return value.replace(hour=0) if interval == "day" else value


_HUMAN = Coalesce(Sum("clicks", filter=Q(is_bot=False)), 0)
_BOT = Coalesce(Sum("clicks", filter=Q(is_bot=True)), 0)


@dataclasses.dataclass
class Period:
    start: datetime
    human_clicks: int = 0
    bot_clicks: int = 0

    @property
    def clicks(self) -> int:
        return self.human_clicks + self.bot_clicks


def scans(breakdowns: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """``scans`` and ``human_scans``: the clicks whose event's channel is the contract's
    :data:`~link_tracking_runtime.scan.SCAN_CHANNEL` (a QR code's URL carries the scan marker;
    every click on a link whose own channel is ``qr`` counts too)."""
    row = next((r for r in breakdowns["channel"] if r["value"] == SCAN_CHANNEL), None)
    if row is None:
        return {"scans": 0, "human_scans": 0}
    return {"scans": row["clicks"], "human_scans": row["human_clicks"]}


def click_stats(
    link_ids: QuerySet[Any] | Iterable[Any],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    interval: str = "day",
) -> dict[str, Any]:
    """Totals, first/last click, a zero-filled time series and breakdowns for some links."""
    rollups = ClickRollup.objects.filter(link__in=link_ids)
    visitors = ClickVisitor.objects.filter(link__in=link_ids)
    if since is not None:
        rollups = rollups.filter(hour__gte=floor_hour(since))
        visitors = visitors.filter(hour__gte=floor_hour(since))
    if until is not None:
        rollups = rollups.filter(hour__lt=until)
        visitors = visitors.filter(hour__lt=until)
    cells = rollups
    rollups = rollups.filter(dimension=_TOTALS_DIMENSION)
    totals = rollups.aggregate(
        human=_HUMAN, bot=_BOT, first=Min("first_click_at"), last=Max("last_click_at")
    )
    start = since or totals["first"]
    end = (until - timedelta(microseconds=1)) if until else totals["last"]
    series: list[Period] = []
    if start is not None and end is not None and end >= start:
        step = INTERVALS[interval]
        first, last = _floor(start, interval), _floor(end, interval)
        if (last - first) // step + 1 > MAX_POINTS:
            raise RangeTooLong(
                f"{(last - first) // step + 1} {interval}s; at most {MAX_POINTS} per request."
            )
        by_start: dict[datetime, Period] = {}
        at = first
        while at <= last:
            by_start[at] = Period(at)
            series.append(by_start[at])
            at += step
        bucket = F("hour") if interval == "hour" else TruncDay("hour", tzinfo=UTC)
        for row in (
            rollups.annotate(period=bucket)
            .values("period")
            .annotate(human=_HUMAN, bot=_BOT)
            .order_by("period")
        ):
            period = by_start.get(row["period"].astimezone(UTC))
            if period is not None:
                period.human_clicks, period.bot_clicks = row["human"], row["bot"]
    breakdowns: dict[str, list[dict[str, Any]]] = {name: [] for name in BREAKDOWNS}
    for cell in (
        cells.values("dimension", "value")
        .annotate(human=_HUMAN, bot=_BOT)
        .order_by("dimension", "value")
    ):
        if cell["human"] + cell["bot"]:
            breakdowns[cell["dimension"]].append(
                {
                    "value": cell["value"],
                    "clicks": cell["human"] + cell["bot"],
                    "human_clicks": cell["human"],
                    "bot_clicks": cell["bot"],
                }
            )
    for rows in breakdowns.values():
        rows.sort(key=lambda row: -row["clicks"])
    return {
        "from": since,
        "to": until,
        "interval": interval,
        "clicks": totals["human"] + totals["bot"],
        "human_clicks": totals["human"],
        "bot_clicks": totals["bot"],
        **scans(breakdowns),
        "unique_visitors": visitors.aggregate(n=Count("visitor", distinct=True))["n"],
        "unique_visitors_exact": True,
        "first_click_at": totals["first"],
        "last_click_at": totals["last"],
        "series": [
            {
                "start": p.start,
                "clicks": p.clicks,
                "human_clicks": p.human_clicks,
                "bot_clicks": p.bot_clicks,
            }
            for p in series
        ],
        "breakdowns": breakdowns,
    }


def stats_csv_rows(stats: dict[str, Any]) -> list[list[Any]]:
    """The same statistics as CSV rows: ``section, key, clicks, human_clicks, bot_clicks``
    (sections: ``total``, ``unique_visitors``, ``series``, then one per breakdown)."""

    def iso(value: datetime | str | None) -> str:
        if value is None or isinstance(value, str):  # serialized already
            return value or ""
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    rows: list[list[Any]] = [["section", "key", "clicks", "human_clicks", "bot_clicks"]]
    rows.append(
        [
            "total",
            f"{iso(stats['first_click_at'])}/{iso(stats['last_click_at'])}",
            stats["clicks"],
            stats["human_clicks"],
            stats["bot_clicks"],
        ]
    )
    rows.append(["unique_visitors", "", stats["unique_visitors"], stats["unique_visitors"], 0])
    for point in stats["series"]:
        rows.append(
            [
                f"series_{stats['interval']}",
                iso(point["start"]),
                point["clicks"],
                point["human_clicks"],
                point["bot_clicks"],
            ]
        )
    for name, items in stats["breakdowns"].items():
        for item in items:
            rows.append(
                [name, item["value"], item["clicks"], item["human_clicks"], item["bot_clicks"]]
            )
    return rows

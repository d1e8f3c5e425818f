"""Click statistics read from the statistics tables ingestion maintains: what the API's
``stats/`` endpoints, their CSV export and the admin's charts show. Exact: every figure is a
sum (or a COUNT DISTINCT of visitors) over rows the ingestion wrote, never a sample.

A tag's figures are not kept apart: they are summed from its links' rows (hours, days,
totals) when asked, over the same ranges and limits, so they are always those of the links
tagged now.

Totals and the series are kept per link (and per campaign) and UTC hour, so
``since``/``until`` select whole hours: every hour that starts in ``[since rounded down to the
hour, until)``. Breakdowns are kept per UTC day: they count every day the range touches
(:func:`breakdown_days`), whole. The all-time totals are one row per link and campaign.
Cost: ``benchmarks/stats_bench.py``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from ..models import (
    CampaignClickTotals,
    CampaignDayBreakdown,
    CampaignHourClicks,
    ClickVisitor,
    Link,
    LinkCampaign,
    LinkClickTotals,
    LinkDayBreakdown,
    LinkHourClicks,
    Tag,
)

__all__ = [
    "BREAKDOWNS",
    "EARLIEST",
    "INTERVALS",
    "LATEST",
    "MAX_POINTS",
    "UNKNOWN_BOT_REASON",
    "Owner",
    "RangeTooLong",
    "breakdown_days",
    "check_range",
    "click_stats",
    "click_totals",
    "floor_hour",
    "unique_visitors",
]

#: The breakdowns, in the order the API lists them (each a breakdown dimension). All but
#: ``bot_reason`` count every click; ``bot_reason`` counts only bot clicks (why each is a
#: bot's: the contract's ``BOT_REASONS``, or ``unknown`` for an event that does not say).
BREAKDOWNS = ("country", "device", "variant", "outcome", "channel", "bot_reason")
#: The ``bot_reason`` of a bot click whose event says no reason (written before the click
#: event had the column) or one this version does not know.
UNKNOWN_BOT_REASON = "unknown"
#: The dimension a day's totals are read from: every click has one outcome.
_TOTALS_DIMENSION = "outcome"
INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: The longest time series one request returns (zero-filled points included), per interval:
#: a year and a day by hour, ten years by day. Checked before any query when the range is
#: given (:func:`check_range`).
MAX_POINTS = {"hour": 24 * 366, "day": 3660}
#: The range a ``from`` or ``to`` may name: far inside what ``datetime`` holds, so flooring to
#: the hour or the day and stepping through a series can never overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_HOUR, _DAY = INTERVALS["hour"], INTERVALS["day"]


class RangeTooLong(ValueError):
    """More points than :data:`MAX_POINTS` at this interval."""


def floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _floor_day(value: datetime) -> datetime:
    return floor_hour(value).replace(hour=0)


def _ceil_hour(value: datetime) -> datetime:
    floor = floor_hour(value)
    return floor if floor == value else floor + _HOUR


def _ceil_day(value: datetime) -> datetime:
    floor = _floor_day(value)
    return floor if floor == value else floor + _DAY


def _floor(value: datetime, interval: str) -> datetime:
    return _floor_day(value) if interval == "day" else floor_hour(value)


def _points(first: datetime, last: datetime, interval: str) -> int:
    return (_floor(last, interval) - _floor(first, interval)) // INTERVALS[interval] + 1


def check_range(
    since: datetime | None, until: datetime | None, interval: str, now: datetime | None = None
) -> None:
    """Refuse, before any query, a series longer than :data:`MAX_POINTS` (a range without
    an end runs to ``now``). Without a start the range is known only from the data, so
    :func:`click_stats` checks it once it has read the first click."""
    if since is None:
        return
    end = until if until is not None else (now or datetime.now(UTC))
    points = _points(since, max(since, end - timedelta(microseconds=1)), interval)
    if points > MAX_POINTS[interval]:
        raise RangeTooLong(f"{points} {interval}s; at most {MAX_POINTS[interval]} per request.")


def breakdown_days(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The days the breakdowns of ``[since, until)`` count: breakdowns are kept per UTC day,
    so every day the range touches, whole (``None``: unbounded on that side). The Athena
    path uses the same days."""
    return (
        None if since is None else _floor_day(since),
        None if until is None else _ceil_day(_ceil_hour(until)),
    )


@dataclasses.dataclass(frozen=True)
class _Tables:
    hours: QuerySet[Any]
    days: QuerySet[Any]
    totals: QuerySet[Any]
    visitors: QuerySet[Any]


#: What statistics are asked of: a link, a campaign (its links now) or a tag (its links now).
Owner = Link | LinkCampaign | Tag


def _tables(owner: Owner) -> _Tables:
    if isinstance(owner, Tag):
        links = Link.objects.filter(tags=owner).values("pk")
        return _Tables(
            LinkHourClicks.objects.filter(link__in=links),
            LinkDayBreakdown.objects.filter(link__in=links),
            LinkClickTotals.objects.filter(link__in=links),
            ClickVisitor.objects.filter(link__in=links),
        )
    if isinstance(owner, LinkCampaign):
        return _Tables(
            CampaignHourClicks.objects.filter(campaign=owner),
            CampaignDayBreakdown.objects.filter(campaign=owner),
            CampaignClickTotals.objects.filter(campaign=owner),
            ClickVisitor.objects.filter(link__in=Link.objects.filter(campaign=owner).values("pk")),
        )
    return _Tables(
        LinkHourClicks.objects.filter(link=owner),
        LinkDayBreakdown.objects.filter(link=owner),
        LinkClickTotals.objects.filter(link=owner),
        ClickVisitor.objects.filter(link=owner),
    )


def _sum(field: str) -> Coalesce:
    return Coalesce(Sum(field), 0)


_COUNTS = {
    "human": _sum("human_clicks"),
    "bot": _sum("bot_clicks"),
    "human_scans": _sum("human_scans"),
    "bot_scans": _sum("bot_scans"),
    "first": Min("first_click_at"),
    "last": Max("last_click_at"),
}
_EMPTY = {"human": 0, "bot": 0, "human_scans": 0, "bot_scans": 0, "first": None, "last": None}


def click_totals(owner: Owner) -> dict[str, Any]:
    """All-time counts of a link or a campaign, read from its totals row (a tag's: the sum
    of its links' rows): ``human``, ``bot``, ``human_scans``, ``bot_scans``, ``first``,
    ``last``."""
    if isinstance(owner, Tag):
        return dict(_tables(owner).totals.aggregate(**_COUNTS))
    row = (
        _tables(owner)
        .totals.values(
            "human_clicks",
            "bot_clicks",
            "human_scans",
            "bot_scans",
            "first_click_at",
            "last_click_at",
        )
        .first()
    )
    if row is None:
        return dict(_EMPTY)
    return dict(zip(_EMPTY, row.values(), strict=True))


def _in_range(rows: QuerySet[Any], since: datetime | None, until: datetime | None) -> QuerySet[Any]:
    if since is not None:
        rows = rows.filter(hour__gte=floor_hour(since))
    if until is not None:
        rows = rows.filter(hour__lt=until)
    return rows


def unique_visitors(
    owner: Owner, since: datetime | None = None, until: datetime | None = None
) -> int:
    """Distinct human visitors of a link, a campaign or a tag over the hours of ``[since, until)``:
    exact (a COUNT DISTINCT over the visitor rows of those hours)."""
    visitors = _in_range(_tables(owner).visitors, since, until)
    return int(visitors.aggregate(n=Count("visitor", distinct=True))["n"])


def _series(tables: _Tables, start: datetime, end: datetime, interval: str) -> list[dict[str, Any]]:
    """The zero-filled series over the hours ``[start, end)``. By hour: the hour rows. By
    day: the days wholly inside the range from the day breakdown's outcome rows (a row per
    day and outcome), the partial days at either end from their hour rows."""
    step = INTERVALS[interval]
    first, last = _floor(start, interval), _floor(end - _HOUR, interval)
    points: dict[datetime, list[int]] = {}
    at = first
    while at <= last:
        points[at] = [0, 0]
        at += step
    hours = tables.hours.filter(hour__gte=start, hour__lt=end)
    if interval == "day":
        whole_from, whole_to = _ceil_day(start), _floor_day(end)
        if whole_from < whole_to:
            hours = hours.filter(Q(hour__lt=whole_from) | Q(hour__gte=whole_to))
            for day, human, bot in (
                tables.days.filter(
                    dimension=_TOTALS_DIMENSION, day__gte=whole_from, day__lt=whole_to
                )
                .values("day")
                .annotate(human=_sum("human_clicks"), bot=_sum("bot_clicks"))
                .values_list("day", "human", "bot")
            ):
                point = points[day.astimezone(UTC)]
                point[0] += human
                point[1] += bot
    # Summed by hour: one row per hour whatever the number of links (a tag's are many).
    for hour, human, bot in (
        hours.values("hour")
        .annotate(human=_sum("human_clicks"), bot=_sum("bot_clicks"))
        .values_list("hour", "human", "bot")
    ):
        point = points[_floor(hour, interval)]
        point[0] += human
        point[1] += bot
    return [
        {"start": at, "clicks": human + bot, "human_clicks": human, "bot_clicks": bot}
        for at, (human, bot) in points.items()
    ]


def click_stats(
    owner: Owner,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    interval: str = "day",
) -> dict[str, Any]:
    """Totals, first/last click, a zero-filled time series and breakdowns of a link, a
    campaign or a tag (their links now), from the statistics tables: a number of rows that grows with
    the hours and days asked for, never with the clicks. Raises :class:`RangeTooLong`
    (before any query when ``since`` is given)."""
    check_range(since, until, interval)
    tables = _tables(owner)
    if since is None and until is None:
        totals = click_totals(owner)
    else:
        totals = _in_range(tables.hours, since, until).aggregate(**_COUNTS)
    start = floor_hour(since) if since is not None else totals["first"]
    end = _ceil_hour(until) if until is not None else totals["last"]
    series: list[dict[str, Any]] = []
    if start is not None and end is not None:
        start = floor_hour(start)
        if until is None:  # up to the hour of the last click, included
            end = floor_hour(end) + _HOUR
        if end > start:
            points = _points(start, end - _HOUR, interval)
            if points > MAX_POINTS[interval]:
                raise RangeTooLong(
                    f"{points} {interval}s; at most {MAX_POINTS[interval]} per request."
                )
            series = _series(tables, start, end, interval)
    days = tables.days
    first_day, end_day = breakdown_days(since, until)
    if first_day is not None:
        days = days.filter(day__gte=first_day)
    if end_day is not None:
        days = days.filter(day__lt=end_day)
    breakdowns: dict[str, list[dict[str, Any]]] = {name: [] for name in BREAKDOWNS}
    for cell in (
        days.values("dimension", "value")
        .annotate(human=_sum("human_clicks"), bot=_sum("bot_clicks"))
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
        "scans": totals["human_scans"] + totals["bot_scans"],
        "human_scans": totals["human_scans"],
        "unique_visitors": unique_visitors(owner, since, until),
        "unique_visitors_exact": True,
        "first_click_at": totals["first"],
        "last_click_at": totals["last"],
        "series": series,
        "breakdowns_from": first_day,
        "breakdowns_to": end_day,
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

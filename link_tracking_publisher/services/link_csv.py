"""Links as CSV: the export's columns and rows, written as a stream.

One row per link: its short URL, what it is made of (its tags in one cell, by name,
``|``-separated), and its click counts (human and bot apart, all time, from the ingested
click statistics). The columns are defined here once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce

from ..models import Link
from .tags import join_tag_names

__all__ = [
    "EXPORT_COLUMNS",
    "export_rows",
    "spreadsheet_safe",
    "stream_csv",
    "unescape_cell",
    "with_click_counts",
]

#: A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, kept as text with a leading ``'`` (OWASP's
    advice); :func:`unescape_cell` undoes it on import."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


#: The export's columns, in order.
EXPORT_COLUMNS = [
    "short_url",
    "domain",
    "slug",
    "destination_url",
    "keyword",
    "channel",
    "campaign",
    "tags",
    "fallback_url",
    "active",
    "expires_at",
    "max_clicks",
    "created_at",
    "human_clicks",
    "bot_clicks",
]


def with_click_counts(links: QuerySet[Link]) -> QuerySet[Link]:
    """``links`` with ``export_human_clicks`` and ``export_bot_clicks`` (all time, from each
    link's totals row: one join, whatever the number of clicks), and their tags (one query
    per chunk of links read)."""
    return (
        links.select_related("domain", "campaign")
        .prefetch_related("tags")
        .annotate(
            export_human_clicks=Coalesce(F("click_totals__human_clicks"), Value(0)),
            export_bot_clicks=Coalesce(F("click_totals__bot_clicks"), Value(0)),
        )
    )


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def export_rows(links: Iterable[Link]) -> Iterator[list[Any]]:
    """The header, then one row per link (``links`` from :func:`with_click_counts`)."""
    yield EXPORT_COLUMNS
    for link in links:
        yield [
            link.get_full_url(),
            link.domain.domain_name,
            link.slug,
            link.destination_url,
            link.keyword,
            link.channel,
            (link.campaign.campaign_id or "") if link.campaign else "",
            join_tag_names(link.tags.all()),
            link.fallback_url,
            "true" if link.active else "false",
            _iso(link.expires_at),
            "" if link.max_clicks is None else link.max_clicks,
            _iso(link.created_at),
            link.export_human_clicks,  # type: ignore[attr-defined]
            link.export_bot_clicks,  # type: ignore[attr-defined]
        ]


class _Line:
    """A file-like object whose ``write`` returns what it was given (one CSV line)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """``rows`` as UTF-8 CSV lines, one at a time (the whole file is never in memory), with
    formula-like text neutralised (:func:`spreadsheet_safe`)."""
    writer = csv.writer(_Line())
    for row in rows:
        yield writer.writerow([spreadsheet_safe(value) for value in row]).encode()

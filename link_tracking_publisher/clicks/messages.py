"""A campaign's per-message clicks as one stream: CSV or NDJSON, a row per message id and link.

The rows are read with ``QuerySet.iterator`` (a server-side cursor on PostgreSQL, chunked reads
on SQLite) in the order of the ``message_click_unique`` index, and written in chunks, so time
is linear in the rows and memory flat whatever the campaign's size
(``benchmarks/message_clicks_bench.py`` measures it). The columns are the ``message-clicks``
list's fields, in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from ..models import MessageClick
from ..services.link_csv import stream_csv

__all__ = ["CHUNK_ROWS", "COLUMNS", "FORMATS", "campaign_rows", "stream"]

#: The export's columns, in order (the ``message-clicks`` list's fields).
COLUMNS = (
    "sms_msg_id",
    "link",
    "campaign",
    "human_clicks",
    "bot_clicks",
    "first_human_click_at",
    "last_click_at",
)
_SELECTED = (
    "sms_msg_id",
    "link_id",
    "link__campaign_id",
    "human_clicks",
    "bot_clicks",
    "first_human_click_at",
    "last_click_at",
)
#: Rows read from the database, and written to the response, at a time.
CHUNK_ROWS = 2000
#: Export format → the response's content type.
FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def campaign_rows(campaign_id: UUID) -> Iterator[tuple[Any, ...]]:
    """The campaign's message rows as tuples of :data:`COLUMNS`, by link and message id."""
    return (
        MessageClick.objects.filter(link__campaign_id=campaign_id)
        .order_by("link_id", "sms_msg_id")
        .values_list(*_SELECTED)
        .iterator(chunk_size=CHUNK_ROWS)
    )


def _text(value: Any) -> Any:
    """A value as the API writes it: UUIDs as text, UTC times ending in ``Z``."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    return value


def _ndjson(rows: Iterable[tuple[Any, ...]]) -> Iterator[bytes]:
    for row in rows:
        line = json.dumps(dict(zip(COLUMNS, map(_text, row), strict=True)), ensure_ascii=False)
        yield line.encode() + b"\n"


def _csv(rows: Iterable[tuple[Any, ...]]) -> Iterator[bytes]:
    yield from stream_csv([list(COLUMNS)])
    yield from stream_csv(
        [_text(value) if value is not None else "" for value in row] for row in rows
    )


def _chunks(lines: Iterator[bytes]) -> Iterator[bytes]:
    """Lines joined :data:`CHUNK_ROWS` at a time: one write to the client per chunk."""
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= CHUNK_ROWS:
            yield b"".join(chunk)
            chunk.clear()
    if chunk:
        yield b"".join(chunk)


def stream(rows: Iterable[tuple[Any, ...]], export_format: str) -> Iterator[bytes]:
    """``rows`` (from :func:`campaign_rows`) as CSV (a header, formula-like text neutralised)
    or NDJSON (an object per line), in chunks."""
    lines = _csv(rows) if export_format == "csv" else _ndjson(rows)
    return _chunks(lines)

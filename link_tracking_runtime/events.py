"""The click event: one per redirect, streamed to Firehose and stored as Parquet via Glue.

:data:`CLICK_EVENT_COLUMNS` is the Glue table's column list, in order, with Hive types; the
``terraform/`` Glue table is checked against it. Every field of the spec's table is here, plus
``sms_msg_id`` (SMS journey tracking), ``ab_variant``, ``outcome`` (why the visitor went where
they went) and ``forwarded_params`` (every allowlisted param forwarded from the request).
New fields are only ever added at the end, with a default.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "CLICK_EVENT_COLUMNS",
    "CLICK_EVENT_PARTITION_COLUMN",
    "CLICK_EVENT_PARTITION_FORMAT",
    "EVENT_TYPE_CLICK",
    "OUTCOMES",
    "ClickEvent",
    "decode_event",
    "encode_event",
]

EVENT_TYPE_CLICK: Final = "click"

#: Why a redirect went where it went. ``ok`` is the destination; ``withheld`` is the neutral
#: page a bot, a link preview or a ``HEAD`` gets instead of a one-time or signed link's
#: destination (no redirect at all); all others are fallbacks.
OUTCOMES: Final = (
    "ok",
    "not_found",
    "inactive",
    "expired",
    "max_clicks",
    "signature_invalid",
    "error",
    "withheld",
)

#: The Glue table's partition column (a string, projected by Athena, never stored in a file):
#: the UTC hour Firehose received the event in, as the S3 key prefix under ``click-events/``
#: spells it (``strftime`` format). It is the arrival hour, not the event's: an event lands in
#: its own hour or a later one (buffering, retries, replay of a runtime's spilled events).
CLICK_EVENT_PARTITION_COLUMN: Final = "datehour"
CLICK_EVENT_PARTITION_FORMAT: Final = "year=%Y/month=%m/day=%d/hour=%H"

#: (column name, Hive/Glue type), in table order.
CLICK_EVENT_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("event_id", "string"),
    ("event_type", "string"),
    ("timestamp", "double"),
    ("link_id", "string"),
    ("domain", "string"),
    ("slug", "string"),
    ("campaign_id", "string"),
    ("keyword", "string"),
    ("channel", "string"),
    ("click_session_id", "string"),
    ("user_agent", "string"),
    ("referer", "string"),
    ("ip_hash", "string"),
    ("geo_country", "string"),
    ("final_url_hash", "string"),
    ("routing_reason", "string"),
    ("is_bot", "boolean"),
    ("fraud_score", "double"),
    ("redirect_latency_ms", "int"),
    ("sms_msg_id", "string"),
    ("ab_variant", "string"),
    ("outcome", "string"),
    ("forwarded_params", "map<string,string>"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class ClickEvent:
    """One click. Optional strings are ``None`` when absent (Parquet nulls, not "")."""

    event_id: str
    timestamp: float
    domain: str
    slug: str
    click_session_id: str
    ip_hash: str
    final_url_hash: str
    is_bot: bool
    redirect_latency_ms: int
    outcome: str
    link_id: str | None = None
    campaign_id: str | None = None
    keyword: str | None = None
    channel: str | None = None
    user_agent: str | None = None
    referer: str | None = None
    geo_country: str | None = None
    routing_reason: str = "default"
    fraud_score: float = 0.0
    sms_msg_id: str | None = None
    ab_variant: str | None = None
    forwarded_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    event_type: str = EVENT_TYPE_CLICK

    def as_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, in column order, with every column present."""
        return {name: _jsonable(getattr(self, name)) for name, _ in CLICK_EVENT_COLUMNS}


def _jsonable(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def encode_event(event: ClickEvent) -> bytes:
    """One Firehose record: compact JSON and a newline (so S3 objects are NDJSON)."""
    return (json.dumps(event.as_dict(), separators=(",", ":"), ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(ClickEvent))


def decode_event(data: bytes | str) -> ClickEvent:
    """The inverse of :func:`encode_event` (unknown keys ignored, for journal replay)."""
    raw = json.loads(data)
    if not isinstance(raw, dict):
        raise ValueError("a click event is a JSON object")
    return ClickEvent(**{k: v for k, v in raw.items() if k in _FIELDS})

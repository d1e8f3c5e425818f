"""The click event: one per redirect, streamed to Firehose and stored as Parquet via Glue.

:data:`CLICK_EVENT_COLUMNS` is the Glue table's column list, in order, with Hive types; the
``terraform/`` Glue table is checked against it. Every field of the spec's table is here, plus
``sms_msg_id`` (SMS journey tracking), ``ab_variant``, ``outcome`` (why the visitor went where
they went), ``forwarded_params`` (every allowlisted param forwarded from the request) and
``viewer_asn`` (the viewer's network, as CloudFront names it: a scanner's cloud or a carrier)
``message_seq`` (the message of a per-message link, :mod:`.messages`) and ``bot_reason``
(why a bot's click is a bot's: one of :data:`.bots.BOT_REASONS`).
New fields are only ever added at the end, with a default.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Mapping
from typing import Any, Final

try:  # An optional accelerator: the same bytes written in C (both halves install it).
    import orjson as _orjson
except ImportError:  # pragma: no cover - the contract on its own, pure Python
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "CLICK_EVENT_COLUMNS",
    "CLICK_EVENT_PARTITION_COLUMN",
    "CLICK_EVENT_PARTITION_FORMAT",
    "EVENT_TYPE_CLICK",
    "OUTCOMES",
    "ClickEvent",
    "decode_event",
    "encode_columns",
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
    ("viewer_asn", "bigint"),
    ("message_seq", "bigint"),
    ("bot_reason", "string"),
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
    #: The viewer's network (CloudFront-Viewer-ASN), ``None`` where CloudFront did not say.
    viewer_asn: int | None = None
    #: The sequence number of the message whose per-message link was clicked (its token
    #: verified: :mod:`.messages`); the control plane maps it to the host's message id.
    message_seq: int | None = None
    #: Why the click is a bot's (one of :data:`.bots.BOT_REASONS`); ``None`` for a person.
    bot_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, in column order, with every column present."""
        values = dict(zip(_COLUMN_NAMES, _columns(self), strict=True))
        forwarded = values["forwarded_params"]
        if type(forwarded) is not dict:
            values["forwarded_params"] = dict(forwarded)
        return values


_COLUMN_NAMES: Final = tuple(name for name, _ in CLICK_EVENT_COLUMNS)
_columns: Final = operator.attrgetter(*_COLUMN_NAMES)


def encode_columns(values: dict[str, Any]) -> bytes:
    """One Firehose record from an event's columns (a dict in table order, as
    :meth:`ClickEvent.as_dict` and :func:`link_tracking_runtime.click.event_columns` give):
    compact JSON, UTF-8 unescaped, and a newline (so S3 objects are NDJSON).

    The bytes are the standard library's ``json.dumps(values, separators=(",", ":"),
    ensure_ascii=False)``. Where orjson is installed (the runtime and the control plane) it
    writes them, several times faster, for every event but one whose ``timestamp`` or
    ``fraud_score`` Python would write in exponent form (``1e-05``; orjson writes ``1e-5``):
    those go to the standard library. ``tests/contract/test_events.py`` checks both give the
    same bytes."""
    if _orjson is not None:
        timestamp = values["timestamp"]
        fraud_score = values["fraud_score"]
        if (timestamp == 0.0 or 1e-4 <= abs(timestamp) < 1e16) and (
            fraud_score == 0.0 or 1e-4 <= abs(fraud_score) < 1e16
        ):
            return _orjson.dumps(values, option=_orjson.OPT_APPEND_NEWLINE)
    return (json.dumps(values, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def encode_event(event: ClickEvent) -> bytes:
    """One Firehose record of ``event`` (:func:`encode_columns`)."""
    return encode_columns(event.as_dict())


_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(ClickEvent))


def decode_event(data: bytes | str) -> ClickEvent:
    """The inverse of :func:`encode_event` (unknown keys ignored, for journal replay)."""
    raw = json.loads(data)
    if not isinstance(raw, dict):
        raise ValueError("a click event is a JSON object")
    return ClickEvent(**{k: v for k, v in raw.items() if k in _FIELDS})

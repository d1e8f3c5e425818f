from __future__ import annotations

import dataclasses
import json
from unittest import mock

import hypothesis.strategies as st
from hypothesis import given, settings

from link_tracking_runtime import CLICK_EVENT_COLUMNS, ClickEvent, decode_event, encode_event
from link_tracking_runtime import events as events_module
from link_tracking_runtime.events import OUTCOMES

SPEC_GLUE_COLUMNS = {
    "event_id": "string",
    "event_type": "string",
    "timestamp": "double",
    "link_id": "string",
    "domain": "string",
    "slug": "string",
    "campaign_id": "string",
    "keyword": "string",
    "channel": "string",
    "click_session_id": "string",
    "user_agent": "string",
    "referer": "string",
    "ip_hash": "string",
    "geo_country": "string",
    "final_url_hash": "string",
    "routing_reason": "string",
    "is_bot": "boolean",
    "fraud_score": "double",
    "redirect_latency_ms": "int",
    "sms_msg_id": "string",
}


def _event() -> ClickEvent:
    return ClickEvent(
        event_id="e1",
        timestamp=1767300000.25,
        domain="go.example.com",
        slug="ABC",
        click_session_id="c1",
        ip_hash="h",
        final_url_hash="u",
        is_bot=False,
        redirect_latency_ms=3,
        outcome="ok",
        sms_msg_id="42",
        forwarded_params={"sms_msg_id": "42"},
    )


def test_every_spec_column_is_in_the_event_with_its_type() -> None:
    columns = dict(CLICK_EVENT_COLUMNS)
    for name, glue_type in SPEC_GLUE_COLUMNS.items():
        assert columns[name] == glue_type, name
    assert [n for n, _ in CLICK_EVENT_COLUMNS] == list(
        dict.fromkeys(n for n, _ in CLICK_EVENT_COLUMNS)
    )
    assert {f.name for f in dataclasses.fields(ClickEvent)} == set(columns)


def test_encoding_is_one_ndjson_line_with_every_column() -> None:
    data = encode_event(_event())
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    raw = json.loads(data)
    assert list(raw) == [n for n, _ in CLICK_EVENT_COLUMNS]
    assert raw["event_type"] == "click" and raw["keyword"] is None and raw["sms_msg_id"] == "42"
    assert decode_event(data) == _event()


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
_optional = st.none() | _text


@settings(max_examples=300, deadline=None)
@given(
    text=_text,
    optional=_optional,
    timestamp=st.floats(min_value=-1e20, max_value=1e20, allow_nan=False),
    latency=st.integers(min_value=0, max_value=10**6),
    is_bot=st.booleans(),
    outcome=st.sampled_from(OUTCOMES),
    forwarded=st.dictionaries(_text, _text, max_size=3),
)
def test_orjson_writes_the_same_bytes_as_the_standard_library(
    text: str,
    optional: str | None,
    timestamp: float,
    latency: int,
    is_bot: bool,
    outcome: str,
    forwarded: dict[str, str],
) -> None:
    event = ClickEvent(
        event_id=text,
        timestamp=timestamp,
        domain=text,
        slug=text,
        click_session_id=text,
        ip_hash=text,
        final_url_hash=text,
        is_bot=is_bot,
        redirect_latency_ms=latency,
        outcome=outcome,
        link_id=optional,
        user_agent=optional,
        referer=optional,
        sms_msg_id=optional,
        ab_variant=optional,
        forwarded_params=forwarded,
    )
    accelerated = encode_event(event)
    with mock.patch.object(events_module, "_orjson", None):
        assert encode_event(event) == accelerated
    assert decode_event(accelerated) == dataclasses.replace(event, forwarded_params=forwarded)

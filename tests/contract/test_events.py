from __future__ import annotations

import dataclasses
import json

from link_tracking_runtime import CLICK_EVENT_COLUMNS, ClickEvent, decode_event, encode_event

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

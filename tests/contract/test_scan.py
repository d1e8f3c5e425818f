"""The QR scan marker: the URL a QR code encodes, and what the click decision makes of it."""

from __future__ import annotations

from link_tracking_runtime.click import ClickInput, compile_link, decide, event_columns
from link_tracking_runtime.record import RuntimeRecord
from link_tracking_runtime.scan import SCAN_CHANNEL, is_scan, scan_url
from link_tracking_runtime.urls import parse_request_query


def test_scan_url_adds_the_marker_to_the_query() -> None:
    assert scan_url("https://go.example.com/ABC") == "https://go.example.com/ABC?qr=1"
    assert (
        scan_url("https://go.example.com/ABC?sms_msg_id=7")
        == "https://go.example.com/ABC?sms_msg_id=7&qr=1"
    )


def test_only_the_exact_marker_is_a_scan() -> None:
    assert is_scan(parse_request_query("qr=1"))
    assert is_scan(parse_request_query("a=b&qr=1"))
    for query in ("", "qr=", "qr=0", "qr=yes", "QR=1", "qr=1 "):
        assert not is_scan(parse_request_query(query)), query


def _record(**changes: object) -> RuntimeRecord:
    values: dict[str, object] = dict(
        domain="go.example.com",
        slug="ABC",
        link_id="l-1",
        destination_url="https://shop.example.com/",
        fallback_url="https://go.example.com/disabled",
        active=True,
        runtime_version=1,
        channel="sms",
    )
    values.update(changes)
    return RuntimeRecord(**values)  # type: ignore[arg-type]


def test_a_scan_changes_only_the_event_channel() -> None:
    link = compile_link(_record(), "https://www.example.com/x")
    tap = decide(link, ClickInput(now=1.0e9, click_id="c", query="x=1"))
    scan = decide(link, ClickInput(now=1.0e9, click_id="c", query="x=1&qr=1"))
    tap_columns, scan_columns = event_columns(tap), event_columns(scan)
    assert (tap_columns["channel"], scan_columns["channel"]) == ("sms", SCAN_CHANNEL)
    assert tap.location == scan.location
    assert "qr=" not in scan.location
    assert {k: v for k, v in scan_columns.items() if k != "channel"} == {
        k: v for k, v in tap_columns.items() if k != "channel"
    }
    # The compiled link's constant columns are not changed by a scan.
    again = decide(link, ClickInput(now=1.0e9, click_id="c"))
    assert event_columns(again)["channel"] == "sms"


def test_a_bots_scan_on_a_secret_link_is_withheld_and_still_a_scan() -> None:
    link = compile_link(_record(max_clicks=1), "https://www.example.com/x")
    decision = decide(link, ClickInput(now=1.0e9, click_id="c", method="HEAD", query="qr=1"))
    assert decision.outcome == "withheld"
    assert event_columns(decision)["channel"] == SCAN_CHANNEL

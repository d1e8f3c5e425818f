"""A name added to the contract's forwarded params is forwarded everywhere at once: by the
runtime on a DynamoDB read and on a cache hit, in the click event, and by the preview."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from link_tracking_publisher.services.preview import SimulatedClick, preview_record
from link_tracking_runtime import build_redirect_url
from link_tracking_runtime import record as record_module
from link_tracking_runtime.events import decode_event
from link_tracking_runtime.record import DYNAMIC_PARAMS
from tests.support.fakes import ManualClock
from tests.support.records import HOST, item, record
from tests.support.runtime import Harness

NOW = 1_767_300_000.0
CLICK_ID = "c0ffee00-0000-4000-8000-000000000042"

_names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda name: name not in DYNAMIC_PARAMS and not name.startswith("utm_")
)
_values = st.text(
    alphabet=st.characters(codec="latin-1", categories=["L", "N", "P", "S", "Zs"]),
    min_size=1,
    max_size=20,
).filter(str.isprintable)


def _runtime(fields: dict[str, object], query: str) -> tuple[list[str], list[bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(
            Path(tmp),
            items=[item("FWD", **fields)],
            clock=ManualClock(NOW),
            click_ids=lambda: CLICK_ID,
        )

        async def scenario() -> list[httpx.Response]:
            async with harness.client() as client:
                return [await client.get(f"/FWD?{query}", headers={"host": HOST}) for _ in range(2)]

        # A constant perf_counter: redirect_latency_ms is 0 for both requests.
        with mock.patch.object(time, "perf_counter", lambda: 1.0):
            responses = asyncio.run(scenario())
        records = harness.settings.click_events_file.read_bytes().splitlines()
    return [r.headers["location"] for r in responses], records


@pytest.mark.interpreted_only(
    reason="patches the module global FORWARDED_FROM_REQUEST_PARAMS, which compiled code reads as a constant"
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_names, value=_values, sms=st.one_of(st.none(), _values))
def test_an_added_forwarded_param_is_forwarded_by_runtime_cache_and_preview(
    name: str, value: str, sms: str | None
) -> None:
    forwarded = (*record_module.FORWARDED_FROM_REQUEST_PARAMS, name)
    fields = {
        "resolved_query_params": {"utm_source": "sms"},
        "dynamic_param_allowlist": ("click_id", "sms_msg_id", name),
    }
    request = {name: value, **({"sms_msg_id": sms} if sms else {})}
    query = urlencode(request, quote_via=quote)
    with mock.patch.object(record_module, "FORWARDED_FROM_REQUEST_PARAMS", forwarded):
        rec = record("FWD", **fields)
        expected = build_redirect_url(rec, click_id=CLICK_ID, now=NOW, request_params=request)
        locations, events = _runtime(fields, query)
        preview = preview_record(rec, SimulatedClick(sms_msg_id=sms, at=NOW, click_id=CLICK_ID))
    assert f"&{name}={quote(value, safe='')}" in expected
    assert locations == [expected, expected]  # the DynamoDB read, then the cache hit
    assert events[0] == events[1]
    event = decode_event(events[0])
    assert event.forwarded_params == request
    assert event.sms_msg_id == sms
    # The preview's simulated click carries an SMS id only; with it, the same URL but the name.
    without = {"sms_msg_id": sms} if sms else {}
    with mock.patch.object(record_module, "FORWARDED_FROM_REQUEST_PARAMS", forwarded):
        assert preview.redirect_url == build_redirect_url(
            rec, click_id=CLICK_ID, now=NOW, request_params=without
        )

"""The cache-hit fast path answers exactly as the step-by-step redirect does.

Each example runs the same two requests (the first fills the cache, the second is compared)
through two apps with the same clock and click ids: one as it is, one with the fast path
turned off. The ``Location`` and the click event's record (its bytes) must be the same.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from link_tracking_runtime import parse_request_query
from link_tracking_runtime.events import decode_event, encode_event
from runtime_service.fastpath import request_param
from runtime_service.redirect import Redirector
from tests.support.fakes import ManualClock
from tests.support.records import HOST, item
from tests.support.runtime import Harness, sequential_ids

NOW = 1_767_300_000.25

_query_text = st.text(alphabet="sms_gid=&%+2A41aZ9 é-~.", max_size=40)


@given(st.lists(st.one_of(_query_text, st.just("sms_msg_id"), st.just("&sms_msg_id=")), max_size=6))
def test_request_param_is_the_contracts_parse(pieces: list[str]) -> None:
    query = "".join(pieces)
    assert request_param(query, "sms_msg_id") == parse_request_query(query).get("sms_msg_id")


_values = st.text(
    alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=12
)
_records = st.fixed_dictionaries(
    {
        "destination_url": st.sampled_from(
            [
                "https://shop.example.com/p",
                "https://shop.example.com/p?click_id=old&keep=1#top",
                "https://shop.example.com/p?sms_msg_id=x&a={b}",
                "https://shop.example.com/caf\u00e9",
                "https://shop.example.com/p?x=%41+1",
            ]
        ),
        "append_query_params": st.booleans(),
        "resolved_query_params": st.dictionaries(
            st.sampled_from(["utm_source", "utm_campaign", "click_id", "sms_msg_id"]),
            st.sampled_from(["sms", "SPRING 26", "a&b", "x"]),
            max_size=3,
        ),
        "dynamic_param_allowlist": st.lists(
            st.sampled_from(["click_id", "sms_msg_id", "geo", "click_ts", "ab_variant"]),
            unique=True,
            max_size=5,
        ),
        "active": st.booleans(),
        "expires_at_epoch": st.sampled_from([None, int(NOW) - 1, int(NOW) + 3600]),
        "keyword": st.sampled_from([None, "spring"]),
    }
)
_requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "GET", "HEAD"]),
        "path": st.sampled_from(["/ABC123", "/abc123", "/ABC123/"]),
        "host": st.sampled_from([HOST, "GO.example.com:443", "go.example.com."]),
        "query": st.one_of(
            st.just(""),
            st.builds(lambda v: f"sms_msg_id={v}", st.sampled_from(["42", "a+b", "a%26b", "x y"])),
            st.builds(lambda v: f"a=1&sms_msg_id={v}&sms_msg_id=2", st.sampled_from(["7", ""])),
        ),
        "headers": st.dictionaries(
            st.sampled_from(
                [
                    "user-agent",
                    "referer",
                    "cloudfront-viewer-country",
                    "sec-purpose",
                    "x-forwarded-for",
                ]
            ),
            st.one_of(
                _values,
                st.sampled_from(
                    ["WhatsApp/2.23", "prefetch;prerender", "de", "198.51.100.1, 10.0.0.1"]
                ),
            ),
        ),
        "trusted_proxy_count": st.sampled_from([0, 2]),
        "click_id": st.sampled_from(["c0ffee00-0000-4000-8000-0000000000", "id with space/"]),
    }
)


def _run(fields: dict[str, Any], request: dict[str, Any], fast: bool) -> tuple[str, bytes, int]:
    used = 0
    original = Redirector.redirect_hot

    def spy(self: Redirector, *args: Any) -> bytes | None:
        nonlocal used
        if not fast:
            return None
        location = original(self, *args)
        used += location is not None
        return location

    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(
            Path(tmp),
            items=[item(**fields)],
            settings={"trusted_proxy_count": request["trusted_proxy_count"]},
            clock=ManualClock(NOW),
            click_ids=sequential_ids(request["click_id"]),
        )

        async def scenario() -> httpx.Response:
            async with harness.client() as client:
                url = request["path"] + (f"?{request['query']}" if request["query"] else "")
                headers = {
                    "host": request["host"],
                    **{k: v.encode("latin-1") for k, v in request["headers"].items()},
                }
                await client.request(request["method"], url, headers=headers)
                return await client.request(request["method"], url, headers=headers)

        # A constant perf_counter: redirect_latency_ms is 0 on both paths, however slow.
        with (
            mock.patch.object(Redirector, "redirect_hot", spy),
            mock.patch.object(time, "perf_counter", lambda: 1.0),
        ):
            response = asyncio.run(scenario())
        records = harness.settings.click_events_file.read_bytes().splitlines(keepends=True)
    assert response.status_code == 302 and len(records) == 2
    return response.headers["location"], records[1], used


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records, _requests)
def test_fast_path_answers_as_the_slow_path(
    fields: dict[str, Any], request: dict[str, Any]
) -> None:
    slow_location, slow_record, _ = _run(fields, request, fast=False)
    fast_location, fast_record, used = _run(fields, request, fast=True)
    assert fast_location == slow_location
    assert fast_record == slow_record
    # The record is the contract's encoding of the event.
    assert encode_event(decode_event(fast_record)) == fast_record
    country = request["headers"].get("cloudfront-viewer-country", "").strip()
    eligible = (
        fields["active"]
        and (fields["expires_at_epoch"] is None or fields["expires_at_epoch"] > NOW)
        and not (
            country and fields["append_query_params"] and "geo" in fields["dynamic_param_allowlist"]
        )
        and fields["destination_url"].isascii()
    )
    if eligible:
        assert used == 1  # the first request fills the cache, the fast path answers the second

"""The runtime turns every contract redirect vector into exactly the vector's redirect, over
ASGI, both when the link is read from DynamoDB and when it is answered from the cache (the
second request), and the two click events are the same bytes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from link_tracking_runtime import counter_key
from link_tracking_runtime.events import decode_event, encode_event
from link_tracking_runtime.record import CLICK_COUNTER_ATTRIBUTE
from tests.support.fakes import FakeSecrets, ManualClock
from tests.support.runtime import Harness

DOCUMENT = json.loads(
    resources.files("link_tracking_runtime").joinpath("vectors", "redirect.json").read_text("utf-8")
)
VECTORS: list[dict[str, Any]] = DOCUMENT["vectors"]


def ip_hash(ip: str) -> str:
    return hmac.new(DOCUMENT["ip_hash_key"].encode(), ip.encode(), hashlib.sha256).hexdigest()


def run_vector(vector: dict[str, Any], tmp_path: Path) -> tuple[list[httpx.Response], Harness]:
    """Two identical requests for the vector (the first reads DynamoDB, the second is a
    cache hit), with the vector's clock and click id."""
    request = vector["request"]
    item = vector["item"]
    harness = Harness(
        tmp_path,
        items=[item] if item is not None else [],
        settings={
            "default_fallback_url": DOCUMENT["default_fallback_url"],
            "ip_hash_key": DOCUMENT["ip_hash_key"].encode(),
        },
        clock=ManualClock(vector["now"]),
        click_ids=lambda: vector["click_id"],
        secrets=FakeSecrets(DOCUMENT["signing_secrets"]),
    )
    if vector.get("clicks_spent") is not None:
        key = counter_key(item["PK"].split("#", 1)[1], item["SK"].split("#", 1)[1])
        # The counter goes up by one per person's click: both requests see the same room.
        harness.table.put({**key, CLICK_COUNTER_ATTRIBUTE: vector["clicks_spent"]})

    async def scenario() -> list[httpx.Response]:
        async with harness.client() as client:
            url = request["path"] + (f"?{request['query']}" if request["query"] else "")
            headers = {"host": request["host"], **request["headers"]}
            return [await client.get(url, headers=headers) for _ in range(2)]

    # A constant perf_counter: redirect_latency_ms is 0 for both requests, however slow.
    with mock.patch.object(time, "perf_counter", lambda: 1.0):
        responses = asyncio.run(scenario())
    return responses, harness


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_runtime_answers_vector(vector: dict[str, Any], tmp_path: Path) -> None:
    responses, harness = run_vector(vector, tmp_path)
    expected = vector["expected"]
    for response in responses:
        assert response.status_code == expected["status"]
        if expected["location"]:
            assert response.headers["location"] == expected["location"]
        else:  # withheld: the neutral page, nothing of the destination
            assert "location" not in response.headers
            destination = vector["item"]["destination_url"]
            assert destination.encode() not in response.content
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["x-robots-tag"] == "noindex"
    records = harness.settings.click_events_file.read_bytes().splitlines(keepends=True)
    assert len(records) == 2
    # The cache hit's event is byte for byte the first one's, and the contract's encoding.
    assert records[0] == records[1]
    event = decode_event(records[0])
    assert encode_event(event) == records[0]
    assert event.outcome == expected["outcome"]
    assert event.click_session_id == event.event_id == vector["click_id"]
    assert event.timestamp == vector["now"]
    # The visitor the vector means (A/B by IP depends on it).
    assert event.ip_hash == ip_hash(DOCUMENT["client_ip"])
    assert event.viewer_asn == expected.get("viewer_asn")
    assert event.message_seq == expected.get("message_seq")
    assert event.bot_reason == expected.get("bot_reason")
    for column in ("routing_reason", "ab_variant", "sms_msg_id", "is_bot", "channel"):
        if column in expected:
            assert getattr(event, column) == expected[column], column


def test_every_answer_is_an_http_redirect_or_the_withheld_page() -> None:
    for vector in VECTORS:
        expected = vector["expected"]
        if expected["outcome"] == "withheld":
            assert (expected["status"], expected["location"]) == (200, "")
        else:
            assert expected["location"].startswith(("https://", "http://"))

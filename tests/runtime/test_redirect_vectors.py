"""The runtime turns every contract redirect vector into exactly the vector's redirect."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakes import ManualClock
from tests.support.runtime import Harness

DOCUMENT = json.loads(
    resources.files("link_tracking_runtime").joinpath("vectors", "redirect.json").read_text("utf-8")
)
VECTORS: list[dict[str, Any]] = DOCUMENT["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_runtime_answers_vector(vector: dict[str, Any], tmp_path: Path) -> None:
    request = vector["request"]
    harness = Harness(
        tmp_path,
        items=[vector["item"]] if vector["item"] is not None else [],
        settings={"default_fallback_url": DOCUMENT["default_fallback_url"]},
        clock=ManualClock(vector["now"]),
        click_ids=lambda: vector["click_id"],
    )

    async def scenario() -> Any:
        async with harness.client() as client:
            url = request["path"] + (f"?{request['query']}" if request["query"] else "")
            return await client.get(url, headers={"host": request["host"], **request["headers"]})

    response = asyncio.run(scenario())
    expected = vector["expected"]
    assert response.status_code == expected["status"]
    assert response.headers["location"] == expected["location"]
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-robots-tag"] == "noindex"
    (event,) = harness.events()
    assert event.outcome == expected["outcome"]
    assert event.click_session_id == vector["click_id"]
    assert event.timestamp == vector["now"]

"""The app across two regions: what a visitor and CloudFront get when the own region's replica,
or both, cannot be read, and what ``/health`` shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.support.fakes import FakeTable
from tests.support.records import HOST, item
from tests.support.runtime import DEFAULT_FALLBACK, Harness

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148 Safari/604.1"


def _two_regions(tmp_path: Path, *, own_down: bool, other_down: bool) -> Harness:
    other = FakeTable([item()])
    other.down = other_down
    harness = Harness(
        tmp_path,
        items=[item()],
        fallback=other,
        settings={"aws_region": "eu-west-1", "dynamodb_fallback_region": "eu-central-1"},
    )
    harness.table.down = own_down
    return harness


def _get(harness: Harness, *paths: str) -> list[httpx.Response]:
    """The answers to ``paths``; the metrics counted meanwhile go to ``harness.counted``."""

    async def run() -> list[httpx.Response]:
        async with harness.client() as client:
            client.headers.update({"host": HOST, "user-agent": PHONE})
            answers = [await client.get(path) for path in paths]
            await asyncio.sleep(0.05)  # let the background probe and the emitter finish
            harness.counted = dict(harness.app.metrics.counters)  # shutdown flushes them
            return answers

    return asyncio.run(run())


def test_own_replica_down_the_link_goes_to_its_destination_via_the_other_region(
    tmp_path: Path,
) -> None:
    harness = _two_regions(tmp_path, own_down=True, other_down=False)
    (answer,) = _get(harness, "/ABC123")
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("https://shop.example.com/abc123")
    (event,) = harness.events()
    assert event.outcome == "ok"
    assert harness.counted["DynamoDBFallbackRead"] == 1


def test_both_replicas_down_answers_503_for_cloudfront_and_emits_no_click(
    tmp_path: Path,
) -> None:
    harness = _two_regions(tmp_path, own_down=True, other_down=True)
    (answer,) = _get(harness, "/ABC123")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "location" not in answer.headers
    # The other region's runtime serves and counts the click CloudFront sends it.
    assert harness.events() == []
    assert harness.counted["StoreUnavailable"] == 1


def test_one_region_keeps_the_fallback_redirect_when_its_replica_is_down(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, items=[item()])
    harness.table.down = True
    (answer,) = _get(harness, "/ABC123")
    assert answer.status_code == 302 and answer.headers["location"] == DEFAULT_FALLBACK
    assert [event.outcome for event in harness.events()] == ["error"]


def test_health_stays_200_and_shows_each_replica_from_the_probe(tmp_path: Path) -> None:
    harness = _two_regions(tmp_path, own_down=True, other_down=False)

    async def run() -> list[httpx.Response]:
        async with harness.client() as client:
            first = await client.get("/health")
            await asyncio.sleep(0.05)  # the probe runs in the background
            return [first, await client.get("/health"), await client.get("/health")]

    first, second, third = asyncio.run(run())
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.json()["region"] == "eu-west-1"
    assert first.json()["store"] == {"eu-west-1": "unknown", "eu-central-1": "unknown"}
    assert second.json()["store"] == {"eu-west-1": "unreachable", "eu-central-1": "ok"}
    assert third.json()["store"] == second.json()["store"]
    assert harness.table.reads == 1  # one probe for three health checks

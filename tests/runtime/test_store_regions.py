"""The record store across two regions: the own region's replica first, the other region's
when that read fails, misses its deadline or is skipped by the breaker."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime_service.metrics import Metrics
from runtime_service.store import WARM_UP_HOST, RecordStore, StoreProbe
from tests.support.fakes import FakeTable, ManualClock
from tests.support.records import HOST, item
from tests.support.runtime import DEFAULT_FALLBACK


def _store(own: FakeTable, fallback: FakeTable | None, clock: ManualClock) -> RecordStore:
    return RecordStore(
        own,
        clock=clock,
        metrics=Metrics("Test", clock=clock),
        ttl=60.0,
        negative_ttl=10.0,
        stale=3600.0,
        max_size=100,
        default_fallback_url=DEFAULT_FALLBACK,
        timeout=0.05,
        fallback=fallback,
    )


def _counters(store: RecordStore) -> dict[str, Any]:
    return store._metrics.counters


def test_a_read_the_own_region_answers_never_touches_the_other() -> None:
    own, other, clock = FakeTable([item()]), FakeTable([item()]), ManualClock()
    store = _store(own, other, clock)
    lookup = asyncio.run(store.get(HOST, "ABC123"))
    assert lookup.source == "dynamodb" and lookup.link is not None
    assert (own.reads, other.reads) == (1, 0)


def test_a_failed_own_read_is_served_from_the_other_regions_replica_and_cached() -> None:
    own, other, clock = FakeTable([item()]), FakeTable([item()]), ManualClock()
    own.down = True
    store = _store(own, other, clock)

    async def scenario() -> None:
        first = await store.get(HOST, "ABC123")
        assert first.source == "replica"
        assert first.link is not None and first.link.link_id == "link-abc123"
        second = await store.get(HOST, "ABC123")
        assert second.source == "cache"

    asyncio.run(scenario())
    assert (own.reads, other.reads) == (1, 1)
    assert _counters(store)["DynamoDBError"] == 1
    assert _counters(store)["DynamoDBFallbackRead"] == 1


def test_an_own_read_past_its_deadline_is_made_again_in_the_other_region() -> None:
    own, other, clock = FakeTable([item()]), FakeTable([item()]), ManualClock()
    own.gate = asyncio.Event()  # never set: the own region hangs
    store = _store(own, other, clock)
    lookup = asyncio.run(store.get(HOST, "ABC123"))
    assert lookup.source == "replica" and lookup.link is not None


def test_no_such_link_in_the_other_region_is_no_such_link() -> None:
    own, other, clock = FakeTable(), FakeTable(), ManualClock()
    own.down = True
    store = _store(own, other, clock)
    lookup = asyncio.run(store.get(HOST, "NOPE"))
    assert lookup.source == "replica" and lookup.link is None


def test_both_regions_down_is_an_error_and_a_last_good_record_is_still_served() -> None:
    own, other, clock = FakeTable([item()]), FakeTable([item()]), ManualClock()
    store = _store(own, other, clock)

    async def scenario() -> None:
        assert (await store.get(HOST, "ABC123")).source == "dynamodb"
        own.down = other.down = True
        clock.advance(200)  # past the TTL and the refresh window: a real read
        stale = await store.get(HOST, "ABC123")
        assert stale.source == "stale" and stale.link is not None
        never_seen = await store.get(HOST, "OTHER1")
        assert never_seen.source == "error" and never_seen.link is None

    asyncio.run(scenario())
    assert _counters(store)["DynamoDBFallbackError"] == 2


def test_while_the_own_breaker_is_open_misses_go_straight_to_the_other_region() -> None:
    own, other, clock = FakeTable(), FakeTable(), ManualClock()
    for n in range(10):
        other.put(item(f"SLUG{n:02d}"))
    own.down = True
    store = _store(own, other, clock)

    async def scenario() -> None:
        for n in range(10):
            lookup = await store.get(HOST, f"SLUG{n:02d}")
            assert lookup.source == "replica" and lookup.link is not None

    asyncio.run(scenario())
    assert own.reads == 5  # the breaker opened after five failures in a row
    assert other.reads == 10
    assert _counters(store)["DynamoDBSkipped"] == 5


def test_without_a_fallback_region_a_failed_read_is_an_error() -> None:
    own, clock = FakeTable([item()]), ManualClock()
    own.down = True
    store = _store(own, None, clock)
    assert asyncio.run(store.get(HOST, "ABC123")).source == "error"
    assert not store.has_fallback


def test_warm_up_reads_both_regions() -> None:
    own, other, clock = FakeTable(), FakeTable(), ManualClock()
    other.down = True
    store = _store(own, other, clock)
    assert asyncio.run(store.warm_up(1.0)) is True
    assert (own.reads, other.reads) == (1, 1)


def test_the_probe_reports_each_region_and_reads_at_most_once_per_interval() -> None:
    own, other, clock = FakeTable(), FakeTable(), ManualClock()
    other.down = True
    probe = StoreProbe(
        {"eu-west-1": own, "eu-central-1": other}, clock=clock, timeout=0.05, interval=10.0
    )

    async def scenario() -> None:
        assert probe.state() == {"eu-west-1": "unknown", "eu-central-1": "unknown"}
        await asyncio.sleep(0.01)
        for _ in range(20):  # health checks within one interval: no new probe
            assert probe.state() == {"eu-west-1": "ok", "eu-central-1": "unreachable"}
        await asyncio.sleep(0.01)
        assert (own.reads, other.reads) == (1, 1)
        other.down = False
        clock.advance(10.0)
        probe.state()
        await asyncio.sleep(0.01)
        assert probe.state()["eu-central-1"] == "ok"
        await probe.close()

    asyncio.run(scenario())
    assert own.keys_read[0][0].endswith(WARM_UP_HOST)

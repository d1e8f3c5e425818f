from __future__ import annotations

import asyncio

from runtime_service.metrics import Metrics
from runtime_service.store import RecordStore
from tests.support.fakes import FakeTable, ManualClock
from tests.support.records import HOST, item
from tests.support.runtime import DEFAULT_FALLBACK


def _store(table: FakeTable, clock: ManualClock, **overrides: float) -> RecordStore:
    options = {"ttl": 60.0, "negative_ttl": 10.0, "stale": 3600.0, "max_size": 100}
    options.update(overrides)
    return RecordStore(
        table,
        clock=clock,
        metrics=Metrics("Test", clock=clock),
        ttl=options["ttl"],
        negative_ttl=options["negative_ttl"],
        stale=options["stale"],
        max_size=int(options["max_size"]),
        default_fallback_url=DEFAULT_FALLBACK,
    )


def test_a_cached_record_is_served_without_a_read() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        first = await store.get(HOST, "ABC123")
        second = await store.get(HOST, "ABC123")
        assert first.source == "dynamodb" and second.source == "cache"
        assert second.link is not None and second.link.link_id == "link-abc123"

    asyncio.run(scenario())
    assert table.reads == 1


def test_concurrent_misses_for_one_key_share_one_read() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        table.gate = asyncio.Event()
        waiting = [asyncio.ensure_future(store.get(HOST, "ABC123")) for _ in range(50)]
        await asyncio.sleep(0)
        table.gate.set()
        results = await asyncio.gather(*waiting)
        assert {r.link.slug for r in results if r.link} == {"ABC123"}

    asyncio.run(scenario())
    assert table.reads == 1


def test_a_cancelled_waiter_does_not_cancel_the_shared_read() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        table.gate = asyncio.Event()
        first = asyncio.ensure_future(store.get(HOST, "ABC123"))
        second = asyncio.ensure_future(store.get(HOST, "ABC123"))
        await asyncio.sleep(0)
        first.cancel()
        table.gate.set()
        result = await second
        assert result.link is not None

    asyncio.run(scenario())
    assert table.reads == 1


def test_unknown_links_are_cached_briefly() -> None:
    table, clock = FakeTable(), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        assert (await store.get(HOST, "NOPE")).link is None
        assert (await store.get(HOST, "NOPE")).link is None
        assert table.reads == 1
        table.put(item("NOPE"))
        clock.advance(10.5)
        assert (await store.get(HOST, "NOPE")).link is not None

    asyncio.run(scenario())
    assert table.reads == 2


def test_the_last_good_record_is_served_while_dynamodb_fails() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        await store.get(HOST, "ABC123")
        table.down = True
        clock.advance(600)  # long past the TTL, within the stale window
        lookup = await store.get(HOST, "ABC123")
        assert lookup.source == "stale" and lookup.link is not None
        reads = table.reads
        # The failed key is not read again at once: the stale record is simply served.
        assert (await store.get(HOST, "ABC123")).link is not None
        assert table.reads == reads
        unknown = await store.get(HOST, "OTHER")
        assert unknown.link is None and unknown.source == "error"

    asyncio.run(scenario())


def test_stale_records_expire_after_the_stale_window() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = _store(table, clock, stale=100.0)

    async def scenario() -> None:
        await store.get(HOST, "ABC123")
        table.down = True
        clock.advance(60 + 101)
        assert (await store.get(HOST, "ABC123")).source == "error"

    asyncio.run(scenario())


def test_a_recently_expired_record_is_answered_at_once_and_refreshed_behind() -> None:
    table, clock = FakeTable([item(destination_url="https://old.example.com/")]), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        await store.get(HOST, "ABC123")
        table.put(item(destination_url="https://new.example.com/"))
        table.gate = asyncio.Event()  # the refresh read will hang until released
        clock.advance(61)
        lookup = await store.get(HOST, "ABC123")
        assert lookup.link is not None
        assert lookup.link.destination_url == "https://old.example.com/"
        table.gate.set()
        await asyncio.sleep(0.01)
        refreshed = await store.get(HOST, "ABC123")
        assert refreshed.link is not None
        assert refreshed.link.destination_url == "https://new.example.com/"

    asyncio.run(scenario())
    assert table.reads == 2


def test_after_repeated_failures_dynamodb_is_not_called_for_a_moment() -> None:
    table, clock = FakeTable(), ManualClock()
    table.down = True
    store = _store(table, clock)

    async def scenario() -> None:
        for index in range(5):
            assert (await store.get(HOST, f"K{index}")).source == "error"
        assert table.reads == 5
        assert (await store.get(HOST, "K9")).source == "error"
        assert table.reads == 5  # circuit open: failed fast, no call
        clock.advance(2.5)
        table.down = False
        table.put(item("K9"))
        assert (await store.get(HOST, "K9")).link is not None

    asyncio.run(scenario())


def test_an_unreadable_record_is_an_error_not_a_crash() -> None:
    broken = item()
    del broken["destination_url"]
    table, clock = FakeTable([broken]), ManualClock()
    store = _store(table, clock)
    lookup = asyncio.run(store.get(HOST, "ABC123"))
    assert lookup.link is None and lookup.source == "error"


def test_routing_rules_are_compiled_once_and_invalid_ones_flagged() -> None:
    rules = {"type": "geo", "de": "https://de.example.com/"}
    table = FakeTable([item("GOOD", routing_rules=rules), item("BAD", routing_rules={"type": "x"})])
    store = _store(table, ManualClock())

    async def scenario() -> None:
        good = (await store.get(HOST, "GOOD")).link
        bad = (await store.get(HOST, "BAD")).link
        assert good is not None and good.routing is not None and good.problem is None
        assert bad is not None and bad.routing is None and bad.problem == "invalid_rules"
        assert (await store.get(HOST, "GOOD")).link is good

    asyncio.run(scenario())


def test_a_hanging_dynamodb_read_is_abandoned_at_the_deadline() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = RecordStore(
        table,
        clock=clock,
        metrics=Metrics("Test", clock=clock),
        ttl=60.0,
        negative_ttl=10.0,
        stale=3600.0,
        max_size=10,
        default_fallback_url=DEFAULT_FALLBACK,
        timeout=0.05,
    )

    async def scenario() -> None:
        await store.get(HOST, "ABC123")
        table.gate = asyncio.Event()  # from now on reads never answer
        clock.advance(3600)
        stale = await asyncio.wait_for(store.get(HOST, "ABC123"), 5)
        assert stale.source == "stale" and stale.link is not None
        unknown = await asyncio.wait_for(store.get(HOST, "OTHER"), 5)
        assert unknown.source == "error"

    asyncio.run(scenario())


def test_the_warm_up_read_asks_for_a_key_no_record_has_and_never_raises() -> None:
    table, clock = FakeTable([item()]), ManualClock()
    store = _store(table, clock)

    async def scenario() -> None:
        assert await store.warm_up(1.0) is True
        table.down = True
        assert await store.warm_up(1.0) is False
        table.down, table.gate = False, asyncio.Event()  # reads never answer
        assert await store.warm_up(0.05) is False
        table.gate = None
        # The warm-up cached nothing: the first visitor's read still goes to DynamoDB.
        assert (await store.get(HOST, "ABC123")).source == "dynamodb"

    asyncio.run(scenario())
    assert table.reads == 4

"""Faults: DynamoDB unreachable, Firehose rejecting records or down, shutdown mid-flight.

Each test drives many requests and checks the two promises: every request is a fast redirect
(never a 5xx), and every click event is delivered or journaled, none lost, none doubled.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path

import httpx

from link_tracking_runtime.events import decode_event
from runtime_service.journal import Journal
from tests.support.fakes import FakeFirehose, Gate
from tests.support.records import HOST, item
from tests.support.runtime import DEFAULT_FALLBACK, Harness


def _ids(harness: Harness) -> list[str]:
    return [e.click_session_id for e in harness.events()]


def _journaled_ids(harness: Harness) -> list[str]:
    return [entry["click_session_id"] for entry in harness.journaled()]


def test_dynamodb_unreachable_cached_links_redirect_unknown_go_to_fallback(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item("HOT"), item("WARM")])

    async def scenario() -> list[httpx.Response]:
        async with harness.client() as client:
            client.headers["host"] = HOST
            await client.get("/HOT")
            await client.get("/WARM")
            harness.table.down = True
            harness.clock.advance(3600)  # every cached record is now past its TTL
            paths = ["/HOT", "/WARM", "/COLD1", "/COLD2"] * 25
            random.Random(7).shuffle(paths)
            return [await client.get(p) for p in paths]

    responses = asyncio.run(scenario())
    assert all(r.status_code == 302 for r in responses)  # zero 5xx
    for response in responses:
        path = response.request.url.path
        location = response.headers["location"]
        if path in ("/HOT", "/WARM"):
            assert location.startswith(f"https://shop.example.com{path.lower()}?click_id=")
        else:
            assert location == DEFAULT_FALLBACK
    outcomes = {e.slug: e.outcome for e in harness.events()}
    assert outcomes["COLD1"] == "error" and outcomes["HOT"] == "ok"


def test_firehose_rejecting_a_share_of_records_loses_none(tmp_path: Path) -> None:
    rng = random.Random(3)
    firehose = FakeFirehose(
        lambda call, index, record: "ServiceUnavailableException" if rng.random() < 0.3 else None
    )
    harness = Harness(
        tmp_path, items=[item()], firehose=firehose, settings={"firehose_max_attempts": 20}
    )

    async def scenario() -> None:
        async with harness.client() as client:
            client.headers["host"] = HOST
            for _ in range(1500):
                assert (await client.get("/ABC123")).status_code == 302

    asyncio.run(scenario())
    delivered = _ids(harness)
    assert len(delivered) == len(set(delivered)) == 1500  # each exactly once
    assert _journaled_ids(harness) == []
    assert any(size < 500 for size in firehose.calls[1:])  # retries carried only the rejected


def test_firehose_down_entirely_journals_and_replays_when_it_returns(tmp_path: Path) -> None:
    firehose = FakeFirehose()
    firehose.down = True
    harness = Harness(tmp_path, items=[item()], firehose=firehose)

    async def scenario() -> None:
        async with harness.client() as client:
            client.headers["host"] = HOST
            for _ in range(800):
                assert (await client.get("/ABC123")).status_code == 302
            emitter = harness.app.emitter
            assert emitter is not None
            await emitter.flush()
            assert len(harness.journaled()) == 800 and firehose.records == []
            firehose.down = False
            harness.clock.advance(30)
            for _ in range(200):
                await asyncio.sleep(0.02)
                if len(firehose.records) == 800 and not harness.journaled():
                    break

    asyncio.run(scenario())
    delivered = _ids(harness)
    assert len(delivered) == len(set(delivered)) == 800
    assert harness.journaled() == []


def test_firehose_down_through_shutdown_journals_everything_for_the_next_process(
    tmp_path: Path,
) -> None:
    firehose = FakeFirehose()
    firehose.down = True
    first = Harness(tmp_path, items=[item()], firehose=firehose)

    async def clicks(harness: Harness, count: int) -> None:
        async with harness.client() as client:
            client.headers["host"] = HOST
            for _ in range(count):
                assert (await client.get("/ABC123")).status_code == 302

    asyncio.run(clicks(first, 120))
    expected = sorted(_journaled_ids(first))
    assert len(set(expected)) == 120
    # The next process finds the journal and replays it once Firehose is back.
    firehose.down = False
    second = Harness(tmp_path, items=[item()], firehose=firehose)

    async def replay() -> None:
        async with second.client():
            for _ in range(200):
                await asyncio.sleep(0.02)
                if len(firehose.records) == 120:
                    break

    asyncio.run(replay())
    assert sorted(decode_event(r).click_session_id for r in firehose.records) == expected
    assert Journal(second.settings.event_journal_dir).count_records() == 0


def test_shutdown_with_events_in_flight_journals_them(tmp_path: Path) -> None:
    class SlowFirehose(FakeFirehose):
        async def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
            await Gate().through()  # the call never comes back before shutdown
            return []

    firehose = SlowFirehose()
    harness = Harness(
        tmp_path, items=[item()], firehose=firehose, settings={"shutdown_flush_seconds": 0.1}
    )

    async def scenario() -> None:
        async with harness.client() as client:
            client.headers["host"] = HOST
            for _ in range(700):
                assert (await client.get("/ABC123")).status_code == 302
            await asyncio.sleep(0.05)  # let the drain take a batch and hang on it

    asyncio.run(scenario())
    journaled = _journaled_ids(harness)
    assert len(journaled) == len(set(journaled)) == 700


def test_a_slow_firehose_gets_several_calls_at_once_and_loses_nothing(tmp_path: Path) -> None:
    """Calls that take long (held here until the clicks are done) are made up to
    ``FIREHOSE_MAX_IN_FLIGHT`` at once while clicks keep being answered."""

    class Slow(FakeFirehose):
        def __init__(self) -> None:
            super().__init__()
            self.gate = Gate()

        async def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
            await self.gate.through()
            return await super().put_record_batch(records)

    firehose = Slow()
    harness = Harness(
        tmp_path, items=[item()], firehose=firehose, settings={"firehose_max_in_flight": 3}
    )

    async def scenario() -> None:
        async with harness.client() as client:
            client.headers["host"] = HOST
            for index in range(2200):
                assert (await client.get("/ABC123")).status_code == 302
                if index % 100 == 0:
                    await asyncio.sleep(0)  # a hit awaits nothing: let the drain run
            await firehose.gate.until_waiting(3)
            assert firehose.gate.waiting == 3  # full batches went out, three at a time
            firehose.gate.open()

    asyncio.run(scenario())
    assert firehose.gate.peak == 3
    delivered = _ids(harness)
    assert len(delivered) == len(set(delivered)) == 2200  # each exactly once
    assert _journaled_ids(harness) == []

"""In-memory stand-ins for the runtime's AWS seams, each able to fail on purpose.

They implement the protocols of :mod:`runtime_service.aws` (``RecordReader``,
``ClickCounter``, ``RecordBatchWriter``, ``SecretReader``); the adapters themselves are tested
against moto in ``tests/runtime/test_aws.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from link_tracking_runtime.record import CLICK_COUNTER_ATTRIBUTE


class Unreachable(ConnectionError):
    """What a fake raises when it is told to be down."""


class ManualClock:
    """A wall clock that only moves when told to."""

    def __init__(self, now: float = 1_767_300_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTable:
    """Items keyed by (PK, SK), resource-layer form; ``down`` makes every call raise."""

    def __init__(self, items: Sequence[Mapping[str, Any]] = ()) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        for item in items:
            self.put(item)
        self.down = False
        self.reads = 0
        #: The key of every read, in order.
        self.keys_read: list[tuple[str, str]] = []
        self.counter_calls = 0
        #: When set, every read waits for it (to hold reads in flight).
        self.gate: asyncio.Event | None = None

    def put(self, item: Mapping[str, Any]) -> None:
        self.items[(item["PK"], item["SK"])] = dict(item)

    async def get_item(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        self.reads += 1
        self.keys_read.append((key["PK"], key["SK"]))
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise Unreachable("dynamodb is down")
        item = self.items.get((key["PK"], key["SK"]))
        return dict(item) if item is not None else None

    async def count_click(self, key: Mapping[str, str], limit: int) -> bool:
        self.counter_calls += 1
        if self.down:
            raise Unreachable("dynamodb is down")
        item = self.items.setdefault((key["PK"], key["SK"]), dict(key))
        count = int(item.get(CLICK_COUNTER_ATTRIBUTE, 0))
        if count >= limit:
            return False
        item[CLICK_COUNTER_ATTRIBUTE] = count + 1
        return True

    async def clicks(self, key: Mapping[str, str]) -> int:
        self.counter_calls += 1
        if self.down:
            raise Unreachable("dynamodb is down")
        return int(self.items.get((key["PK"], key["SK"]), {}).get(CLICK_COUNTER_ATTRIBUTE, 0))


class Gate:
    """Where calls to a slow service wait until :meth:`open`, counting how many wait at once."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self.waiting = 0
        self.peak = 0

    def open(self) -> None:
        self._open.set()

    async def through(self) -> None:
        """Wait here until the gate is open."""
        self.waiting += 1
        self.peak = max(self.peak, self.waiting)
        try:
            await self._open.wait()
        finally:
            self.waiting -= 1

    async def until_waiting(self, count: int) -> None:
        """Turn the event loop until ``count`` calls wait (at most 100 turns: a bound, not
        a timing assertion)."""
        for _ in range(100):
            if self.waiting >= count:
                return
            await asyncio.sleep(0)


class FakeFirehose:
    """Collects records. ``reject(call, index, record)`` returning an error code rejects that
    record in that call; ``down`` makes the whole call raise."""

    def __init__(self, reject: Callable[[int, int, bytes], str | None] | None = None) -> None:
        self.reject = reject
        self.down = False
        self.calls: list[int] = []
        self.records: list[bytes] = []

    async def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        call = len(self.calls)
        self.calls.append(len(records))
        assert len(records) <= 500, "a PutRecordBatch call carries at most 500 records"
        assert sum(len(r) for r in records) <= 4 * 1024 * 1024, "and at most 4 MiB"
        if self.down:
            raise Unreachable("firehose is down")
        results: list[str | None] = []
        for index, record in enumerate(records):
            code = self.reject(call, index, record) if self.reject else None
            if code is None:
                self.records.append(record)
            results.append(code)
        return results


class FakeSecrets:
    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self.secrets = dict(secrets or {})
        self.down = False
        self.calls = 0

    async def get_secret_string(self, secret_id: str) -> str:
        self.calls += 1
        if self.down:
            raise Unreachable("secrets manager is down")
        try:
            return self.secrets[secret_id]
        except KeyError:
            raise LookupError(f"no secret {secret_id}") from None


async def no_sleep(seconds: float) -> None:
    """The emitter's backoff sleep in tests: yields, does not wait."""
    await asyncio.sleep(0)

"""Click events, nothing lost: an in-process buffer drained in the background.

The request path only appends an event to a deque (:meth:`ClickEmitter.emit`, no await, no
I/O): the click event as the contract's decision gives it
(:class:`link_tracking_runtime.click.Decision`, its columns made by the drain), or a
:class:`~link_tracking_runtime.events.ClickEvent`. A background task encodes events with the
contract's :func:`~link_tracking_runtime.events.encode_columns` and sends them in batches of at
most 500 records and 4 MiB (Firehose ``PutRecordBatch`` limits), every
``EVENT_FLUSH_INTERVAL_SECONDS`` or as soon as a full batch is waiting, with up to
``FIREHOSE_MAX_IN_FLIGHT`` calls at once: one process delivers about that many batches per
Firehose response time (one call at a time, 500 records per ~50 ms could not keep up with a
busy worker, whose buffer then grew to ``EVENT_BUFFER_MAX`` and spilled to the journal).

* Only the records Firehose rejected are resent, with jittered exponential backoff, up to
  ``FIREHOSE_MAX_ATTEMPTS`` calls; what is still unsent then goes to the :class:`Journal`.
  Firehose counts as down only when no call for a batch took anything (each failed, or
  rejected every record); a share of rejected records is resent or journaled, not treated as
  an outage.
* A round of the background task sends the events waiting when it starts (and any full
  batch that forms meanwhile), then replays journaled records in full batches (several
  segments merged) until :data:`_REPLAY_ROUND_RECORDS` are sent or a full batch of live events
  waits, so a journal backlog drains under steady traffic too.
* While Firehose is down, what is waiting goes straight to the journal, one segment per
  round, and a probe every few seconds replays the journal; once a call succeeds, replay
  resumes.
* A record over Firehose's 1,000 KiB record limit can never be sent: it is counted and logged
  (never its content), not sent and not journaled.
* :meth:`ClickEmitter.close` (lifespan shutdown) keeps sending for ``SHUTDOWN_FLUSH_SECONDS``
  and journals everything still held, including a batch that was in flight.

With no stream configured, the sink is an NDJSON file (:class:`FileSink`), with the same
batching and journaling.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final, Protocol

from link_tracking_runtime.click import Decision, event_columns
from link_tracking_runtime.events import ClickEvent, encode_columns

from .aws import RecordBatchWriter
from .journal import Journal
from .metrics import Metrics

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_RECORDS",
    "MAX_RECORD_BYTES",
    "ClickEmitter",
    "encode_click_event",
    "EventSink",
    "FileSink",
    "FirehoseSink",
    "InFlight",
]

logger = logging.getLogger(__name__)

MAX_BATCH_RECORDS: Final = 500
MAX_BATCH_BYTES: Final = 4 * 1024 * 1024
MAX_RECORD_BYTES: Final = 1000 * 1024
#: Records per journal segment (a long outage spills many small files, not one huge one).
_SEGMENT_RECORDS: Final = 5000
_BACKOFF_BASE: Final = 0.1
_BACKOFF_CAP: Final = 2.0
#: While the sink is down, how often to probe it (by replaying the journal).
_PROBE_SECONDS: Final = 5.0
#: How often to look for journal segments other processes left, when we have none.
_JOURNAL_SCAN_SECONDS: Final = 30.0
#: Most journaled records one round replays before live events go first again.
_REPLAY_ROUND_RECORDS: Final = 10 * MAX_BATCH_RECORDS
#: Records put in a batch between two turns of the event loop (~0.1-0.2 ms of encoding).
_ENCODE_SLICE: Final = 50


def encode_click_event(event: ClickEvent | Decision) -> bytes:
    """The record of a click (a decision, as the redirect makes it, or an event): the
    contract's :func:`~link_tracking_runtime.events.encode_columns`."""
    return encode_columns(
        event_columns(event) if type(event) is Decision else event.as_dict()  # type: ignore[union-attr]
    )


class EventSink(Protocol):
    async def deliver(self, records: Sequence[bytes]) -> list[bool]:
        """Send one batch; for each record whether it was taken. Raises if the call failed."""


class FirehoseSink:
    def __init__(self, writer: RecordBatchWriter) -> None:
        self._writer = writer

    async def deliver(self, records: Sequence[bytes]) -> list[bool]:
        return [code is None for code in await self._writer.put_record_batch(records)]


class FileSink:
    """Appends batches to a local NDJSON file (the local default when no stream is set)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write per batch with O_APPEND: batches of several processes never interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            view = memoryview(data)
            while view:
                # A local, not view[os.write(...):]: mypyc 2.4 evaluates a slice bound that
                # is a call twice, so the compiled build wrote every batch twice.
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)

    async def deliver(self, records: Sequence[bytes]) -> list[bool]:
        await asyncio.to_thread(self._append, b"".join(records))
        return [True] * len(records)


class InFlight:
    """What the emitter has taken and neither delivered nor journaled yet: the records of each
    batch being sent or journaled, by slot (one per call in flight), and, while the journal is
    replayed, the segments they were claimed from (still on disk until the replay is done with
    them).

    Every change goes through one of its operations: :meth:`take` (a batch leaves the
    buffer, or a resend narrows it), :meth:`done` (delivered or journaled), :meth:`fail` (a
    round broke), :meth:`replay`/:meth:`replayed` (journal segments claimed, then done with)
    and :meth:`release` (shutdown).
    """

    __slots__ = ("batches", "segments")

    def __init__(self) -> None:
        self.batches: dict[int, list[bytes]] = {}
        self.segments: list[Path] = []

    def __len__(self) -> int:
        return sum(len(batch) for batch in self.batches.values())

    @property
    def records(self) -> list[bytes]:
        """Every record in flight, the oldest batch first."""
        return [record for batch in self.batches.values() for record in batch]

    def take(self, records: list[bytes], slot: int = 0) -> list[bytes]:
        """``records`` are now the batch in flight in ``slot`` (replacing what was there);
        returned as given."""
        self.batches[slot] = records
        return records

    def done(self, slot: int = 0) -> None:
        """The batch in flight in ``slot`` was delivered or journaled."""
        self.batches.pop(slot, None)

    def replay(self, segments: list[Path]) -> None:
        """The records about to be sent were claimed from the journal ``segments``."""
        self.segments = segments

    def replayed(self) -> None:
        """The replay is done with its segments (removed, or their rest journaled again)."""
        self.segments = []

    def fail(self) -> list[bytes]:
        """A round broke: the live records to put back at the front of the buffer (none
        while replaying: those are still in the journal). Nothing is in flight after."""
        back = [] if self.segments else self.records
        self.batches = {}
        return back

    def release(self) -> tuple[list[Path], list[bytes]]:
        """At shutdown: the segments of an interrupted replay (to give back to the journal)
        and the live records still in flight (to journal). Nothing is in flight after."""
        segments, records = self.segments, self.records
        self.segments, self.batches = [], {}
        return segments, ([] if segments else records)


async def _until(event: asyncio.Event) -> None:
    await event.wait()


def _first_error(tasks: set[asyncio.Task[None]]) -> BaseException | None:
    """The exception of the first of ``tasks`` (finished) that raised one, if any did."""
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            return task.exception()
    return None


class ClickEmitter:
    def __init__(
        self,
        sink: EventSink,
        journal: Journal,
        *,
        metrics: Metrics,
        clock: Callable[[], float],
        flush_interval: float,
        buffer_max: int,
        max_attempts: int,
        max_in_flight: int = 1,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._sink = sink
        self._journal = journal
        self._metrics = metrics
        self._clock = clock
        self._flush_interval = flush_interval
        self._buffer_max = buffer_max
        self._max_attempts = max_attempts
        #: Most sink calls at once (``FIREHOSE_MAX_IN_FLIGHT``; 1 for the file).
        self._max_in_flight = max_in_flight
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._events: deque[ClickEvent | Decision] = deque()
        #: Encoded records waiting to be (re)sent before newer events.
        self._records: deque[bytes] = deque()
        #: Records taken from the buffer (or the journal) and not yet delivered or journaled.
        self._in_flight = InFlight()
        #: A slot of :attr:`_in_flight` per batch taken.
        self._slots = itertools.count(1)
        self._wake = asyncio.Event()
        #: One drain or replay at a time (the loop, flush() and close() all drain).
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._down_until = 0.0
        self._journal_checked_at = float("-inf")
        self._journal_maybe_pending = True

    # --- the request path ------------------------------------------------------------------

    def emit(self, event: ClickEvent | Decision) -> None:
        """Accept one event. Never blocks, never raises."""
        events = self._events
        events.append(event)
        counters = self._metrics.counters
        counters["EventsEmitted"] = counters.get("EventsEmitted", 0) + 1
        if len(events) >= MAX_BATCH_RECORDS:
            self._wake.set()

    @property
    def held(self) -> int:
        """Events accepted and neither delivered nor journaled yet."""
        return len(self._events) + len(self._records) + len(self._in_flight)

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="click-emitter")

    async def close(self, timeout: float) -> None:
        """Send what is held for up to ``timeout`` seconds, then journal the rest."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        segments, in_flight = self._in_flight.release()
        # Interrupted mid-replay: the records are still in the segments; give them back.
        for segment in segments:
            with contextlib.suppress(FileNotFoundError):  # already done with
                await asyncio.to_thread(self._journal.release, segment)
        slot = next(self._slots)
        leftover = [*in_flight, *self._take_all(slot)]
        if leftover:
            await self._spill(leftover)
            logger.warning("journaled click events at shutdown", extra={"count": len(leftover)})
        self._in_flight.done(slot)

    async def flush(self) -> None:
        """Send everything held now (tests and shutdown use it; the loop does it anyway)."""
        await self._drain()

    # --- the background task ---------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            try:
                await self._drain()
                if not self._closing:
                    await self._replay()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep draining whatever went wrong this round
                logger.exception("click event drain failed")
                # Records taken for this round go back to the front; nothing is dropped.
                self._records.extendleft(reversed(self._in_flight.fail()))
        await self._drain()

    async def _drain(self) -> None:
        async with self._lock:
            await self._drain_locked()

    async def _drain_locked(self) -> None:
        # A round sends what is waiting when it starts; what arrives meanwhile waits for the
        # next round unless it makes a full batch. (Draining until the buffer is empty never
        # ends under steady traffic: clicks arrive during every call, the round goes on with
        # ever smaller batches, and the journal never gets its turn.) Up to
        # ``max_in_flight`` batches are out at once, and a full batch that forms while calls
        # are out goes out too; the round ends when every call came back.
        waiting = len(self._events) + len(self._records)
        sending: set[asyncio.Task[None]] = set()
        failed: BaseException | None = None
        try:
            while failed is None:
                held = len(self._events) + len(self._records)
                if not held or (waiting <= 0 and held < MAX_BATCH_RECORDS):
                    if not sending:
                        break
                    # Until a call comes back or a full batch is waiting (emit() wakes us).
                    self._wake.clear()
                    woken = asyncio.get_running_loop().create_task(_until(self._wake))
                    try:
                        done, sending = await asyncio.wait(
                            {*sending, woken}, return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        woken.cancel()
                    done.discard(woken)
                    sending.discard(woken)
                    failed = _first_error(done)
                    continue
                if len(self._events) > self._buffer_max:
                    excess = len(self._events) - self._buffer_max
                    overflow = [encode_click_event(self._events.popleft()) for _ in range(excess)]
                    slot = next(self._slots)
                    await self._spill(self._in_flight.take(overflow, slot))
                    self._in_flight.done(slot)
                if self._clock() < self._down_until:
                    # Down: everything waiting is journaled in one go, and what arrives
                    # meanwhile waits for the next round (one segment per round, not a trail of
                    # tiny ones that replay would then send a few records at a time).
                    slot = next(self._slots)
                    await self._spill(self._take_all(slot))
                    self._in_flight.done(slot)
                    waiting = 0
                    if not sending:
                        break
                    continue
                if len(sending) >= self._max_in_flight:
                    done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                    failed = _first_error(done)
                    continue  # the sink may be down now: looked at again before the next batch
                slot = next(self._slots)
                batch = await self._take_batch(slot)
                waiting -= len(batch)
                if not batch:
                    self._in_flight.done(slot)
                    continue
                sending.add(asyncio.get_running_loop().create_task(self._deliver(batch, slot)))
        except BaseException:
            # Cancelled (shutdown) or broken: the calls still out are stopped; their records
            # stay in flight, for close() to journal or the loop to put back. (Not awaited:
            # a cancelled call leaves the bookkeeping as it is.)
            for task in sending:
                task.cancel()
            raise
        if failed is not None:
            # One call broke: the others finish first (each delivers or journals its batch),
            # then the loop puts back what the broken one held.
            if sending:
                await asyncio.wait(sending)
            raise failed

    async def _deliver(self, batch: list[bytes], slot: int) -> None:
        """Send ``batch`` (in flight in ``slot``); journal what the sink would not take."""
        unsent = await self._send(batch, slot)
        if unsent:
            await self._spill(unsent)
            self._in_flight.done(slot)

    async def _take_batch(self, slot: int) -> list[bytes]:
        """The next batch, in flight in ``slot`` from the start: at most
        :data:`MAX_BATCH_RECORDS` records and :data:`MAX_BATCH_BYTES`, filled
        :data:`_ENCODE_SLICE` records at a time with a turn of the event loop between, so
        requests are not held up behind a whole batch's encoding."""
        batch = self._in_flight.take([], slot)
        size = 0
        while True:
            asked = min(MAX_BATCH_RECORDS - len(batch), _ENCODE_SLICE)
            before = len(batch)
            size += self._fill(batch, asked, MAX_BATCH_BYTES - size)
            if len(batch) - before < asked or len(batch) >= MAX_BATCH_RECORDS:
                # Full, at the byte limit, or nothing more waiting.
                return batch
            await asyncio.sleep(0)

    def _fill(self, batch: list[bytes], room: int, limit: int) -> int:
        """Appends to ``batch`` (in flight already: nothing taken is ever outside the buffer
        and the flight) up to ``room`` records and ``limit`` bytes: records waiting to be
        resent first, then events encoded in order; the bytes appended. An oversized record is
        counted and dropped; the record that would overflow the byte limit stays first in
        line, encoded.
        """
        size = 0
        records = self._records
        append = batch.append
        while records and room:
            record = records[0]
            if len(record) > MAX_RECORD_BYTES:
                records.popleft()
                self._oversized(record)
                continue
            if size + len(record) > limit:
                return size
            records.popleft()
            append(record)
            size += len(record)
            room -= 1
        # One pass per event, locals only (the drain runs once per click): encoded before it
        # leaves the buffer, so an event that cannot be encoded is never dropped unseen.
        events = self._events
        while room and events:
            record = encode_click_event(events[0])
            events.popleft()
            length = len(record)
            if length > MAX_RECORD_BYTES:
                self._oversized(record)
                continue
            if size + length > limit:
                # Keep the encoded form so it is not encoded twice.
                records.appendleft(record)
                break
            size += length
            append(record)
            room -= 1
        return size

    def _oversized(self, record: bytes) -> None:
        self._metrics.count("EventsOversized")
        logger.error(
            "click event over the Firehose record limit, not sent", extra={"bytes": len(record)}
        )

    def _take_all(self, slot: int) -> list[bytes]:
        """Every record waiting, in flight in ``slot`` (oversized ones counted and dropped, as
        in a batch)."""
        batch = self._in_flight.take([], slot)
        self._fill(batch, sys.maxsize, sys.maxsize)
        return batch

    async def _send(self, records: list[bytes], slot: int) -> list[bytes]:
        """Deliver ``records`` (in flight in ``slot``), resending only failures; what is still
        unsent at the end (still in flight: the caller journals it)."""
        pending = records
        total = 0
        for attempt in range(self._max_attempts):
            self._in_flight.take(pending, slot)
            try:
                taken = await self._sink.deliver(pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._metrics.count("SinkCallFailed")
                logger.warning(
                    "click event batch call failed",
                    extra={"records": len(pending), "error": f"{type(exc).__name__}: {exc}"},
                )
                taken = [False] * len(pending)
            delivered = sum(taken)
            total += delivered
            if delivered:
                self._metrics.count("EventsDelivered", delivered)
            if delivered == len(pending):
                pending = []
            else:
                pending = [record for record, ok in zip(pending, taken, strict=True) if not ok]
            if not pending:
                self._in_flight.done(slot)
                self._down_until = 0.0
                return []
            self._metrics.count("EventsRejected", len(pending))
            if attempt + 1 < self._max_attempts:
                delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
                await self._sleep(delay * (0.5 + self._rng.random() / 2))
        if not total:
            # No call took anything (each failed, or rejected every record): the sink is
            # down. Records rejected while others go through are only journaled: a share of
            # rejections (throttling of a busy stream) is not an outage, and treating it as
            # one would journal all traffic for the probe interval.
            self._down_until = self._clock() + _PROBE_SECONDS
        return pending

    async def _spill(self, records: list[bytes]) -> None:
        for start in range(0, len(records), _SEGMENT_RECORDS):
            chunk = records[start : start + _SEGMENT_RECORDS]
            await asyncio.to_thread(self._journal.append, chunk)
            self._metrics.count("EventsJournaled", len(chunk))
        self._journal_maybe_pending = True

    async def _replay(self) -> None:
        """Replay journaled records, when the sink is up and live events are not waiting."""
        async with self._lock:
            await self._replay_locked()

    async def _replay_locked(self) -> None:
        now = self._clock()
        if now < self._down_until:
            return  # while down, replaying is the probe, every few seconds
        if len(self._events) + len(self._records) >= MAX_BATCH_RECORDS:
            return  # a full batch of live events goes first
        recently_checked = now - self._journal_checked_at < _JOURNAL_SCAN_SECONDS
        if not self._journal_maybe_pending and recently_checked:
            return
        self._journal_checked_at = now
        replayed = 0
        # Until the round's share is sent, or a full batch of live events is waiting.
        while replayed < _REPLAY_ROUND_RECORDS and len(self._events) < MAX_BATCH_RECORDS:
            segments, records = await asyncio.to_thread(self._claim_batch)
            if not segments:
                self._journal_maybe_pending = False
                return
            self._in_flight.replay(segments)
            failed = False
            slot = next(self._slots)
            for start in range(0, len(records), MAX_BATCH_RECORDS):
                chunk = records[start : start + MAX_BATCH_RECORDS]
                unsent = await self._send(chunk, slot)
                self._in_flight.done(slot)
                sent = len(chunk) - len(unsent)
                if sent:
                    self._metrics.count("EventsReplayed", sent)
                if unsent:
                    rest = unsent + records[start + MAX_BATCH_RECORDS :]
                    await asyncio.to_thread(self._journal.append, rest)
                    failed = True
                    break
            await asyncio.to_thread(self._done, segments)
            self._in_flight.replayed()
            self._journal_maybe_pending = True
            replayed += len(records)
            if failed:
                return

    def _done(self, segments: list[Path]) -> None:
        """Remove replayed segments (one thread hop for all of them). Runs in a thread."""
        for segment in segments:
            self._journal.done(segment)

    def _claim_batch(self) -> tuple[list[Path], list[bytes]]:
        """Claim journal segments, oldest first, until they hold a full batch (or none is
        left); the segments and their records. Runs in a thread."""
        segments: list[Path] = []
        records: list[bytes] = []
        while len(records) < MAX_BATCH_RECORDS:
            segment = self._journal.claim()
            if segment is None:
                break
            segments.append(segment)
            records += self._journal.read(segment)
        return segments, records

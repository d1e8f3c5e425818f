"""Click events, nothing lost: an in-process buffer drained in the background.

The request path only appends an event to a deque (:meth:`ClickEmitter.emit`, no await, no
I/O): the click event as the contract's decision gives it
(:class:`link_tracking_runtime.click.Decision`, its columns made by the drain), or a
:class:`~link_tracking_runtime.events.ClickEvent`. A background task encodes events with the
contract's :func:`~link_tracking_runtime.events.encode_columns` and sends them in batches of at
most 500 records and 4 MiB (Firehose ``PutRecordBatch`` limits), every
``EVENT_FLUSH_INTERVAL_SECONDS`` or as soon as a full batch is waiting.

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
import logging
import os
import random
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
    """What the emitter has taken and neither delivered nor journaled yet: the records of the
    one batch being sent or journaled, and, while the journal is replayed, the segments they
    were claimed from (still on disk until the replay is done with them).

    Every change goes through one of its operations: :meth:`take` (a batch leaves the
    buffer, or a resend narrows it), :meth:`done` (delivered or journaled), :meth:`fail` (a
    round broke), :meth:`replay`/:meth:`replayed` (journal segments claimed, then done with)
    and :meth:`release` (shutdown).
    """

    __slots__ = ("records", "segments")

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.segments: list[Path] = []

    def __len__(self) -> int:
        return len(self.records)

    def take(self, records: list[bytes]) -> list[bytes]:
        """``records`` are now the batch in flight (replacing what was); returned as given."""
        self.records = records
        return records

    def done(self) -> None:
        """The batch in flight was delivered or journaled."""
        self.records = []

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
        self.records = []
        return back

    def release(self) -> tuple[list[Path], list[bytes]]:
        """At shutdown: the segments of an interrupted replay (to give back to the journal)
        and the live records still in flight (to journal). Nothing is in flight after."""
        segments, records = self.segments, self.records
        self.segments, self.records = [], []
        return segments, ([] if segments else records)


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
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._events: deque[ClickEvent | Decision] = deque()
        #: Encoded records waiting to be (re)sent before newer events.
        self._records: deque[bytes] = deque()
        #: Records taken from the buffer (or the journal) and not yet delivered or journaled.
        self._in_flight = InFlight()
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
        leftover = [*in_flight, *self._records, *self._encode_all()]
        self._records.clear()
        if leftover:
            await self._spill(leftover)
            logger.warning("journaled click events at shutdown", extra={"count": len(leftover)})

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
        # ever smaller batches, and the journal never gets its turn.)
        waiting = len(self._events) + len(self._records)
        while self._events or self._records:
            if waiting <= 0 and len(self._events) + len(self._records) < MAX_BATCH_RECORDS:
                return
            if len(self._events) > self._buffer_max:
                excess = len(self._events) - self._buffer_max
                overflow = [encode_click_event(self._events.popleft()) for _ in range(excess)]
                await self._spill(self._in_flight.take(overflow))
                self._in_flight.done()
            if self._clock() < self._down_until:
                # Down: everything waiting is journaled in one go, and what arrives meanwhile
                # waits for the next round (one segment per round, not a trail of tiny ones
                # that replay would then send a few records at a time).
                await self._spill(self._take_all())
                self._in_flight.done()
                return
            batch = self._take_batch()
            waiting -= len(batch)
            if not batch:
                continue
            unsent = await self._send(batch)
            if unsent:
                await self._spill(unsent)
                self._in_flight.done()

    def _take_batch(self) -> list[bytes]:
        """The next batch: records waiting to be resent first, then events encoded in order;
        at most :data:`MAX_BATCH_RECORDS` records and :data:`MAX_BATCH_BYTES`. An oversized
        record is counted and dropped; the record that would overflow the byte limit stays
        first in line, encoded."""
        batch: list[bytes] = []
        size = 0
        records = self._records
        while records and len(batch) < MAX_BATCH_RECORDS:
            record = records[0]
            if len(record) > MAX_RECORD_BYTES:
                records.popleft()
                self._oversized(record)
                continue
            if size + len(record) > MAX_BATCH_BYTES:
                return self._in_flight.take(batch)
            records.popleft()
            batch.append(record)
            size += len(record)
        # One pass per event, locals only (the drain runs once per click): encoded before it
        # leaves the buffer, so an event that cannot be encoded is never dropped unseen.
        events = self._events
        append = batch.append
        room = MAX_BATCH_RECORDS - len(batch)
        while room and events:
            record = encode_click_event(events[0])
            events.popleft()
            length = len(record)
            if length > MAX_RECORD_BYTES:
                self._oversized(record)
                continue
            size += length
            if size > MAX_BATCH_BYTES:
                # Keep the encoded form so it is not encoded twice.
                records.appendleft(record)
                break
            append(record)
            room -= 1
        return self._in_flight.take(batch)

    def _oversized(self, record: bytes) -> None:
        self._metrics.count("EventsOversized")
        logger.error(
            "click event over the Firehose record limit, not sent", extra={"bytes": len(record)}
        )

    def _take_all(self) -> list[bytes]:
        """Every record waiting (oversized ones counted and dropped, as in a batch)."""
        records: list[bytes] = []
        while batch := self._take_batch():
            records += batch
        return self._in_flight.take(records)

    def _encode_all(self) -> list[bytes]:
        records = []
        while self._events:
            record = encode_click_event(self._events.popleft())
            if len(record) > MAX_RECORD_BYTES:
                self._metrics.count("EventsOversized")
                continue
            records.append(record)
        return records

    async def _send(self, records: list[bytes]) -> list[bytes]:
        """Deliver ``records``, resending only failures; what is still unsent at the end."""
        pending = records
        total = 0
        for attempt in range(self._max_attempts):
            self._in_flight.take(pending)
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
                self._in_flight.done()
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
            for start in range(0, len(records), MAX_BATCH_RECORDS):
                chunk = records[start : start + MAX_BATCH_RECORDS]
                unsent = await self._send(chunk)
                self._in_flight.done()
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

"""Runtime records by host and slug: cache first, DynamoDB on a miss, never a stall.

* A fresh cached record is answered without awaiting anything; one that expired less than a
  TTL ago is answered too while a background read refreshes it (stale while revalidate).
* Concurrent misses for one key share one GetItem (the read runs in its own task, so a
  visitor who disconnects does not cancel it for the others).
* "No such link" is cached for a short while (negative caching).
* When DynamoDB fails, the last good record is served for up to ``CACHE_STALE_SECONDS`` past
  its TTL, and the key is not retried for a few seconds; after several failures in a row the
  store stops calling DynamoDB for a moment (a small circuit breaker), so misses fail fast
  instead of each waiting for a timeout.
* With a second region's replica (``fallback``, the table's other replica), a read that fails
  or misses its deadline in the own region is made again there, under its own deadline; while
  the own region's breaker is open, misses go to the other region at once. A value read there
  is cached like any other (``source == "replica"``). Only when both fail is the lookup an
  error.
* Each record read is compiled once (:func:`link_tracking_runtime.click.compile_link`: routing,
  ``Location`` templates, the click event's constant columns) and the cache holds the compiled
  link, evicted with it by the same LRU.

:class:`RecordStore` holds links by host and slug; :class:`AppLinksStore` holds domains'
app-links records (:mod:`link_tracking_runtime.applinks`) by host, with the same caching
(:class:`CachedItems`, one implementation) in a cache of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, Literal, TypeVar

from link_tracking_runtime import InvalidRecord, RuntimeRecord, from_item, item_key
from link_tracking_runtime.applinks import AppLinksRecord, app_links_key, from_app_links_item
from link_tracking_runtime.click import CompiledLink, compile_link

from .aws import RecordReader
from .cache import TTLCache
from .metrics import Metrics

__all__ = ["AppLinksStore", "Breaker", "CachedItems", "Lookup", "RecordStore", "StoreProbe"]

logger = logging.getLogger(__name__)

#: After a failed read, the key is not read again for this long (its stale value is served).
_ERROR_RETRY_SECONDS: Final = 2.0
#: Consecutive DynamoDB failures that open the circuit, and for how long it stays open.
_BREAKER_THRESHOLD: Final = 5
_BREAKER_OPEN_SECONDS: Final = 2.0
#: The host of the key read once at startup (``.invalid`` is reserved: no record has it).
WARM_UP_HOST: Final = "warm-up.invalid"

Source = Literal["cache", "dynamodb", "replica", "stale", "error"]
V = TypeVar("V")


class Lookup(Generic[V]):
    """The outcome of a lookup: ``link`` (the compiled link, or the store's value) is ``None``
    when there is no such item (``source`` ``cache``/``dynamodb``/``replica``) or when it
    could not be read (``source == "error"``). ``replica``: read from the fallback region.

    A plain slotted class rather than a frozen dataclass: mypyc cannot compile a generic
    dataclass with ``slots=True`` (the compiled build)."""

    __slots__ = ("link", "source")

    def __init__(self, link: V | None, source: Source) -> None:
        self.link: Final = link
        self.source: Final = source

    def __repr__(self) -> str:
        return f"Lookup(link={self.link!r}, source={self.source!r})"


def prepare(
    record: RuntimeRecord, default_fallback_url: str, key: tuple[str, str] | None = None
) -> CompiledLink:
    """The compiled link of ``record`` (read for the cache's ``key``); a record the contract
    would not have written is logged here, once per version (its clicks go to the fallback
    and are counted)."""
    link = compile_link(record, default_fallback_url, key)
    if link.problem is not None:
        logger.warning(
            "runtime record cannot send visitors to its destination",
            extra={"domain": record.domain, "slug": record.slug, "problem": link.problem},
        )
    return link


class Breaker:
    """A small circuit breaker over one region's reads: after :data:`_BREAKER_THRESHOLD`
    failures in a row it stays open for :data:`_BREAKER_OPEN_SECONDS` (misses do not wait for a
    deadline that will pass), then lets reads through again; one success closes it."""

    __slots__ = ("_clock", "_failures", "_open_until")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    def allows(self) -> bool:
        return self._clock() >= self._open_until

    def failed(self) -> None:
        self._failures += 1
        if self._failures >= _BREAKER_THRESHOLD:
            self._open_until = self._clock() + _BREAKER_OPEN_SECONDS

    def succeeded(self) -> None:
        self._failures = 0


class CachedItems(Generic[V]):
    """Items of the runtime table by a ``(host, name)`` key, cached as described above; a
    subclass says which item a key means (:meth:`_item_key`) and what is cached of it
    (:meth:`_build`)."""

    def __init__(
        self,
        reader: RecordReader,
        *,
        clock: Callable[[], float],
        metrics: Metrics,
        ttl: float,
        negative_ttl: float,
        stale: float,
        max_size: int,
        default_fallback_url: str,
        timeout: float = 0.5,
        fallback: RecordReader | None = None,
    ) -> None:
        self._reader = reader
        self._default_fallback_url = default_fallback_url
        self._timeout = timeout
        self._clock = clock
        self._metrics = metrics
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._stale = stale
        self._cache: TTLCache[V | None] = TTLCache(max_size)
        self._inflight: dict[tuple[str, str], asyncio.Task[Lookup[V]]] = {}
        self._breaker = Breaker(clock)
        self._fallback = fallback
        self._fallback_breaker = Breaker(clock)

    @property
    def has_fallback(self) -> bool:
        """Whether a second region's replica is read when the own region's read fails."""
        return self._fallback is not None

    def _item_key(self, key: tuple[str, str]) -> dict[str, str]:
        raise NotImplementedError

    def _build(self, key: tuple[str, str], item: Mapping[str, Any]) -> V:
        raise NotImplementedError

    async def warm_up(self, timeout: float) -> bool:
        """Read one key no item has, so the first visitor does not pay the client's one-time
        costs (connection, credentials, endpoint rules, the operation's model): on a busy host
        they alone can outlast the request path's ``timeout``. The fallback region's replica,
        if any, is read at the same time, for the same reason. True when the own region's
        DynamoDB answered; a failure is logged and the runtime starts anyway (a miss then
        degrades as usual)."""
        readers = [self._reader] if self._fallback is None else [self._reader, self._fallback]
        key = self._item_key((WARM_UP_HOST, "warm-up"))
        results = await asyncio.gather(
            *(asyncio.wait_for(reader.get_item(key), timeout) for reader in readers),
            return_exceptions=True,
        )
        for region, result in zip(("own", "fallback"), results, strict=False):
            if isinstance(result, BaseException):
                # An outage at startup must not stop the runtime starting.
                logger.warning(
                    "dynamodb warm-up read failed",
                    extra={"region": region, "error": f"{type(result).__name__}: {result}"},
                )
        return not isinstance(results[0], BaseException)

    async def get(self, host: str, slug: str) -> Lookup[V]:
        """The value for canonical ``host`` and ``slug``."""
        key = (host, slug)
        now = self._clock()
        entry = self._cache.get(key, now)
        if entry is not None:
            if entry.is_fresh(now):
                self._metrics.count("CacheHit")
                return Lookup(entry.value, "cache")
            if entry.value is not None and now < entry.fresh_until + self._ttl:
                # Recently expired: answer now, refresh in the background (stale while
                # revalidate), so a hot link never waits for DynamoDB when its TTL runs out.
                self._metrics.count("CacheHitRefreshing")
                self._read(key)
                return Lookup(entry.value, "cache")
        if key in self._inflight:
            self._metrics.count("CacheMissCoalesced")
        else:
            self._metrics.count("CacheMiss")
        # shield: a cancelled visitor request must not cancel the read the others wait for.
        return await asyncio.shield(self._read(key))

    def _read(self, key: tuple[str, str]) -> asyncio.Task[Lookup[V]]:
        """The read of ``key`` in flight, started if there is none (one read per key)."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return task

    def invalidate(self, host: str, slug: str) -> None:
        self._cache.delete((host, slug))

    async def _load(self, key: tuple[str, str]) -> Lookup[V]:
        if not self._breaker.allows():
            self._metrics.count("DynamoDBSkipped")
            return await self._load_fallback(key)
        try:
            # One deadline over the whole read, retries and connection set-up included.
            item = await asyncio.wait_for(self._reader.get_item(self._item_key(key)), self._timeout)
            link = self._build(key, item) if item is not None else None
        except InvalidRecord as exc:
            # A record this runtime cannot read is a publishing bug, not an outage; treat it
            # like a failed read so a previous good version is still served.
            logger.error(
                "unreadable runtime record", extra={"key": "/".join(key), "error": str(exc)}
            )
            self._metrics.count("RecordInvalid")
            return self._on_error(key, self._clock())
        # Not `as exc` again: a compiled build gives one name one type across except clauses.
        except Exception as error:  # any client, network or timeout error: degrade, never raise
            self._breaker.failed()
            logger.warning(
                "dynamodb read failed",
                extra={"key": "/".join(key), "error": f"{type(error).__name__}: {error}"},
            )
            self._metrics.count("DynamoDBError")
            return await self._load_fallback(key)
        self._breaker.succeeded()
        return self._loaded(key, link, "dynamodb")

    async def _load_fallback(self, key: tuple[str, str]) -> Lookup[V]:
        """After the own region's read failed (or was skipped): the other region's replica,
        under its own deadline, when there is one; else what :meth:`_on_error` gives."""
        fallback = self._fallback
        if fallback is None or not self._fallback_breaker.allows():
            return self._on_error(key, self._clock())
        try:
            item = await asyncio.wait_for(fallback.get_item(self._item_key(key)), self._timeout)
            link = self._build(key, item) if item is not None else None
        except Exception as error:  # InvalidRecord included: the replicas hold the same item
            self._fallback_breaker.failed()
            logger.warning(
                "dynamodb fallback region read failed",
                extra={"key": "/".join(key), "error": f"{type(error).__name__}: {error}"},
            )
            self._metrics.count("DynamoDBFallbackError")
            return self._on_error(key, self._clock())
        self._fallback_breaker.succeeded()
        self._metrics.count("DynamoDBFallbackRead")
        return self._loaded(key, link, "replica")

    def _loaded(self, key: tuple[str, str], link: V | None, source: Source) -> Lookup[V]:
        now = self._clock()
        if link is None:
            self._cache.set(key, None, now, self._negative_ttl)
        else:
            self._cache.set(key, link, now, self._ttl, self._stale)
        return Lookup(link, source)

    def _on_error(self, key: tuple[str, str], now: float) -> Lookup[V]:
        entry = self._cache.get(key, now)
        if entry is None:
            return Lookup(None, "error")
        # Keep serving what we had, and do not ask DynamoDB again for this key for a moment.
        self._cache.set(
            key,
            entry.value,
            now,
            _ERROR_RETRY_SECONDS,
            max(0.0, entry.stale_until - now - _ERROR_RETRY_SECONDS),
        )
        if entry.value is None:
            return Lookup(None, "cache")
        self._metrics.count("CacheStaleServed")
        return Lookup(entry.value, "stale")


class RecordStore(CachedItems[CompiledLink]):
    """Compiled links by canonical host and slug."""

    def hit(self, key: tuple[str, str], now: float) -> CompiledLink | None:
        """The link of a *fresh* cache entry for ``key``, counted and marked used as
        :meth:`get` does; ``None`` for anything else (then :meth:`get`, which counts it)."""
        link = self._cache.fresh(key, now)
        if link is not None:
            counters = self._metrics.counters
            counters["CacheHit"] = counters.get("CacheHit", 0) + 1
        return link

    def _item_key(self, key: tuple[str, str]) -> dict[str, str]:
        return item_key(*key)

    def _build(self, key: tuple[str, str], item: Mapping[str, Any]) -> CompiledLink:
        return prepare(from_item(item), self._default_fallback_url, key)


class AppLinksStore(CachedItems[AppLinksRecord]):
    """Domains' app-links records by canonical host (the slug half of the key is ``""``)."""

    async def record(self, host: str) -> Lookup[AppLinksRecord]:
        return await self.get(host, "")

    def _item_key(self, key: tuple[str, str]) -> dict[str, str]:
        return app_links_key(key[0])

    def _build(self, key: tuple[str, str], item: Mapping[str, Any]) -> AppLinksRecord:
        return from_app_links_item(item)


#: How long a probe's answer stands before ``/health`` asks for a new one.
PROBE_INTERVAL_SECONDS: Final = 10.0
#: A region's state as ``/health`` shows it.
ProbeState = Literal["unknown", "ok", "unreachable"]


class StoreProbe:
    """Whether each region's replica answers, as ``/health`` reports it: one ``GetItem`` of a
    key no item has (:data:`WARM_UP_HOST`) per region, at most once per ``interval``, in the
    background; :meth:`state` never awaits, it answers with the last probe's result and starts
    the next one when that result is older than ``interval``."""

    def __init__(
        self,
        readers: Mapping[str, RecordReader],
        *,
        clock: Callable[[], float],
        timeout: float,
        interval: float = PROBE_INTERVAL_SECONDS,
    ) -> None:
        self._readers = dict(readers)
        self._clock = clock
        self._timeout = timeout
        self._interval = interval
        self._states: dict[str, ProbeState] = dict.fromkeys(self._readers, "unknown")
        self._checked_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def state(self) -> dict[str, ProbeState]:
        """Each region's last known state (``unknown`` before the first probe)."""
        if (
            self._task is None or self._task.done()
        ) and self._clock() - self._checked_at >= self._interval:
            self._checked_at = self._clock()
            self._task = asyncio.get_running_loop().create_task(self.probe())
        return dict(self._states)

    async def probe(self) -> None:
        """Read the probe key from every region at once and record which answered."""
        regions = list(self._readers)
        results = await asyncio.gather(
            *(self._probe_one(self._readers[region]) for region in regions)
        )
        for region, ok in zip(regions, results, strict=True):
            self._states[region] = "ok" if ok else "unreachable"
        self._checked_at = self._clock()

    async def _probe_one(self, reader: RecordReader) -> bool:
        try:
            await asyncio.wait_for(reader.get_item(item_key(WARM_UP_HOST, "PROBE")), self._timeout)
        except Exception:  # any failure is "unreachable"; the store logs its own reads
            return False
        return True

    async def close(self) -> None:
        """Wait for a probe in flight (at most one deadline), so none outlives the clients."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task

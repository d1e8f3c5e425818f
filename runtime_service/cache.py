"""An in-process TTL + LRU cache that remembers expired values for a while.

An entry is *fresh* until its TTL passes and *stale* after that, until its stale window passes
too. The record store serves fresh entries, refreshes stale ones, and falls back to a stale one
when DynamoDB fails, so a link that worked a minute ago keeps working through an outage.
Single-threaded by design: it lives on one event loop and never awaits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["CacheEntry", "TTLCache"]

V = TypeVar("V")


class CacheEntry(Generic[V]):
    """One cached value: fresh until ``fresh_until``, then stale for ``stale`` seconds more.

    The stale window, not its end, is kept: every entry of a cache shares the one float of its
    setting (a cache of 100,000 entries keeps one float each, not two)."""

    __slots__ = ("fresh_until", "stale", "value")

    def __init__(self, value: V, fresh_until: float, stale: float) -> None:
        self.value = value
        self.fresh_until = fresh_until
        self.stale = stale

    @property
    def stale_until(self) -> float:
        return self.fresh_until + self.stale

    def is_fresh(self, now: float) -> bool:
        return now < self.fresh_until


class TTLCache(Generic[V]):
    """At most ``max_size`` entries; the least recently used goes first."""

    def __init__(self, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._entries: OrderedDict[Hashable, CacheEntry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: float) -> CacheEntry[V] | None:
        """The entry for ``key`` if it is fresh or still stale-usable, else ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry.fresh_until + max(entry.stale, 0.0):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def fresh(self, key: Hashable, now: float) -> V | None:
        """The value of a *fresh* entry for ``key``, marked most recently used; ``None``,
        with nothing done, when there is none (then :meth:`get` tells stale from missing)."""
        entry = self._entries.get(key)
        if entry is None or now >= entry.fresh_until:
            return None
        self._entries.move_to_end(key)
        return entry.value

    def peek(self, key: Hashable) -> CacheEntry[V] | None:
        """The entry for ``key`` as it is (fresh, stale or expired), without touching it."""
        return self._entries.get(key)

    def touch(self, key: Hashable) -> None:
        """Mark ``key`` most recently used (what :meth:`get` does for an entry it returns)."""
        self._entries.move_to_end(key)

    def set(self, key: Hashable, value: V, now: float, ttl: float, stale: float = 0.0) -> None:
        """Store ``value`` fresh for ``ttl`` seconds, then stale for ``stale`` more."""
        self._entries[key] = CacheEntry(value, now + ttl, stale)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def delete(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

from __future__ import annotations

import pytest

from runtime_service.cache import TTLCache


def test_fresh_then_stale_then_gone() -> None:
    cache: TTLCache[str] = TTLCache(10)
    cache.set("k", "v", now=100.0, ttl=10.0, stale=5.0)
    entry = cache.get("k", 105.0)
    assert entry is not None and entry.is_fresh(105.0) and entry.value == "v"
    entry = cache.get("k", 112.0)
    assert entry is not None and not entry.is_fresh(112.0)
    assert cache.get("k", 115.0) is None
    assert len(cache) == 0


def test_least_recently_used_is_evicted_first() -> None:
    cache: TTLCache[int] = TTLCache(2)
    cache.set("a", 1, now=0.0, ttl=60.0)
    cache.set("b", 2, now=0.0, ttl=60.0)
    assert cache.get("a", 1.0) is not None  # a is now the most recently used
    cache.set("c", 3, now=1.0, ttl=60.0)
    assert cache.get("b", 1.0) is None
    assert cache.get("a", 1.0) is not None and cache.get("c", 1.0) is not None


def test_delete_and_clear() -> None:
    cache: TTLCache[int] = TTLCache(5)
    cache.set("a", 1, now=0.0, ttl=60.0)
    cache.set("b", 2, now=0.0, ttl=60.0)
    cache.delete("a")
    assert cache.get("a", 0.0) is None
    cache.clear()
    assert len(cache) == 0


@pytest.mark.interpreted_only(
    "the compiled build keeps a float attribute unboxed: there is no object to share"
)
def test_entries_share_the_stale_window_they_were_set_with() -> None:
    cache: TTLCache[int] = TTLCache(5)
    stale = float("3600")
    cache.set("a", 1, now=0.0, ttl=60.0, stale=stale)
    cache.set("b", 2, now=5.0, ttl=60.0, stale=stale)
    a, b = cache.peek("a"), cache.peek("b")
    assert a is not None and b is not None
    assert a.stale is b.stale
    assert (a.stale_until, b.stale_until) == (3660.0, 3665.0)

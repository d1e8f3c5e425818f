"""The scale benchmark's in-process harness runs and measures what it says (tiny sizes; the
figures themselves are not asserted: a benchmark's times are not a test's business)."""

from __future__ import annotations

import asyncio

from benchmarks.runtime_bench import bench_record
from benchmarks.scale_bench import HOST, GeneratedTable, measure
from link_tracking_runtime import from_item, item_key


def test_the_generated_table_reads_back_each_link_and_nothing_else() -> None:
    table = GeneratedTable(3)
    item = asyncio.run(table.get_item(item_key(HOST, "l2")))
    assert item is not None
    assert from_item(item) == bench_record("L2", "link-2")
    assert asyncio.run(table.get_item(item_key(HOST, "L3"))) is None
    assert asyncio.run(table.get_item(item_key("other.example.com", "L1"))) is None
    assert asyncio.run(table.get_item(item_key(HOST, "ABC"))) is None


def test_links_that_fit_the_cache_are_all_hits_after_the_warm_pass() -> None:
    result = measure(5, cache_max_size=5, clicks=40, passes=2, flush_interval=0.01)
    assert result["cached"] == 5
    assert result["miss_share"] == 0.0
    assert result["clicks_per_pass"] == 40
    # Every click (warm pass and measured passes) emitted one event and the drain wrote it.
    assert result["events_emitted"] == 5 + 2 * 40
    assert result["events_delivered"] == result["events_emitted"]
    assert result["cpu_us"] > 0 and result["rss_mib"] > 0


def test_links_that_do_not_fit_a_bounded_cache_miss_in_turn() -> None:
    # Clicked in turn, 5 links through an LRU of 4 evict each other: every click misses.
    result = measure(5, cache_max_size=4, clicks=20, passes=1, flush_interval=0.01)
    assert result["cached"] == 4
    assert result["miss_share"] == 1.0

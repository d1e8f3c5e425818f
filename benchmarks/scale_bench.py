"""How a click's cost grows with the number of links: CPU per click and RSS, in process.

    python benchmarks/scale_bench.py [--links 1,1000,100000,1000000] [--cache fit,10000]

For each number of links N and each cache bound (``fit``: ``CACHE_MAX_SIZE`` = N, so every
link stays cached; or a number, e.g. the default 10,000), a fresh Python process builds the
runtime as :func:`benchmarks.runtime_bench.in_process_hit_cost` does (the app called directly,
no server; origin check and rate limit on; click events to an NDJSON file, the background
drain included) over a store of N links, and clicks links ``/L0`` … ``/L{N-1}`` in turn:

* a **warm pass** clicks every link once (each a cache miss: read, compile, cache);
* then **measured passes** click them in turn again, at least ``--clicks`` clicks per pass
  (N = 1 clicks its one link ``--clicks`` times), each pass followed by the drain of its
  events, and its process CPU time divided by its clicks is the CPU per click;
* the process's resident memory (``VmRSS``) is read after start-up (before any click) and
  after the last pass, with the number of cached links and the misses of the measured passes.

The store is :class:`GeneratedTable`: it makes link ``L{i}``'s DynamoDB item when it is read,
as moto or DynamoDB would return it, so that 1,000,000 links cost no memory in the store and
the RSS is the runtime's own (the interpreter, the app, the cache). A miss costs what the
runtime does with an item (``from_item``, ``compile_link``), not a network read. Not a test:
it prints a table, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.runtime_bench import HOST, ORIGIN_SECRET, USER_AGENT  # noqa: E402
from link_tracking_runtime import RuntimeRecord, item_key, to_item  # noqa: E402

DEFAULT_LINKS = (1, 1_000, 5_000, 9_000, 12_000, 20_000, 100_000, 1_000_000)


def link_record(i: int) -> RuntimeRecord:
    """Link ``L{i}``, shaped like the runtime benchmark's links."""
    slug = f"L{i}"
    return RuntimeRecord(
        domain=HOST,
        slug=slug,
        link_id=f"link-{i}",
        destination_url=f"https://shop.example.com/{slug.lower()}?ref=bench",
        fallback_url=f"https://{HOST}/disabled",
        active=True,
        runtime_version=1,
        resolved_query_params={"utm_source": "sms", "utm_campaign": "BENCH"},
        dynamic_param_allowlist=("click_id", "sms_msg_id"),
        campaign_id="BENCH",
        channel="sms",
    )


class GeneratedTable:
    """A read-only runtime table of links ``L0`` … ``L{links-1}`` made on read (no memory
    per link): the item :func:`link_record` would have been published as."""

    def __init__(self, links: int) -> None:
        self.links = links
        self.reads = 0
        self._key = item_key(HOST, "L")  # the key of slug "L": link "L{i}" adds i

    async def get_item(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        self.reads += 1
        sk = self._key["SK"]
        number = key["SK"][len(sk) :] if key["SK"].startswith(sk) else ""
        if key["PK"] != self._key["PK"] or not number.isdigit() or int(number) >= self.links:
            return None
        return to_item(link_record(int(number)))

    async def count_click(self, key: Mapping[str, str], limit: int) -> bool:
        raise AssertionError("no link of this benchmark has max_clicks")

    async def clicks(self, key: Mapping[str, str]) -> int:
        raise AssertionError("no link of this benchmark has max_clicks")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    links: int,
    cache_max_size: int,
    clicks: int,
    passes: int,
    flush_interval: float = 1.0,
    trace: bool = False,
) -> dict[str, float]:
    """One size, in this process: see the module's docstring. Click events are flushed every
    ``flush_interval`` seconds, as in the runtime benchmark. ``trace``: print where the memory
    the cached links keep was allocated (tracemalloc from before the warm pass to after the
    first measured pass, bytes per link by source line); the CPU figures are then not
    comparable."""
    from runtime_service.app import Backends, create_app
    from tests.support.fakes import FakeSecrets, no_sleep
    from tests.support.runtime import make_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(
            Path(tmp),
            rate_limit_per_minute=100_000_000,
            rate_limit_burst=1_000_000,
            origin_verify_secret=(ORIGIN_SECRET,),
            event_flush_interval_seconds=flush_interval,
            # Nothing expires during the run: a steady state of cached links.
            cache_ttl_seconds=86_400.0,
            cache_max_size=cache_max_size,
        )
        table = GeneratedTable(links)
        app = create_app(
            settings,
            backends=Backends(table, table, FakeSecrets()),  # type: ignore[arg-type]
            sleep=no_sleep,
            metrics_stream=io.StringIO(),
        )
        scope: dict[str, Any] = {
            "type": "http",
            "method": "GET",
            "path": "/L0",
            "query_string": b"sms_msg_id=42",
            "client": ("127.0.0.1", 50000),
            "headers": [
                (b"host", HOST.encode()),
                (b"x-origin-verify", ORIGIN_SECRET.encode()),
                (b"user-agent", USER_AGENT.encode()),
            ],
        }
        events = Path(settings.click_events_file)

        async def send(message: object) -> None:
            return None

        async def receive() -> dict[str, object]:
            return {}

        async def click_pass(count: int) -> None:
            for i in range(count):
                scope["path"] = f"/L{i % links}"
                await app(scope, receive, send)
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the drain run, as the server would
            await asyncio.sleep(flush_interval + 0.1)  # the pass's last events drained (idle)
            events.unlink(missing_ok=True)  # 1M links write ~0.5 GB a pass; the cost is the same

        async def drive() -> dict[str, float]:
            await app.startup()
            try:
                rss_start = _rss_mib()
                if trace:
                    tracemalloc.start()
                    before = tracemalloc.take_snapshot()
                warm_start = time.process_time()
                await click_pass(links)
                warm_us = (time.process_time() - warm_start) / links * 1e6
                gc.collect()
                counters = app.metrics.counters
                misses_before = counters.get("CacheMiss", 0)
                per_click = []
                count = max(links, clicks)
                # Large sizes: fewer passes (1,000,000 links is one pass of a million clicks).
                passes_run = max(1, min(passes, max(3 * clicks, links) // count))
                for _ in range(passes_run):
                    start = time.process_time()
                    await click_pass(count)
                    per_click.append((time.process_time() - start) / count * 1e6)
                    if trace and len(per_click) == 1:
                        gc.collect()
                        _print_trace(
                            tracemalloc.take_snapshot().compare_to(before, "lineno"), links
                        )
                        tracemalloc.stop()
                misses = counters.get("CacheMiss", 0) - misses_before
                journaled = counters.get("EventsJournaled", 0)
                if journaled:
                    raise SystemExit(f"the run journaled {journaled} events")
                assert app.store is not None
                return {
                    "links": links,
                    "cache_max_size": cache_max_size,
                    "cached": len(app.store._cache),
                    "warm_us": warm_us,
                    "cpu_us": statistics.median(per_click),
                    "cpu_us_min": min(per_click),
                    "cpu_us_max": max(per_click),
                    "clicks_per_pass": count,
                    "passes": passes_run,
                    "miss_share": misses / (count * passes_run),
                    "events_emitted": counters.get("EventsEmitted", 0),
                    "events_delivered": counters.get("EventsDelivered", 0),
                    "rss_start_mib": rss_start,
                    "rss_mib": _rss_mib(),
                }
            finally:
                await app.shutdown()

        return asyncio.run(drive())


def _print_trace(diffs: list[tracemalloc.StatisticDiff], links: int) -> None:
    kept = [d for d in diffs if d.size_diff > 0]
    total = sum(d.size_diff for d in kept)
    print(f"kept: {total / links:,.0f} bytes per link, by where it was allocated:", file=sys.stderr)
    root = str(ROOT) + os.sep
    for diff in kept[:20]:
        frame = diff.traceback[0]
        place = f"{frame.filename.removeprefix(root)}:{frame.lineno}"
        print(
            f"  {diff.size_diff / links:6.0f} B/link  {diff.count_diff / links:4.1f} blocks/link  "
            f"{place}",
            file=sys.stderr,
        )


def run_one(links: int, cache_max_size: int, clicks: int, passes: int) -> dict[str, float]:
    """:func:`measure` in a fresh process, so that each size's RSS is its own."""
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            str(links),
            "--cache-max-size",
            str(cache_max_size),
            "--clicks",
            str(clicks),
            "--passes",
            str(passes),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--links", default=",".join(map(str, DEFAULT_LINKS)), help="comma-separated sizes"
    )
    parser.add_argument(
        "--cache",
        default="fit,10000",
        help="comma-separated CACHE_MAX_SIZE values; 'fit' is the number of links",
    )
    parser.add_argument("--clicks", type=int, default=200_000, help="minimum clicks per pass")
    parser.add_argument(
        "--passes",
        type=int,
        default=3,
        help="measured passes (median); fewer when one pass of N links exceeds 3 x --clicks",
    )
    parser.add_argument(
        "--trace",
        type=int,
        metavar="LINKS",
        help="only this many links (cache fits), with tracemalloc: where the memory goes",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cache-max-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        result = measure(args.one, args.cache_max_size, args.clicks, args.passes)
        print(json.dumps(result))
        return

    if args.trace:
        print(json.dumps(measure(args.trace, args.trace, args.clicks, 1, trace=True)))
        return
    sizes = [int(n) for n in args.links.split(",")]
    rows = []
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for bound in args.cache.split(","):
        for links in sizes:
            cache_max_size = links if bound == "fit" else int(bound)
            if bound != "fit" and links <= cache_max_size and "fit" in args.cache:
                continue  # the same run as "fit"
            result = run_one(links, cache_max_size, args.clicks, args.passes)
            rows.append(result)
            print(json.dumps(result), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    print(
        f"in process, {args.passes} measured passes of at least {args.clicks:,} clicks "
        "(median, min-max), after a warm pass; click events to a file, drain included"
    )
    print()
    print(
        "| links | CACHE_MAX_SIZE | cached | passes x clicks | CPU µs/click | min-max | misses "
        "| warm pass µs/click | RSS MiB at start | RSS MiB after | RSS above start |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['links']:,} | {r['cache_max_size']:,} | {r['cached']:,} "
            f"| {r['passes']:.0f} x {r['clicks_per_pass']:,.0f} | {r['cpu_us']:.1f} "
            f"| {r['cpu_us_min']:.1f}-{r['cpu_us_max']:.1f} | {r['miss_share']:.0%} "
            f"| {r['warm_us']:.1f} | {r['rss_start_mib']:.0f} | {r['rss_mib']:.0f} "
            f"| {r['rss_mib'] - r['rss_start_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()

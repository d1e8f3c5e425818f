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
* the process's resident memory (``VmRSS``) is read after start-up (before any click), after
  the warm pass (every link cached, few events buffered: a miss is slow) and after the last
  pass (which adds the high-water mark of the click events buffered between drains at full
  speed), with the number of cached links and the misses of the measured passes.

The measured process loads what the runtime's image has: not httpx, which the development
virtualenv installs for tests and aiobotocore imports when it is there (with rich and
pygments, ~6 MiB), nor the benchmarks' process harness (Celery, boto3, moto).

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

from benchmarks.runtime_bench import (  # noqa: E402
    HOST,
    bench_record,
    discard,
    in_process_hit,
    no_body,
)
from link_tracking_runtime import item_key, to_item  # noqa: E402

DEFAULT_LINKS = (1, 1_000, 5_000, 9_000, 12_000, 20_000, 100_000, 1_000_000)


class GeneratedTable:
    """A read-only runtime table of links ``L0`` … ``L{links-1}`` made on read (no memory
    per link): link ``L{i}`` is :func:`benchmarks.runtime_bench.bench_record`, as published."""

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
        return to_item(bench_record(f"L{number}", f"link-{number}"))

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
    with tempfile.TemporaryDirectory() as tmp:
        app, scope = in_process_hit(
            Path(tmp),
            GeneratedTable(links),
            event_flush_interval_seconds=flush_interval,
            # Nothing expires during the run: a steady state of cached links.
            cache_ttl_seconds=86_400.0,
            cache_max_size=cache_max_size,
        )
        scope["path"] = "/L0"
        events = Path(app.settings.click_events_file)

        async def click_pass(count: int) -> None:
            for i in range(count):
                scope["path"] = f"/L{i % links}"
                await app(scope, no_body, discard)
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
                rss_warm = _rss_mib()
                counters = app.metrics.counters
                misses_before = counters.get("CacheMiss", 0)
                per_click = []
                count = max(links, clicks)
                # Large sizes: fewer passes (1,000,000 links is one pass of a million clicks).
                # --passes 0: the warm pass only (a large bounded cache: its RSS, not its CPU).
                passes_run = passes and max(1, min(passes, max(3 * clicks, links) // count))
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
                    "cpu_us": statistics.median(per_click or [warm_us]),
                    "cpu_us_min": min(per_click or [warm_us]),
                    "cpu_us_max": max(per_click or [warm_us]),
                    "clicks_per_pass": count,
                    "passes": passes_run,
                    "miss_share": misses / (count * passes_run) if passes_run else 1.0,
                    "events_emitted": counters.get("EventsEmitted", 0),
                    "events_delivered": counters.get("EventsDelivered", 0),
                    "rss_start_mib": rss_start,
                    "rss_warm_mib": rss_warm,
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


#: The child process of :func:`run_one`: imports the two packages first (from the source tree
#: when it leads ``sys.path``, else from the interpreter's site-packages: the compiled build),
#: then the harness from the tree, and prints the figures and where the packages came from.
#: It cannot import httpx, as in the runtime's image (``requirements/runtime.txt`` has none;
#: the development virtualenv has it, and aiobotocore imports it when it can).
_MEASURE = """
import json, sys
sys.modules["httpx"] = None  # not in the runtime's image (see the module's docstring)
{prefix}
import link_tracking_runtime, runtime_service.redirect
sys.path.insert(0, {root!r})
from benchmarks.scale_bench import measure
result = measure({links}, {cache_max_size}, {clicks}, {passes})
print(json.dumps({{**result, "module": runtime_service.redirect.__file__}}))
"""


def run_one(
    links: int, cache_max_size: int, clicks: int, passes: int, compiled_python: str | None = None
) -> dict[str, float]:
    """:func:`measure` in a fresh process, so that each size's RSS is its own: of this
    interpreter and this tree, or of ``compiled_python``'s installed (compiled) build."""
    python = os.path.abspath(compiled_python) if compiled_python else sys.executable
    prefix = "" if compiled_python else f"sys.path.insert(0, {str(ROOT)!r})"
    code = _MEASURE.format(
        prefix=prefix,
        root=str(ROOT),
        links=links,
        cache_max_size=cache_max_size,
        clicks=clicks,
        passes=passes,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as empty:  # cwd: nothing there shadows site-packages
        output = subprocess.run(
            [python, "-c", code], cwd=empty, env=env, capture_output=True, text=True, check=True
        ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    if result.pop("module").endswith(".so") != bool(compiled_python):
        sys.exit(f"{python} did not import the build it was meant to (make compiled)")
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
        help="measured passes (median); fewer when one pass of N links exceeds 3 x --clicks; "
        "0: the warm pass only (its CPU per click is the misses')",
    )
    parser.add_argument(
        "--trace",
        type=int,
        metavar="LINKS",
        help="only this many links (cache fits), with tracemalloc: where the memory goes",
    )
    parser.add_argument(
        "--compiled-python",
        metavar="PYTHON",
        help="measure the compiled build installed in this interpreter (.venv-compiled/bin/python "
        "after `make compiled`) instead of this tree's pure Python",
    )
    args = parser.parse_args()

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
            result = run_one(links, cache_max_size, args.clicks, args.passes, args.compiled_python)
            rows.append(result)
            print(json.dumps(result), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    build = "compiled (" + args.compiled_python + ")" if args.compiled_python else "pure Python"
    print(
        f"{build}, in process, {args.passes} measured passes of at least {args.clicks:,} clicks "
        "(median, min-max), after a warm pass; click events to a file, drain included"
    )
    print()
    print(
        "| links | CACHE_MAX_SIZE | cached | passes x clicks | CPU µs/click | min-max | misses "
        "| warm pass µs/click | RSS MiB at start | after the warm pass | after the passes "
        "| bytes per cached link (warm) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['links']:,} | {r['cache_max_size']:,} | {r['cached']:,} "
            f"| {r['passes']:.0f} x {r['clicks_per_pass']:,.0f} | {r['cpu_us']:.1f} "
            f"| {r['cpu_us_min']:.1f}-{r['cpu_us_max']:.1f} | {r['miss_share']:.0%} "
            f"| {r['warm_us']:.1f} | {r['rss_start_mib']:.0f} | {r['rss_warm_mib']:.0f} "
            f"| {r['rss_mib']:.0f} "
            f"| {(r['rss_warm_mib'] - r['rss_start_mib']) * 2**20 / r['cached']:,.0f} |"
        )


if __name__ == "__main__":
    main()

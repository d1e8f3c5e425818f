"""Click-event delivery against a slow Firehose: does a busy worker's drain keep up?

    python benchmarks/delivery_bench.py       # --firehose-ms 50 --duration 8 --rounds 2

One runtime worker (uvicorn, as ``runtime_bench`` serves it) is driven at saturation by
``wrk -c16`` on the cache-hit URL for ``--duration`` seconds, its click events going to a
Firehose stream on moto behind :mod:`benchmarks.delay_proxy`, which holds every answer back
``--firehose-ms`` (Firehose's own ``PutRecordBatch`` answers in tens of milliseconds; moto
on loopback in about one). Two cases, in interleaved rounds, so the baseline is measured in the
same run: ``FIREHOSE_MAX_IN_FLIGHT=1`` (one call at a time, as the runtime sent before the
setting existed) and the default.

For each: clicks/s served; the most click events the process held (``/health``'s
``events_held``, polled every 0.1 s); the events journaled because the buffer passed
``EVENT_BUFFER_MAX`` (its default, 100,000) and those delivered, from the runtime's metrics
(one EMF line a second here); how long after the load stopped the buffer took to empty; the
worker's RSS at the end of the load.

What it shows: whether delivery keeps pace with clicks when each call takes a realistic time.
What it does not: Firehose's own throughput quotas (per stream, not per process), or CPU per
click (``runtime_bench``). moto shares the two cores with the worker and wrk, so the clicks/s
of the two cases differ by how much moto has to take in. Measures and prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.runtime_bench import (  # noqa: E402
    _server,
    _wrk,
    bench_stack,
    rss_mib,
    start_delay_proxy,
)
from tests.support.load import emf_counters  # noqa: E402

HIT = "/ABC123?sms_msg_id=42"


def _held(base: str) -> int:
    with urllib.request.urlopen(base + "/health", timeout=5) as response:
        return int(json.loads(response.read()).get("events_held", 0))


def one_case(env: dict[str, str], work: Path, name: str, duration: int) -> dict[str, Any]:
    log = work / f"{name}.log"
    # A journal of its own: another case's journaled events are not this one's to replay.
    env = {**env, "EVENT_JOURNAL_DIR": str(work / f"{name}-journal")}
    with _server("runtime_service.asgi:app", env, log) as (base, pid):
        _wrk(base + HIT, 1, 16)  # warm up (the link cached)
        while _held(base):
            time.sleep(0.1)
        peak = 0
        stop = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _held(base))
                time.sleep(0.1)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            sample = _wrk(base + HIT, duration, 16)
        finally:
            stop.set()
            poller.join()
        rss = rss_mib(pid)
        stopped = time.monotonic()
        while _held(base) and time.monotonic() - stopped < 120:
            time.sleep(0.1)
        catch_up = time.monotonic() - stopped
        time.sleep(1.5)  # the last metrics line
        counters = emf_counters(log.read_text())
    return {
        "rps": sample["rps"],
        "peak_held": peak,
        "catch_up_s": catch_up,
        "rss_mib": rss,
        "delivered": counters.get("EventsDelivered", 0),
        "journaled": counters.get("EventsJournaled", 0),
        "emitted": counters.get("EventsEmitted", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--firehose-ms", type=float, default=50.0)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per case")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (medians)")
    args = parser.parse_args()
    with bench_stack() as stack:
        port, proxy = start_delay_proxy(
            stack.aws.endpoint_url,
            args.firehose_ms / 1000.0,
            stack.work / "proxy.log",
            responses=True,
        )
        env = {
            **stack.env,
            "AWS_ENDPOINT_URL_FIREHOSE": f"http://127.0.0.1:{port}",
            "METRICS_INTERVAL_SECONDS": "1",
        }
        cases = {"one call at a time (FIREHOSE_MAX_IN_FLIGHT=1)": "1", "default (8)": "8"}
        results: dict[str, list[dict[str, Any]]] = {}
        try:
            for round_ in range(args.rounds):
                for index, (case, in_flight) in enumerate(cases.items()):
                    result = one_case(
                        {**env, "FIREHOSE_MAX_IN_FLIGHT": in_flight},
                        stack.work,
                        f"r{round_}c{index}",
                        args.duration,
                    )
                    results.setdefault(case, []).append(result)
                    print(f"{case}: {result}", flush=True)
        finally:
            proxy.stop()
    print()
    print(
        f"Click events to Firehose answering in {args.firehose_ms:.0f} ms (moto behind a delay "
        f"proxy), one worker at saturation for {args.duration} s, median of {args.rounds} rounds"
    )
    print()
    print(
        "| case | clicks/s | most events held | journaled | delivered | "
        "buffer empty after load (s) | RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case, runs in results.items():
        m = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"| {case} | {m['rps']:,.0f} | {m['peak_held']:,.0f} | {m['journaled']:,.0f} | "
            f"{m['delivered']:,.0f} | {m['catch_up_s']:.1f} | {m['rss_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()

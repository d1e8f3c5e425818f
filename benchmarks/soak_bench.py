"""Soak: the runtime held at 80% of its measured maximum for a minute, click events on.

    python benchmarks/soak_bench.py [--duration 60] [--window 10] [--connections 32]

Starts a moto server holding the published links and a Firehose stream (to S3), and one
runtime worker exactly as ``benchmarks/runtime_bench.py`` runs its *hit* case (same links,
environment, uvicorn flags, core pinning; its helpers are imported). Then:

1. the maximum: ``wrk`` unthrottled for ``--max-seconds`` (after a 1 s warm-up);
2. the target, ``--share`` (80%) of that, reached with a wrk Lua script whose ``delay()``
   spaces each connection's requests (calibrated by two 2 s runs, since each connection's
   cycle is the delay plus the response time);
3. the soak: consecutive ``--window``-second wrk runs at the target until ``--duration``
   has passed, each reporting its rate, errors (non-3xx and socket errors), p50 and p99, and
   the server's CPU per request and resident memory;
4. the runtime is stopped (SIGTERM: buffered events are flushed), and the click events
   accepted (wrk's responses that were redirects; the runtime's own ``EventsEmitted``) are
   compared with those delivered to S3 and any left in the journal.

Prints a table; asserts nothing. Loopback only; about ``--duration`` + 15 s.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.runtime_bench import (  # noqa: E402
    UVICORN_FLAGS,
    _cpu_seconds,
    _rate_script,
    _server,
    _wrk,
    bench_stack,
    rss_mib,
)
from runtime_service.journal import Journal  # noqa: E402
from tests.support.load import emf_counters  # noqa: E402
from tests.support.stack import LocalAws  # noqa: E402

HIT_URL = "/ABC123?sms_msg_id=42"
_CLICK_ID = re.compile(rb'"click_session_id":"([^"]+)"')


def _delivered(aws: LocalAws, bucket: str) -> tuple[int, int]:
    """Click events in the bucket: (records, distinct click ids)."""
    records = 0
    ids: set[bytes] = set()
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            body = aws.s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            found = _CLICK_ID.findall(body)
            records += len(found)
            ids.update(found)
    return records, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="soak seconds (at the target)")
    parser.add_argument("--window", type=int, default=10, help="seconds per reported window")
    parser.add_argument("--max-seconds", type=int, default=5, help="seconds of the max run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--share", type=float, default=0.8, help="target share of the max")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get update && apt-get install -y wrk")

    with bench_stack() as stack:
        work, aws, bucket = stack.work, stack.aws, stack.bucket
        env = {**stack.env, "METRICS_INTERVAL_SECONDS": "10"}
        log = work / "runtime.log"
        connections = args.connections
        windows: list[dict[str, float]] = []
        with _server("runtime_service.asgi:app", env, log) as (base, pid):
            url = base + HIT_URL
            warm = _wrk(url, 1, connections)  # warm up
            peak = _wrk(url, args.max_seconds, connections)
            target = args.share * peak["rps"]
            print(f"max: {peak['rps']:.0f} requests/s; target {target:.0f}/s", flush=True)

            # Calibrate the delay: a connection's cycle is its delay plus the response time
            # (and wrk's own), which grows with the rate; two 2 s tries.
            per_connection = 1000.0 * connections / target  # ms per request, per connection
            wait = per_connection
            trials = []
            for attempt in range(2):
                trial = _wrk(url, 2, connections, _rate_script(work, wait, 1000 + attempt))
                trials.append(trial)
                overhead = 1000.0 * connections / trial["rps"] - wait
                wait = max(0.0, per_connection - overhead)
            print(f"calibrated: delay {wait:.2f} ms per connection", flush=True)

            started = time.monotonic()
            index = 0
            while time.monotonic() - started < args.duration - 0.5:
                index += 1
                cpu_before = _cpu_seconds(pid)
                sample = _wrk(url, args.window, connections, _rate_script(work, wait, index))
                sample["cpu_us"] = (
                    (_cpu_seconds(pid) - cpu_before) / max(1.0, sample["requests"]) * 1e6
                )
                sample["rss_mib"] = rss_mib(pid)
                windows.append(sample)
                print(f"window {index}: {sample}", flush=True)
            soaked = time.monotonic() - started
        # The server was stopped with SIGTERM on leaving the block: events flushed.
        output = log.read_text(errors="replace")
        counters = emf_counters(output)
        records, distinct = _delivered(aws, bucket)
        journaled = Journal(work / "journal").count_records()

    redirects = sum(w["requests"] - w["errors"] for w in windows)
    # wrk counts the responses it read; a request cut off at the end of a run still got its
    # redirect and its event, so the runtime's count can exceed wrk's by a few per run.
    answered = redirects + sum(r["requests"] - r["errors"] for r in (warm, peak, *trials))
    print()
    print(
        f"wrk -t1 -c{connections}, uvicorn {' '.join(UVICORN_FLAGS)}, click events to Firehose "
        f"on moto; max {peak['rps']:.0f}/s, target {target:.0f}/s ({args.share:.0%}), "
        f"{soaked:.0f} s at the target"
    )
    print()
    print(
        "| window | seconds | requests/s | non-3xx | socket errors | p50 ms | p99 ms "
        "| server CPU µs/request | server RSS MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for number, w in enumerate(windows, 1):
        print(
            f"| {number} | {args.window} | {w['rps']:.0f} | {w['errors']:.0f} "
            f"| {w['socket_errors']:.0f} | {w['p50']:.2f} | {w['p99']:.2f} | {w['cpu_us']:.0f} "
            f"| {w['rss_mib']:.0f} |"
        )
    first, last = windows[0], windows[-1]
    print()
    print(
        f"p99 first window {first['p99']:.2f} ms, last {last['p99']:.2f} ms: "
        f"last/first {last['p99'] / first['p99']:.2f}"
    )
    print(
        f"rate first {first['rps']:.0f}/s, last {last['rps']:.0f}/s; "
        f"errors {sum(w['errors'] + w['socket_errors'] for w in windows):.0f}"
    )
    print(
        f"click events: redirects wrk read {answered:.0f} ({redirects:.0f} in the windows, the "
        "rest in the warm-up, max and calibration runs); runtime EventsEmitted "
        f"{counters['EventsEmitted']}, EventsDelivered {counters['EventsDelivered']}, "
        f"EventsJournaled {counters['EventsJournaled']}; in S3 {records} records, "
        f"{distinct} distinct click ids; left in the journal {journaled}; "
        f"accepted - delivered - journaled = "
        f"{counters['EventsEmitted'] - distinct - journaled}"
    )


if __name__ == "__main__":
    main()

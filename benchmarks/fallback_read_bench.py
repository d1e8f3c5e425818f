"""The cost of a cache miss served by the other region's replica, against the normal miss.

    python benchmarks/fallback_read_bench.py --rounds 5 --requests 300 --delay-ms 5

Two DynamoDB stand-ins (:mod:`benchmarks.fake_dynamodb`, each answering ``GetItem`` after
``--delay-ms``) are the two regions' replicas. A :class:`runtime_service.store.RecordStore` with
the runtime's own ``DynamoGetItem`` reads (one aiohttp pool per region, one attempt in the own
region and two in the other, as ``runtime_service.aws.AwsServices`` opens them) reads one link per request, one request at a
time, its cache cleared before each, in four cases interleaved in every round so that all share
the machine's load:

* ``own``: the own region answers (the normal miss, the baseline);
* ``fallback, refused``: the own region refuses the connection (its endpoint is gone, as when
  the region's DynamoDB is lost), the breaker kept closed, so every request tries it first;
* ``fallback, breaker open``: the same outage in its steady state (after five failures the own
  region is not tried for two seconds): the fallback read alone;
* ``fallback, deadline``: the own region accepts the connection and never answers (a
  blackhole): the request waits ``DYNAMODB_TIMEOUT_SECONDS`` (``--timeout``) first, by design;
  ``--slow-requests`` of them a round.

Printed per case: median of the rounds' p50 and p99 latency (ms) and CPU of this process per
request (µs), and their ratio to ``own``. Measures and prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from botocore.credentials import Credentials
from botocore.session import get_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.runtime_bench import HOST, LINKS, uvicorn_command  # noqa: E402
from devsite.processes import free_port, start_process, wait_for_http  # noqa: E402
from runtime_service.aws import OWN_READ_ATTEMPTS_WITH_FALLBACK, DynamoGetItem  # noqa: E402
from runtime_service.metrics import Metrics  # noqa: E402
from runtime_service.store import RecordStore  # noqa: E402

TABLE = "link-runtime-bench"
CASES = ("own", "fallback, refused", "fallback, breaker open", "fallback, deadline")


class _Frozen:
    """Static credentials in the shape ``DynamoGetItem`` asks for (frozen afresh each call)."""

    def __init__(self) -> None:
        self._credentials = Credentials("testing", "testing", "testing")

    async def get_frozen_credentials(self) -> object:
        return self._credentials.get_frozen_credentials()


@contextlib.contextmanager
def _stand_in(delay_ms: float, log: Path) -> Iterator[str]:
    port = free_port()
    process = start_process(
        uvicorn_command("benchmarks.fake_dynamodb:app", port),
        env={"FAKE_DYNAMODB_DELAY_MS": str(delay_ms), "PYTHONPATH": os.getcwd()},
        log_path=log,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=30, proc=process.popen)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@contextlib.contextmanager
def _blackhole() -> Iterator[str]:
    """An endpoint that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _round(
    own: dict[str, str], other: str, requests: int, slow: int, timeout: float
) -> dict[str, tuple[float, float, float]]:
    model = get_session().get_service_model("dynamodb").operation_model("GetItem")
    credentials = _Frozen()
    results: dict[str, tuple[float, float, float]] = {}
    async with contextlib.AsyncExitStack() as stack:

        async def reads(endpoint: str, region: str, attempts: int = 2) -> DynamoGetItem:
            http = await stack.enter_async_context(
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout),
                    connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=12),
                )
            )
            return DynamoGetItem(
                http, credentials, endpoint, region, TABLE, model, max_attempts=attempts
            )

        fallback = await reads(other, "eu-central-1")
        for case in CASES:
            endpoint = own["up" if case == "own" else "deadline" if "deadline" in case else "gone"]
            store = RecordStore(
                # As AwsServices opens the own region's reads when a fallback region is set.
                await reads(endpoint, "eu-west-1", OWN_READ_ATTEMPTS_WITH_FALLBACK),
                clock=time.time,
                metrics=Metrics("Bench", clock=time.time),
                ttl=60.0,
                negative_ttl=10.0,
                stale=0.0,
                max_size=LINKS + 10,
                default_fallback_url="https://www.example.com/",
                timeout=timeout,
                fallback=fallback,
            )
            count = slow if "deadline" in case else requests
            await store.get(HOST, "L0")  # connections opened before the clock starts
            latencies: list[float] = []
            cpu = time.process_time()
            for n in range(count):
                store._cache.clear()
                if case != "fallback, breaker open":
                    store._breaker.succeeded()  # keep trying the own region first
                started = time.perf_counter()
                lookup = await store.get(HOST, f"L{n % LINKS}")
                latencies.append((time.perf_counter() - started) * 1000)
                expected = "dynamodb" if case == "own" else "replica"
                assert lookup.source == expected and lookup.link is not None, (case, lookup)
            cpu_us = (time.process_time() - cpu) / count * 1e6
            results[case] = (_percentile(latencies, 0.5), _percentile(latencies, 0.99), cpu_us)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300, help="per fast case and round")
    parser.add_argument("--slow-requests", type=int, default=5, help="deadline case, per round")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="each stand-in's latency")
    parser.add_argument("--timeout", type=float, default=0.5, help="DYNAMODB_TIMEOUT_SECONDS")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one "read failed" line per request would be measured
    work = Path("var/bench-fallback")
    work.mkdir(parents=True, exist_ok=True)
    with (
        _stand_in(args.delay_ms, work / "own.log") as up,
        _stand_in(args.delay_ms, work / "other.log") as other,
        _blackhole() as deadline,
    ):
        gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        own = {"up": up, "gone": gone, "deadline": deadline}
        rounds: list[dict[str, tuple[float, float, float]]] = []
        for number in range(args.rounds):
            result = asyncio.run(
                _round(own, other, args.requests, args.slow_requests, args.timeout)
            )
            rounds.append(result)
            shown = {case: tuple(round(v, 2) for v in values) for case, values in result.items()}
            print(f"round {number}: {shown}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}; stand-ins answer in {args.delay_ms:g} ms")
    print("| case | p50 ms | p99 ms | CPU µs/request | p50 / own | CPU / own |")
    print("|---|---:|---:|---:|---:|---:|")
    medians = {
        case: tuple(statistics.median(r[case][i] for r in rounds) for i in range(3))
        for case in CASES
    }
    base = medians["own"]
    for case, (p50, p99, cpu) in medians.items():
        print(
            f"| {case} | {p50:.2f} | {p99:.2f} | {cpu:.0f} | {p50 / base[0]:.2f}x | "
            f"{cpu / base[2]:.2f}x |"
        )


if __name__ == "__main__":
    main()

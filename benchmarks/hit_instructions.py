"""Instructions per cache-hit click, in process and under uvicorn, counted by callgrind.

    apt-get install -y valgrind wrk                  # once
    python benchmarks/hit_instructions.py            # --requests 2000 --seconds 8 --rounds 2

Time on a shared 2-core machine moves by 10-20% between minutes; instructions executed do
not. Valgrind's callgrind counts the user-space instructions of a process with
instrumentation switched on (``callgrind_control -i on``) only around the measured part:

* **in process**: the runtime benchmark's cache hit (``runtime_bench.in_process_hit_cost``'s
  app, request and in-memory DynamoDB; origin check and rate limit on; click events to an
  NDJSON file), ``--requests`` hits (the request path), then the drain of their events
  (encoding, batching, the file write): instructions per click of each;
* **under uvicorn**: the runtime benchmark's servers (``uvicorn --no-access-log``,
  httptools + uvloop, one worker) under callgrind, driven by ``wrk -c16`` for ``--seconds``
  after a warm-up: **bare** (``benchmarks/bare_app.py``), **hit, events to file**, **hit**
  (events to Firehose on moto). ``CACHE_TTL_SECONDS`` is an hour here (the runtime
  benchmark's 1 s would add a DynamoDB read per second, which at the few hundred requests a
  second a server manages under valgrind is thousands of instructions per request).

What it shows: how much work a click is, and whether a server does more of it than the
in-process figure counts. What it does not show: time. An instruction of uvicorn's and an
instruction of the app's cost about the same under load, but a hot in-process loop runs the
same instructions about twice as fast (warm caches, no event loop in between). Valgrind runs
SHA-256 without the CPU's SHA extensions, so the Firehose case (a SigV4 hash over every
batch body) counts more instructions than it costs natively. Measures and prints; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.runtime_bench import (  # noqa: E402
    _taskset,
    _wrk,
    bench_stack,
    discard,
    in_process_hit,
    no_body,
    uvicorn_command,
)
from devsite.processes import free_port, start_process, wait_for_http  # noqa: E402

VALGRIND = ("valgrind", "--tool=callgrind", "--instr-atstart=no")


def _callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _totals(dump: str) -> int:
    with open(dump) as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith("totals:"))


def in_process_child(requests: int) -> None:
    """Runs under callgrind: the hit ``requests`` times, then the drain, each counted."""
    with tempfile.TemporaryDirectory() as tmp:
        app, scope = in_process_hit(
            Path(tmp),
            event_flush_interval_seconds=3600.0,  # the drain runs when this says so
            cache_ttl_seconds=3600.0,
        )

        async def drive() -> None:
            await app.startup()
            assert app.emitter is not None
            emitter = app.emitter
            try:
                for _ in range(600):  # memos, templates, the first click ids
                    await app(scope, no_body, discard)
                await emitter.flush()
                pid = os.getpid()
                _callgrind(pid, "-i", "on")
                for _ in range(requests):
                    await app(scope, no_body, discard)
                _callgrind(pid, "--dump=request")
                await emitter.flush()
                _callgrind(pid, "--dump=drain")
                _callgrind(pid, "-i", "off")
                if emitter.held:
                    raise SystemExit("the drain did not deliver the measured clicks")
            finally:
                await app.shutdown()

        asyncio.run(drive())


def in_process(requests: int, work: Path) -> dict[str, float]:
    out = work / "inproc.cg"
    subprocess.run(
        [
            *VALGRIND,
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            str(requests),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
        cwd=work,
    )
    request, drain = (_totals(dump) / requests for dump in sorted(glob.glob(f"{out}.*")))
    for dump in glob.glob(f"{out}*"):
        os.remove(dump)
    return {"request": request, "drain": drain}


def under_uvicorn(
    case: str, app: str, env: dict[str, str], seconds: int, work: Path
) -> dict[str, float]:
    port = free_port()
    name = "".join(c for c in case if c.isalnum())
    out = work / f"{name}.cg"
    process = start_process(
        [
            *_taskset("1"),
            *VALGRIND,
            f"--callgrind-out-file={out}",
            *uvicorn_command(app, port),
        ],
        env={**env, "PYTHONPATH": str(ROOT)},
        log_path=work / f"{name}.log",
    )
    url = f"http://127.0.0.1:{port}/ABC123?sms_msg_id=42"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=600, proc=process.popen)
        _wrk(url, 3, 16)  # warm up under valgrind's translation
        _callgrind(process.pid, "-i", "on")
        sample = _wrk(url, seconds, 16)
        _callgrind(process.pid, "--dump=measured")
        _callgrind(process.pid, "-i", "off")
        dumps = sorted(glob.glob(f"{out}.*"))
        instructions = _totals(dumps[-1])
        for dump in dumps:
            os.remove(dump)
    finally:
        process.stop()
    if sample["errors"] or not sample["requests"]:
        raise SystemExit(f"{case}: {sample}")
    return {"instructions": instructions / sample["requests"], "rps": sample["rps"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="in-process hits counted")
    parser.add_argument("--seconds", type=int, default=8, help="wrk seconds per server case")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the server cases")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        in_process_child(args.child)
        return
    for tool in ("valgrind", "callgrind_control", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed: apt-get install -y valgrind wrk")
    with bench_stack() as stack:
        work = stack.work
        inproc = in_process(args.requests, work)
        print(f"in process: {inproc}", flush=True)
        env = {**stack.env, "CACHE_TTL_SECONDS": "3600"}
        runtime = "runtime_service.asgi:app"
        cases = [
            ("bare", "benchmarks.bare_app:app", env),
            ("hit, events to file", runtime, {**env, "FIREHOSE_STREAM_NAME": ""}),
            ("hit (events to Firehose on moto)", runtime, env),
        ]
        served: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for case, app, case_env in cases:
                sample = under_uvicorn(case, app, case_env, args.seconds, work)
                served.setdefault(case, []).append(sample)
                print(f"{case}: {sample}", flush=True)
    total = inproc["request"] + inproc["drain"]
    print()
    print(f"Instructions per cache-hit click (callgrind, user space; {ROOT})")
    print()
    print("| case | instructions per request | over bare | / bare |")
    print("|---|---:|---:|---:|")
    print(
        f"| in process: request path | {inproc['request']:,.0f} | | |\n"
        f"| in process: drain (events to file) | {inproc['drain']:,.0f} | | |\n"
        f"| in process: click, total | {total:,.0f} | | |"
    )
    bare = statistics.median(r["instructions"] for r in served["bare"])
    for case, runs in served.items():
        count = statistics.median(r["instructions"] for r in runs)
        print(
            f"| under uvicorn: {case} | {count:,.0f} | {count - bare:,.0f} | {count / bare:.2f} |"
        )


if __name__ == "__main__":
    main()

"""The bare floor and the runtime under three ASGI servers: CPU per request and requests/s.

    python benchmarks/server_bench.py [--duration 4] [--rounds 2]

Servers (one worker each, pinned to core 1, no access log):

* ``uvicorn``: what the runtime benchmark uses (httptools + uvloop);
* ``gunicorn``: gunicorn with one ``uvicorn_worker.UvicornWorker`` (the same worker under
  gunicorn's process management);
* ``granian``: granian's ASGI interface (Rust HTTP, uvloop).

Apps: the bare floor (:mod:`benchmarks.bare_app`) and the runtime's cache hit with click
events to the file (the runtime benchmark's *hit, events to file*). wrk on core 0, as there.
Server CPU is that of the whole process tree (a master and its worker). Prints a table;
asserts nothing. Needs ``granian`` (not a dependency: ``uv pip install granian`` to measure).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import shutil
import statistics
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.runtime_bench import (  # noqa: E402
    HOST,
    ORIGIN_SECRET,
    _cpu_seconds,
    _taskset,
    _wrk,
    bench_stack,
    uvicorn_command,
)
from devsite.processes import free_port, start_process, wait_for_http  # noqa: E402

HIT_URL = "/ABC123?sms_msg_id=42"


def _command(server: str, app: str, port: int) -> list[str]:
    if server == "uvicorn":
        return uvicorn_command(app, port)
    if server == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "runtime_service.server.RuntimeWorker",
            "--log-level",
            "warning",
        ]
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
        app,
    ]


def _location(base: str) -> str:
    """The ``Location`` of one hit (the runtime's, if its lifespan started: not the fallback)."""
    import http.client

    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request(
        "GET", HIT_URL, headers={"Host": HOST, "X-Origin-Verify": ORIGIN_SECRET, "User-Agent": "b"}
    )
    return connection.getresponse().getheader("location") or ""


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids += _tree(int(child))
    return pids


def _tree_cpu(pid: int) -> float:
    total = 0.0
    for member in _tree(pid):
        with contextlib.suppress(OSError):
            total += _cpu_seconds(member)
    return total


@contextlib.contextmanager
def _server(server: str, app: str, env: Mapping[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = start_process(
        [*_taskset("1"), *_command(server, app, port)],
        env={**env, "PYTHONPATH": str(ROOT)},
        log_path=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", timeout=30, proc=process.popen)
        yield base, process.pid
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if importlib.util.find_spec("granian") is None:
        sys.exit("granian is not installed (not a dependency): uv pip install granian")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get update && apt-get install -y wrk")
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    with bench_stack() as stack:
        work = stack.work
        env = {**stack.env, "FIREHOSE_STREAM_NAME": ""}
        apps = {
            "bare": "benchmarks.bare_app:app",
            "hit, events to file": "runtime_service.asgi:app",
        }
        for _ in range(args.rounds):
            for server in ("uvicorn", "gunicorn", "granian"):
                for name, app in apps.items():
                    with _server(server, app, env, work / f"{server}.log") as (base, pid):
                        _wrk(base + HIT_URL, 1, args.connections)  # warm up
                        before = _tree_cpu(pid)
                        sample = _wrk(base + HIT_URL, args.duration, args.connections)
                        sample["cpu_us"] = (_tree_cpu(pid) - before) / sample["requests"] * 1e6
                        location = _location(base)
                    if not location.startswith("https://shop.example.com/"):
                        sys.exit(f"{server} {name}: redirected to {location!r}, not the link")
                    samples.setdefault((server, name), []).append(sample)
                    print(f"{server:9s} {name:20s} {sample}", flush=True)
    print()
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds")
    print()
    print("| server | app | requests/s | p99 ms | server CPU µs/request | non-3xx |")
    print("|---|---|---:|---:|---:|---:|")
    for (server, name), runs in samples.items():
        r = {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        print(
            f"| {server} | {name} | {r['rps']:.0f} | {r['p99']:.2f} | {r['cpu_us']:.0f} "
            f"| {r['errors']:.0f} |"
        )


if __name__ == "__main__":
    main()

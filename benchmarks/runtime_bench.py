"""Throughput and latency of the runtime against a bare ASGI floor, in the same run.

    python benchmarks/runtime_bench.py [--duration 5] [--connections 16]

Starts a moto server holding published links and a Firehose stream, then for each case a
one-worker uvicorn (same flags for every case) on loopback, driven by wrk
(``apt-get install -y wrk``):

* ``bare``: :mod:`benchmarks.bare_app`, a constant 302 (the floor);
* ``hit``: the runtime, cache hits, click events on (to Firehose on moto);
* ``hit, events to file``: the same with click events to the local NDJSON file (the runtime's
  own cost, without the Firehose client and moto's CPU on the shared machine);
* ``miss``: the runtime with the cache off, every request a DynamoDB GetItem on moto;
* ``bare + N µs of Python``: the floor running, per request, a pure-Python loop that takes
  N µs in a tight loop, N being the runtime's own cost of a cache hit measured in process in
  the same run (the app driven directly with in-memory fakes, click events to a file, the
  drain included). It shows what that much Python per request costs under a loaded server.
* ``hit, DynamoDB +100 ms``: cache hits while every DynamoDB call goes through a proxy that
  delays it by 100 ms (the TTL is 1 s, so records are refreshed from the slow DynamoDB
  throughout the run).
* with ``--compiled-python PYTHON`` (``.venv-compiled/bin/python`` after ``make compiled``), also
  ``hit (compiled)`` and ``hit, events to file (compiled)``: the same, served by that
  interpreter's installed mypyc-compiled build, in the same rounds.

``--miss-delay-ms MS`` adds the cache miss against a DynamoDB stand-in answering in MS;
``--miss-only`` runs only that, and ``--miss-baseline GIT_REF`` runs it also with the runtime of
``GIT_REF`` in the same rounds (before and after a change, in one run).
``--same-rate SHARE`` adds bare, hit and hit-with-events-to-file at one offered rate, that
share of the bare floor's maximum; ``--same-rate-baseline GIT_REF`` runs the two hit cases
there also with the runtime of ``GIT_REF``, in the same rounds.

The server is pinned to one core and wrk and moto to the other when ``taskset`` exists, so
the 2-core machine is shared the same way in every case. Bounded: loopback only, a few
seconds per case. Not a test: it prints a table, it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bare_app import loops_for, spin_cost  # noqa: E402
from link_tracking_runtime import RuntimeRecord, item_key, to_item  # noqa: E402

if TYPE_CHECKING:
    from tests.support.stack import LocalAws

# The process harness (devsite.processes loads Celery, tests.support.stack boto3: ~8 MiB) is
# imported where it is used, not here: the scale benchmark imports this module into the
# process whose memory it measures.

HOST = "go.example.com"
ORIGIN_SECRET = "bench-origin-secret-0123456789"
LINKS = 1000
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "Mobile/15E148 Safari/604.1"
)
UVICORN_FLAGS = (
    "--http",
    "runtime_service.server:RuntimeHttpProtocol",
    "--no-access-log",
    "--log-level",
    "warning",
    "--workers",
    "1",
)
MISS_LUA = """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/L" .. math.random(0, %d) .. "?sms_msg_id=42")
end
"""


RATE_LUA = """
-- Each connection waits this many milliseconds (on average) between a response and its
-- next request; wrk takes whole milliseconds, so the fraction is spread at random.
local wait = %f
math.randomseed(%d)
function delay()
  local whole = math.floor(wait)
  if math.random() < wait - whole then
    return whole + 1
  end
  return whole
end
"""


def _rate_script(work: Path, wait_ms: float, seed: int, prefix: str = "") -> Path:
    """A wrk script that spaces each connection's requests by ``wait_ms`` (after ``prefix``,
    e.g. a ``request`` function)."""
    script = work / f"rate-{seed}.lua"
    script.write_text(prefix + RATE_LUA % (max(0.0, wait_ms), seed))
    return script


def bench_record(slug: str, link_id: str) -> RuntimeRecord:
    """One benchmark link: every link of every benchmark is shaped like this (UTM params,
    ``click_id`` and ``sms_msg_id`` allowlisted, a campaign and a channel)."""
    return RuntimeRecord(
        domain=HOST,
        slug=slug,
        link_id=link_id,
        destination_url=f"https://shop.example.com/{slug.lower()}?ref=bench",
        fallback_url=f"https://{HOST}/disabled",
        active=True,
        runtime_version=1,
        resolved_query_params={"utm_source": "sms", "utm_campaign": "BENCH"},
        dynamic_param_allowlist=("click_id", "sms_msg_id"),
        campaign_id="BENCH",
        channel="sms",
    )


def bench_records(links: int = LINKS) -> list[RuntimeRecord]:
    """``links`` links ``L0``... plus ``ABC123`` (the one the cache-hit cases click)."""
    return [bench_record(f"L{i}", f"link-{i}") for i in range(links)] + [
        bench_record("ABC123", "link-abc")
    ]


def uvicorn_command(app: str, port: int, python: Sequence[str] = (sys.executable,)) -> list[str]:
    """The command line of every uvicorn the benchmarks start (one worker, no access log):
    ``python`` is the interpreter and its options."""
    return [
        *python,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *UVICORN_FLAGS,
    ]


def bench_env(aws: LocalAws, table: str, stream: str, work: Path) -> dict[str, str]:
    """The runtime's environment in every case: events to Firehose on moto, rate limit and
    origin check on (the limit out of reach), records refreshed from DynamoDB every second."""
    from tests.support.stack import runtime_env

    return runtime_env(
        aws,
        table_name=table,
        stream_name=stream,
        var_dir=work,
        RATE_LIMIT_PER_MINUTE="100000000",
        RATE_LIMIT_BURST="1000000",
        EVENT_FLUSH_INTERVAL_SECONDS="1.0",
        METRICS_INTERVAL_SECONDS="60",
        LOG_LEVEL="WARNING",
        CACHE_TTL_SECONDS="1",
        ORIGIN_VERIFY_SECRET=ORIGIN_SECRET,
    )


class BenchStack(NamedTuple):
    work: Path
    aws: LocalAws
    table: str
    bucket: str
    env: dict[str, str]


@contextlib.contextmanager
def bench_stack() -> Iterator[BenchStack]:
    """What every server benchmark runs against, in a temporary ``work`` folder: a moto server
    holding the runtime table, with the benchmark's links published, and a Firehose stream to
    S3 (``bucket``); ``env`` is the runtime's environment on them (:func:`bench_env`). moto is
    pinned to core 0 with the load generator, off the served app's core 1: the Firehose
    stand-in decodes every event batch, and on the app's core it would preempt the app."""
    from devsite.processes import moto_server
    from tests.support.stack import LocalAws

    with (
        tempfile.TemporaryDirectory() as tmp,
        moto_server(log_path=Path(tmp) / "moto.log", prefix=_taskset("0")) as moto,
    ):
        work = Path(tmp)
        aws = LocalAws(moto)
        table = aws.create_table()
        stream, bucket = aws.create_stream()
        aws.publish(table, bench_records())
        yield BenchStack(work, aws, table.name, bucket, bench_env(aws, table.name, stream, work))


def start_delay_proxy(
    endpoint_url: str, seconds: float, log: Path, *, responses: bool = False
) -> tuple[int, Any]:
    """:mod:`benchmarks.delay_proxy` in front of ``endpoint_url`` (moto), pinned to core 0:
    its port and process (``.stop()`` it). Requests are delayed ``seconds``, or, with
    ``responses``, the answers are."""
    from devsite.processes import free_port, start_process

    port = free_port()
    process = start_process(
        [
            *_taskset("0"),
            sys.executable,
            str(ROOT / "benchmarks" / "delay_proxy.py"),
            str(port),
            "127.0.0.1",
            endpoint_url.rsplit(":", 1)[1],
            str(seconds),
            *(["responses"] if responses else []),
        ],
        log_path=log,
    )
    return port, process


def _taskset(core: str) -> list[str]:
    return ["taskset", "-c", core] if shutil.which("taskset") else []


def in_process_hit(
    work: Path, table: Any = None, *, secrets: Any = None, **overrides: Any
) -> tuple[Any, dict[str, Any]]:
    """The app of the in-process cache-hit cases and the hit's ASGI scope: the benchmark's
    hit request (same headers, origin check and rate limit on), in-memory DynamoDB (``table``,
    by default the benchmark's links), click events to an NDJSON file in ``work``;
    ``overrides`` are settings (the flush interval, the cache TTL: 1 s each by default);
    ``secrets`` the Secrets Manager the app reads keyrings from (none by default). Called with :func:`discard` and :func:`no_body`."""
    import io

    from runtime_service.app import Backends, create_app
    from tests.support.fakes import FakeSecrets, FakeTable, no_sleep
    from tests.support.runtime import make_settings

    settings = make_settings(
        work,
        rate_limit_per_minute=100_000_000,
        rate_limit_burst=1_000_000,
        origin_verify_secret=(ORIGIN_SECRET,),
        **{"event_flush_interval_seconds": 1.0, "cache_ttl_seconds": 1.0, **overrides},
    )
    if table is None:
        table = FakeTable([to_item(record) for record in bench_records(0)])
    app = create_app(
        settings,
        backends=Backends(table, table, secrets or FakeSecrets()),
        sleep=no_sleep,
        metrics_stream=io.StringIO(),
    )
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/ABC123",
        "query_string": b"sms_msg_id=42",
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", HOST.encode()),
            (b"x-origin-verify", ORIGIN_SECRET.encode()),
            (b"user-agent", USER_AGENT.encode()),
        ],
    }
    return app, scope


async def discard(message: object) -> None:
    """The ASGI ``send`` of the in-process cases: the response goes nowhere."""
    return None


async def no_body() -> dict[str, object]:
    """The ASGI ``receive`` of the in-process cases (a GET has no body)."""
    return {}


def in_process_hit_cost(requests: int = 100_000) -> float:
    """CPU µs per cache-hit redirect with the app called directly (no server): the
    :func:`in_process_hit` app and request, the background drain included."""
    import asyncio

    with tempfile.TemporaryDirectory() as tmp:
        app, scope = in_process_hit(Path(tmp))

        async def drive() -> float:
            await app.startup()
            try:
                for _ in range(1000):
                    await app(scope, no_body, discard)
                await asyncio.sleep(1.1)  # the warm-up's events drained
                start = time.process_time()
                for i in range(requests):
                    await app(scope, no_body, discard)
                    if i % 50 == 0:
                        await asyncio.sleep(0)  # let the drain run, as the server would
                await asyncio.sleep(1.1)  # and drain the last events (idle: no CPU)
                elapsed = time.process_time() - start
                journaled = app.metrics.counters.get("EventsJournaled", 0)
                if journaled:
                    raise SystemExit(f"in-process run journaled {journaled} events")
                return elapsed / requests * 1e6
            finally:
                await app.shutdown()

        return asyncio.run(drive())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """A process's resident memory (``VmRSS``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _maps(pid: int) -> str:
    """The files a process has mapped (Linux /proc): a compiled build maps its extensions."""
    return Path(f"/proc/{pid}/maps").read_text()


@contextlib.contextmanager
def _server(
    app: str,
    env: Mapping[str, str],
    log: Path,
    python: str = sys.executable,
    source: Path = ROOT,
) -> Iterator[tuple[str, int]]:
    """uvicorn serving ``app`` from this tree (or the ``source`` tree: ``--miss-baseline``);
    with another ``python`` (``--compiled-python``), from that interpreter's installed packages
    (the compiled build: nothing from the tree)."""
    from devsite.processes import free_port, start_process, wait_for_http

    port = free_port()
    where = ["--app-dir", str(log.parent / "empty")] if python != sys.executable else []
    if where:
        (log.parent / "empty").mkdir(exist_ok=True)
    process = start_process(
        [
            *_taskset("1"),
            # -P: not the working directory (this tree) either
            *uvicorn_command(app, port, [python, "-P"] if where else [python]),
            # uvicorn puts --app-dir (default: the working directory) first on sys.path.
            *(where or ["--app-dir", str(source)]),
        ],
        env={**env, "PYTHONPATH": "" if where else str(source)},
        log_path=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", timeout=30, proc=process.popen)
        if where and app.startswith("runtime_service") and "__mypyc" not in _maps(process.pid):
            raise SystemExit(f"{python} does not serve the compiled build (make compiled)")
        yield base, process.pid
    finally:
        process.stop()


def _wrk(url: str, duration: int, connections: int, script: Path | None = None) -> dict[str, float]:
    args = [
        *_taskset("0"),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-H",
        f"Host: {HOST}",
        "-H",
        f"X-Origin-Verify: {ORIGIN_SECRET}",
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    if script is not None:
        args += ["-s", str(script)]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {
        pct: _ms(value)
        for pct, value in re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE)
    }
    non_3xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": float(requests.group(1)) if requests else 0.0,
        "rps": rps,
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": float(non_3xx.group(1)) if non_3xx else 0.0,
        "socket_errors": float(sum(map(int, sockets.groups()))) if sockets else 0.0,
    }


def _at_rate(
    base: str,
    pid: int,
    path: str,
    target: float,
    duration: int,
    connections: int,
    work: Path,
    prefix: str = "",
    stand_in: int | None = None,
) -> dict[str, float]:
    """One wrk run at about ``target`` requests/s against a running server, with its server
    CPU per request (and the time it waited for a CPU; with ``stand_in``, that process's CPU
    and wait too). wrk cannot hold a rate, so each connection waits between a response and
    its next request (:data:`RATE_LUA`), the wait calibrated on this server by two 2 s runs:
    a connection's cycle is the wait plus the response time, which grows with the rate. A
    closed loop: a slow response delays that connection's next request (wrk2's constant
    throughput is not packaged), so the p99 is that of the requests sent, at the rate achieved
    (reported)."""
    url = base + path
    per_connection = 1000.0 * connections / target  # ms per request, per connection
    wait = per_connection
    for attempt in range(2):
        trial = _wrk(url, 2, connections, _rate_script(work, wait, 1000 + attempt, prefix))
        overhead = 1000.0 * connections / max(trial["rps"], 1.0) - wait
        wait = max(0.0, per_connection - overhead)
    with _per_request(pid, stand_in) as sample:
        sample.update(_wrk(url, duration, connections, _rate_script(work, wait, 2000, prefix)))
    sample["target"] = target
    return sample


def _run_queue_wait(pid: int) -> float:
    """Seconds a process's threads have waited on a run queue for a CPU (Linux schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


@contextlib.contextmanager
def _per_request(pid: int, stand_in: int | None = None) -> Iterator[dict[str, float]]:
    """Around a wrk run that fills the yielded dict: the server's CPU and run-queue wait per
    request (``cpu_us``, ``wait_us``), and the stand-in's (``fake_cpu_us``, ``fake_wait_us``)."""
    pids = {"": pid} if stand_in is None else {"": pid, "fake_": stand_in}
    before = {name: (_cpu_seconds(p), _run_queue_wait(p)) for name, p in pids.items()}
    sample: dict[str, float] = {}
    yield sample
    count = max(sample["requests"], 1.0)
    for name, p in pids.items():
        sample[f"{name}cpu_us"] = (_cpu_seconds(p) - before[name][0]) / count * 1e6
        sample[f"{name}wait_us"] = (_run_queue_wait(p) - before[name][1]) / count * 1e6


def _dynamodb_latency(
    aws: LocalAws, endpoint: str, table: str, calls: int = 300
) -> dict[str, float]:
    """p50 and p99 (ms) of a GetItem through ``endpoint`` (one client, one call at a time)."""
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=aws.env["AWS_REGION"],
        aws_access_key_id=aws.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws.env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=aws.env["AWS_SESSION_TOKEN"],
    )
    times = []
    for i in range(calls):
        key = item_key(HOST, f"L{i % LINKS}")
        started = time.perf_counter()
        client.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()})
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99) - 1]}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _same_rate_cases(
    args: argparse.Namespace,
    samples: Mapping[str, list[dict[str, float]]],
    runtime: str,
    base_env: Mapping[str, str],
    file_env: Mapping[str, str],
    work: Path,
    baseline: tuple[str, Path] | None = None,
) -> dict[str, dict[str, float]]:
    """bare, hit and hit-with-events-to-file at one offered rate (``--same-rate`` of the bare
    floor's median requests/s above), interleaved rounds; medians. With ``baseline`` (a git
    ref and its tree: ``--same-rate-baseline``), the two hit cases served from that tree too,
    in the same rounds."""
    target = args.same_rate * statistics.median(r["rps"] for r in samples["bare"])
    cases = [
        ("bare", "benchmarks.bare_app:app", base_env, ROOT),
        ("hit", runtime, base_env, ROOT),
        ("hit, events to file", runtime, file_env, ROOT),
    ]
    if baseline is not None:
        ref, tree = baseline
        cases += [
            (f"hit ({ref})", runtime, base_env, tree),
            (f"hit, events to file ({ref})", runtime, file_env, tree),
        ]
    rated: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for name, app, env, source in cases:
            log = work / f"rated-{len(rated)}.log"
            with _server(app, env, log, source=source) as (base, pid):
                _wrk(base + "/ABC123?sms_msg_id=42", 1, args.connections)  # warm up
                sample = _at_rate(
                    base,
                    pid,
                    "/ABC123?sms_msg_id=42",
                    target,
                    args.duration,
                    args.connections,
                    work,
                )
            rated.setdefault(name, []).append(sample)
            print(f"{name} at {target:.0f}/s: {sample}", flush=True)
    return {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in rated.items()
    }


def _print_same_rate(
    args: argparse.Namespace,
    rated: Mapping[str, Mapping[str, float]],
    saturated: Mapping[str, Mapping[str, float]],
) -> None:
    bare = rated["bare"]
    print()
    print(
        f"Same offered rate: {bare['target']:.0f} requests/s ({args.same_rate:.0%} of the bare "
        f"floor's median), wrk -t1 -c{args.connections} with a calibrated delay per "
        f"connection, {args.duration} s, median of {args.rounds} interleaved rounds"
    )
    print()
    print(
        "| case | achieved requests/s | p50 ms | p99 ms | server CPU µs/request | CPU / bare "
        "| p99 / bare | at saturation: CPU µs/request | CPU / bare |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rated.items():
        sat = saturated.get(name)  # none for the baseline tree's cases
        at_saturation = (
            f"{sat['cpu_us']:.0f} | {sat['cpu_us'] / saturated['bare']['cpu_us']:.2f}"
            if sat
            else " | "
        )
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['cpu_us']:.0f} "
            f"| {r['cpu_us'] / bare['cpu_us']:.2f} | {r['p99'] / bare['p99']:.2f} "
            f"| {at_saturation} |"
        )
    print()
    print(
        "goal: CPU / bare <= 1.25 at the same rate, <= 1.5 at saturation; p99 / bare <= 1.5 "
        "at the same rate"
    )


def _slow_miss_cases(
    args: argparse.Namespace,
    aws: LocalAws,
    table: str,
    no_cache: Mapping[str, str],
    runtime: str,
    work: Path,
    sources: Mapping[str, Path],
) -> dict[str, dict[str, dict[str, float]]]:
    """The cache-miss path (cache off, 1,000 links, events to file) against a DynamoDB that
    answers every GetItem in ``--miss-delay-ms`` (:mod:`benchmarks.fake_dynamodb`, on the
    load generator's core): DynamoDB's own latency (one GetItem at a time, before and after),
    and for each runtime source tree in ``sources`` (this tree, and ``--miss-baseline``'s) the
    path's maximum and the path at half that maximum, in interleaved rounds; medians, with
    the stand-in's own CPU per request and the load average."""
    from devsite.processes import free_port, start_process

    port = free_port()
    fake = start_process(
        [*_taskset("0"), *uvicorn_command("benchmarks.fake_dynamodb:app", port)],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FAKE_DYNAMODB_DELAY_MS": str(args.miss_delay_ms),
        },
        log_path=work / "fake-dynamodb.log",
    )
    endpoint = f"http://127.0.0.1:{port}"
    env = {**no_cache, "FIREHOSE_STREAM_NAME": "", "AWS_ENDPOINT_URL_DYNAMODB": endpoint}
    request = MISS_LUA % (LINKS - 1)
    script = work / "miss-slow.lua"
    script.write_text(request)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    try:
        wait_for_port(port, fake)
        dynamodb = _dynamodb_latency(aws, endpoint, table)
        print(f"GetItem from DynamoDB (+{args.miss_delay_ms:g} ms): {dynamodb}", flush=True)
        for _ in range(args.rounds):
            for name, source in sources.items():
                log = work / f"miss-slow-{len(runs)}.log"
                with _server(runtime, env, log, source=source) as (base, pid):
                    _wrk(base + "/", 1, args.connections, script)  # warm up (clients, pool)
                    load = os.getloadavg()[0]
                    with _per_request(pid, fake.pid) as peak:
                        peak.update(_wrk(base + "/", args.duration, args.connections, script))
                    peak["load"] = load
                    print(f"{name}, max: {peak}", flush=True)
                    half = _at_rate(
                        base,
                        pid,
                        "/",
                        peak["rps"] / 2,
                        args.duration,
                        args.connections,
                        work,
                        request,
                        fake.pid,
                    )
                    half["load"] = os.getloadavg()[0]
                    print(f"{name}, half: {half}", flush=True)
                cases = runs.setdefault(name, {})
                cases.setdefault("max", []).append(peak)
                cases.setdefault("half", []).append(half)
        after = _dynamodb_latency(aws, endpoint, table)
    finally:
        fake.stop()
    missed: dict[str, dict[str, dict[str, float]]] = {
        name: {
            case: {key: statistics.median(r[key] for r in samples) for key in samples[0]}
            for case, samples in cases.items()
        }
        for name, cases in runs.items()
    }
    missed["dynamodb"] = {"before": dynamodb, "after": after}
    return missed


@contextlib.contextmanager
def _source_tree(ref: str) -> Iterator[Path]:
    """This repository's tree at git ``ref`` (``git archive``), for ``--miss-baseline``."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


def wait_for_port(port: int, process: Any, timeout: float = 30.0) -> None:
    """Until something accepts connections on ``port`` (the fake DynamoDB has no health URL)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if process.popen.poll() is not None:
            raise SystemExit(f"the fake DynamoDB exited: {process.popen.returncode}")
        time.sleep(0.1)
    raise SystemExit("the fake DynamoDB did not start")


def _print_slow_miss(args: argparse.Namespace, missed: Mapping[str, Any]) -> None:
    dynamodb, after = missed["dynamodb"]["before"], missed["dynamodb"]["after"]
    print()
    print(
        f"Cache miss, a DynamoDB answering every GetItem in {args.miss_delay_ms:g} ms "
        f"(benchmarks/fake_dynamodb.py), cache off, 1,000 links, events to file; "
        f"wrk -t1 -c{args.connections}, {args.duration} s, median of {args.rounds} "
        "interleaved rounds"
    )
    print()
    print(
        "| runtime | case | requests/s | p50 ms | p99 ms | server CPU µs/request "
        "| server waiting for a CPU, µs/request | stand-in CPU / waiting, µs/request "
        "| load average |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cases in missed.items():
        if name == "dynamodb":
            continue
        for case in ("max", "half"):
            r = cases[case]
            print(
                f"| {name} | miss, {case} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                f"| {r['cpu_us']:.0f} | {r['wait_us']:.0f} "
                f"| {r['fake_cpu_us']:.0f} / {r['fake_wait_us']:.0f} | {r['load']:.1f} |"
            )
    print(
        f"| | DynamoDB's GetItem, one at a time (before / after the runs) | | "
        f"{dynamodb['p50']:.2f} / {after['p50']:.2f} | {dynamodb['p99']:.2f} / "
        f"{after['p99']:.2f} | | | | |"
    )
    print()
    for name, cases in missed.items():
        if name == "dynamodb":
            continue
        half, peak = cases["half"], cases["max"]
        print(
            f"{name}: miss p99 at half load ({half['rps']:.0f}/s of a {peak['rps']:.0f}/s "
            f"maximum): {half['p99']:.2f} ms; DynamoDB's p99 + 5 ms: {dynamodb['p99'] + 5:.2f} "
            "ms (goal: at most that)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per case")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument(
        "--compiled-python",
        help="also run the hit cases served by this interpreter's installed build, in the same "
        "rounds (.venv-compiled/bin/python after `make compiled`)",
    )
    parser.add_argument(
        "--same-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="also run bare, hit and hit-with-events-to-file at the same offered rate, this "
        "share of the bare floor's median requests/s (the issue's goal: 0.5)",
    )
    parser.add_argument(
        "--same-rate-baseline",
        metavar="GIT_REF",
        help="with --same-rate: also run the two hit cases at that rate with the runtime of "
        "this git ref, in the same rounds (before and after a change, in one run)",
    )
    parser.add_argument(
        "--miss-delay-ms",
        type=float,
        default=0.0,
        help="also run the cache-miss path with every DynamoDB call delayed this much, "
        "unthrottled and at half that maximum (events to file)",
    )
    parser.add_argument(
        "--miss-baseline",
        metavar="GIT_REF",
        help="with --miss-delay-ms: also run the miss cases with the runtime of this git ref "
        "(e.g. main), in the same rounds (before and after a change, in one run)",
    )
    parser.add_argument(
        "--miss-only",
        action="store_true",
        help="with --miss-delay-ms: run only the slow-DynamoDB miss cases",
    )
    args = parser.parse_args()
    if (args.miss_only or args.miss_baseline) and not args.miss_delay_ms:
        parser.error("--miss-only and --miss-baseline need --miss-delay-ms")
    if args.same_rate_baseline and not args.same_rate:
        parser.error("--same-rate-baseline needs --same-rate")
    compiled = os.path.abspath(args.compiled_python) if args.compiled_python else None
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get update && apt-get install -y wrk")

    runtime = "runtime_service.asgi:app"
    with contextlib.ExitStack() as trees:
        sources = {"this tree": ROOT}
        if args.miss_baseline:
            sources = {
                args.miss_baseline: trees.enter_context(_source_tree(args.miss_baseline)),
                **sources,
            }
        rate_baseline = None
        if args.same_rate_baseline:
            ref = args.same_rate_baseline
            rate_baseline = (ref, trees.enter_context(_source_tree(ref)))
        _run(args, compiled, runtime, sources, rate_baseline)


def _run(
    args: argparse.Namespace,
    compiled: str | None,
    runtime: str,
    sources: Mapping[str, Path],
    rate_baseline: tuple[str, Path] | None = None,
) -> None:
    results: dict[str, dict[str, float]] = {}
    with bench_stack() as stack:
        work, aws, table_name, base_env = stack.work, stack.aws, stack.table, stack.env
        if args.miss_only:
            no_cache = {**base_env, "CACHE_TTL_SECONDS": "0", "CACHE_STALE_SECONDS": "0"}
            missed = _slow_miss_cases(args, aws, table_name, no_cache, runtime, work, sources)
            _print_slow_miss(args, missed)
            return
        hit_url = "/ABC123?sms_msg_id=42"
        miss_script = work / "miss.lua"
        miss_script.write_text(MISS_LUA % (LINKS - 1))
        if compiled:
            from benchmarks.compiled_bench import measure

            compiled_cost = measure(compiled, compiled=True, requests=100_000)
            print(f"in process, compiled: a cache hit costs {compiled_cost:.1f} µs", flush=True)

        samples: dict[str, list[dict[str, float]]] = {}

        def run(
            name: str,
            app: str,
            env: Mapping[str, str],
            path: str,
            script: Path | None = None,
            python: str = sys.executable,
        ) -> None:
            with _server(app, env, work / f"{name}.log", python) as (base, pid):
                _wrk(base + path, 1, args.connections, script)  # warm up (and fill the cache)
                cpu_before = _cpu_seconds(pid)
                sample = _wrk(base + path, args.duration, args.connections, script)
                # Server CPU per request: unlike requests/s, not moved by other load on the box.
                sample["cpu_us"] = (_cpu_seconds(pid) - cpu_before) / sample["requests"] * 1e6
            samples.setdefault(name, []).append(sample)
            print(f"{name:28s} {sample}", flush=True)

        proxy_port, proxy = start_delay_proxy(aws.endpoint_url, 0.1, work / "proxy.log")
        slow_env = {**base_env, "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{proxy_port}"}
        file_env = {**base_env, "FIREHOSE_STREAM_NAME": ""}
        hit_cost = in_process_hit_cost()
        loops = loops_for(hit_cost)
        work_us = sorted(spin_cost(loops) for _ in range(3))[1]
        work_case = f"bare + {work_us:.0f} µs of Python"
        work_env = {**base_env, "BARE_APP_WORK_LOOPS": str(loops)}
        print(f"in process: a cache hit costs {hit_cost:.1f} µs of CPU", flush=True)
        try:
            time.sleep(0.5)
            # Interleaved rounds, so a noisy neighbour hurts every case alike; medians reported.
            for _ in range(args.rounds):
                run("bare", "benchmarks.bare_app:app", base_env, hit_url)
                run(work_case, "benchmarks.bare_app:app", work_env, hit_url)
                run("hit", runtime, base_env, hit_url)
                run("hit, events to file", runtime, file_env, hit_url)
                run("hit, DynamoDB +100 ms", runtime, slow_env, hit_url)
                if compiled:
                    run("hit (compiled)", runtime, base_env, hit_url, python=compiled)
                    run(
                        "hit, events to file (compiled)", runtime, file_env, hit_url, None, compiled
                    )
            no_cache = {**base_env, "CACHE_TTL_SECONDS": "0", "CACHE_STALE_SECONDS": "0"}
            run("miss", runtime, no_cache, "/", miss_script)
            if args.same_rate:
                rated = _same_rate_cases(
                    args, samples, runtime, base_env, file_env, work, rate_baseline
                )
            if args.miss_delay_ms:
                missed = _slow_miss_cases(args, aws, table_name, no_cache, runtime, work, sources)
        finally:
            proxy.stop()
        for name, runs in samples.items():
            results[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}

    bare, hit = results["bare"], results["hit"]
    print()
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s, uvicorn {' '.join(UVICORN_FLAGS)}, "
        f"median of {args.rounds} interleaved rounds (miss: one round)"
    )
    print()
    print("| case | requests/s | p50 ms | p99 ms | server CPU µs/request | non-3xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['cpu_us']:.0f} "
            f"| {r['errors']:.0f} |"
        )
    print()
    print(f"hit / bare requests/s: {hit['rps'] / bare['rps']:.2f} (target >= 0.75)")
    print(f"hit / bare p99: {hit['p99'] / bare['p99']:.2f} (target <= 1.5)")
    print(f"bare / hit server CPU per request: {bare['cpu_us'] / hit['cpu_us']:.2f}")
    filed = results["hit, events to file"]
    ratio = bare["cpu_us"] / filed["cpu_us"]
    print(f"bare / hit-with-events-to-file server CPU per request: {ratio:.2f}")
    work = results[work_case]
    amplification = (work["cpu_us"] - bare["cpu_us"]) / work_us
    print(
        f"in process: cache hit {hit_cost:.1f} µs; {work_case} adds "
        f"{work['cpu_us'] - bare['cpu_us']:.0f} µs of server CPU per request "
        f"({amplification:.1f}x its in-process cost); {work_case} / bare requests/s: "
        f"{work['rps'] / bare['rps']:.2f}"
    )
    budget = bare["cpu_us"] * (1 / 0.75 - 1) / max(amplification, 1e-9)
    print(
        f"so 75% of the floor's requests/s leaves about {budget:.1f} µs of in-process work "
        "per request at this amplification"
    )
    slow = results["hit, DynamoDB +100 ms"]
    print(f"hit p99 with DynamoDB +100 ms / hit p99: {slow['p99'] / hit['p99']:.2f}")
    if compiled:
        for case in ("hit", "hit, events to file"):
            pure, built = results[case], results[f"{case} (compiled)"]
            print(
                f"{case}: compiled / pure server CPU per request "
                f"{built['cpu_us'] / pure['cpu_us']:.2f}, requests/s {built['rps'] / pure['rps']:.2f}"
            )
    if args.same_rate:
        _print_same_rate(args, rated, results)
    if args.miss_delay_ms:
        _print_slow_miss(args, missed)


if __name__ == "__main__":
    main()

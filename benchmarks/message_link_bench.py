"""CPU per cache hit of a per-message link (``/ABC123/{token}``) against the plain hit
(``/ABC123?sms_msg_id=42``), in one process, in alternated rounds.

    python benchmarks/message_link_bench.py            # --rounds 7 --requests 20000

The app is ``runtime_bench.in_process_hit``'s (the benchmark's request headers, origin check
and rate limit on, in-memory DynamoDB, click events to a file, the drain included), its
``ABC123`` record with a ``message_keyring``. Both kinds of request hit the same cached link
and the cached keyring; each round runs ``--requests`` of one kind, then of the other, and the
medians over the rounds and their ratio are printed (the target: within 5%). A third case, a
token that does not verify, shows what a forger's try costs. Measures and prints; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

KEYRING_NAME = "link-signatures/bench-messages"
SECRET = "bench-message-key-0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per case per round")
    parser.add_argument(
        "--installed",
        action="store_true",
        help="the contract and the runtime from the interpreter's site-packages (the compiled "
        "build: .venv-compiled/bin/python after make compiled), not from this tree",
    )
    args = parser.parse_args()
    if not args.installed:
        sys.path.insert(0, str(ROOT))
    messages = importlib.import_module("link_tracking_runtime.messages")
    importlib.import_module("runtime_service.app")
    print("contract from", messages.__file__)
    sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]  # the harness, after the packages
    from runtime_bench import bench_records, discard, in_process_hit, no_body

    from link_tracking_runtime import to_item
    from link_tracking_runtime.signing import Keyring, SigningKey
    from tests.support.fakes import FakeSecrets, FakeTable

    issue_token = messages.issue_token

    records = [
        dataclasses.replace(r, message_keyring=KEYRING_NAME) if r.slug == "ABC123" else r
        for r in bench_records(0)
    ]
    table = FakeTable([to_item(r) for r in records])
    with tempfile.TemporaryDirectory() as tmp:
        secrets = FakeSecrets({KEYRING_NAME: SECRET})
        app, scope = in_process_hit(Path(tmp), table=table, secrets=secrets)
        host = dict(scope["headers"])[b"host"].decode()
        token = issue_token(Keyring(SigningKey("default", SECRET.encode())), host, "ABC123", 4711)
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        cases = {
            "plain ?sms_msg_id=42": scope,
            "per-message token": {**scope, "path": f"/ABC123/{token}", "query_string": b""},
            "token that fails": {**scope, "path": f"/ABC123/{forged}", "query_string": b""},
        }
        results: dict[str, list[float]] = {name: [] for name in cases}

        async def run(case: dict[str, Any], requests: int) -> float:
            start = time.process_time()
            for i in range(requests):
                await app(case, no_body, discard)
                if i % 50 == 0:
                    await asyncio.sleep(0)
            await asyncio.sleep(1.1)  # the events drained (idle: no CPU)
            return (time.process_time() - start) / requests * 1e6

        async def drive() -> None:
            await app.startup()
            try:
                for case in cases.values():
                    await run(case, 1000)  # warm: the record and the keyring cached
                for round_ in range(args.rounds):
                    for name, case in cases.items():
                        results[name].append(await run(case, args.requests))
                    print(round_, {k: round(v[-1], 2) for k, v in results.items()}, flush=True)
                counters = app.metrics.counters
                print("counters:", {k: v for k, v in counters.items() if "Message" in k})
            finally:
                await app.shutdown()

        asyncio.run(drive())
    base = statistics.median(results["plain ?sms_msg_id=42"])
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name}: median {median:.2f} µs CPU per cache hit, {median / base:.3f}x plain")


if __name__ == "__main__":
    main()

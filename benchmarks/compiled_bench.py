"""The in-process cache hit, pure Python against the mypyc-compiled build, in paired runs.

    make compiled
    python benchmarks/compiled_bench.py [--pairs 5] [--compiled-python .venv-compiled/bin/python]

Each pair runs :func:`benchmarks.runtime_bench.in_process_hit_cost` (the app called directly,
the benchmark's hit request, in-memory DynamoDB, click events to a file, the drain included)
twice, one after the other, in fresh processes of the same interpreter (the compiled
virtualenv's, with the same locked packages): once importing ``link_tracking_runtime`` and
``runtime_service`` from this source tree (pure Python), once from that interpreter's
site-packages, where ``make compiled`` installed the compiled wheel. The order alternates
between pairs; medians and the compiled/pure ratio are printed. Not a test: it asserts nothing
but that each side ran the code it claims to.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Imports the two packages first (from the source tree when it leads sys.path, else from
#: site-packages), then the harness from the tree, and prints the cost and where they came from.
_MEASURE = """
import json, sys
{prefix}
import link_tracking_runtime, runtime_service.redirect
sys.path.insert(0, {root!r})
from benchmarks.runtime_bench import in_process_hit_cost
cost = in_process_hit_cost({requests})
print(json.dumps({{"us": cost, "module": runtime_service.redirect.__file__}}))
"""


def measure(python: str, *, compiled: bool, requests: int) -> float:
    """µs of CPU per in-process cache hit in a fresh ``python``, pure or compiled."""
    python = os.path.abspath(python)  # the run's cwd is elsewhere; a venv's symlink kept
    prefix = "" if compiled else f"sys.path.insert(0, {str(ROOT)!r})"
    code = _MEASURE.format(prefix=prefix, root=str(ROOT), requests=requests)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as empty:  # cwd: nothing there shadows site-packages
        result = subprocess.run(
            [python, "-c", code], cwd=empty, env=env, capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        sys.exit(f"{python}: {result.stderr.strip().splitlines()[-1:]}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if answer["module"].endswith(".so") != compiled:
        sys.exit(f"{'compiled' if compiled else 'pure'} run imported {answer['module']}")
    return float(answer["us"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100_000, help="hits per run")
    parser.add_argument(
        "--compiled-python",
        default=str(ROOT / ".venv-compiled" / "bin" / "python"),
        help="an interpreter with the compiled build installed (make compiled)",
    )
    args = parser.parse_args()
    if not Path(args.compiled_python).exists():
        sys.exit(f"{args.compiled_python} does not exist: run `make compiled` first")
    pure: list[float] = []
    compiled: list[float] = []
    for pair in range(args.pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        for is_compiled in order:
            cost = measure(args.compiled_python, compiled=is_compiled, requests=args.requests)
            (compiled if is_compiled else pure).append(cost)
        print(
            f"pair {pair + 1}: pure {pure[-1]:.2f} µs, compiled {compiled[-1]:.2f} µs", flush=True
        )
    pure_median, compiled_median = statistics.median(pure), statistics.median(compiled)
    print()
    print(f"in-process cache hit, median of {args.pairs} pairs ({args.requests} hits each):")
    print(f"pure Python {pure_median:.2f} µs, compiled {compiled_median:.2f} µs")
    print(f"compiled / pure: {compiled_median / pure_median:.2f}")


if __name__ == "__main__":
    main()

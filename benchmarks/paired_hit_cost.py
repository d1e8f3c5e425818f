"""Paired in-process cache-hit cost of several checkouts, alternated in the same minutes.

    python benchmarks/paired_hit_cost.py OLD_CHECKOUT NEW_CHECKOUT [...] --pairs 5

Each round runs ``in_process_hit_cost()`` (``benchmarks/runtime_bench.py``) of every checkout
in turn, each in its own process with its own ``PYTHONPATH``; the medians over the rounds
and their ratios to the first checkout are printed. On a shared machine the rounds move by
20% or more from minute to minute; alternating the checkouts is what makes them comparable.
Measures and prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("checkouts", nargs="+", help="checkout directories; the first is the base")
    parser.add_argument("--pairs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--requests", type=int, default=40_000, help="requests per run")
    args = parser.parse_args()
    code = (
        "import sys; sys.path.insert(0, 'benchmarks'); "
        "from runtime_bench import in_process_hit_cost; "
        f"print(in_process_hit_cost({args.requests}))"
    )
    runs: dict[str, list[float]] = {path: [] for path in args.checkouts}
    for round_ in range(args.pairs):
        for path in args.checkouts:
            done = subprocess.run(
                [sys.executable, "-c", code],
                cwd=path,
                env={**os.environ, "PYTHONPATH": os.path.abspath(path)},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[path].append(float(done.stdout.split()[-1]))
        print(round_, {path: round(values[-1], 2) for path, values in runs.items()}, flush=True)
    base = statistics.median(runs[args.checkouts[0]])
    for path, values in runs.items():
        median = statistics.median(values)
        print(f"{path}: median {median:.2f} µs per cache hit, {median / base:.3f}x the first")


if __name__ == "__main__":
    main()

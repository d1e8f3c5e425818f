"""Bot classification benchmark: the contract's classifier against a baseline, same run.

    python benchmarks/bots_bench.py                    # --rounds 5 --baseline f39fd21

The baseline is ``link_tracking_runtime/bots.py`` as commit ``--baseline`` has it (default: the
hand-written classifier before the generated patterns), loaded from git into its own module;
the current one is the working tree's. In interleaved rounds each classifies, with its memo
emptied first:

* **first sight, browsers**: the 19,186 distinct real-browser User-Agents of
  tests/contract/bot_user_agents/browsers.txt.gz, each seen once (what a new browser
  version costs the first time it clicks);
* **first sight, bots**: crawler-user-agents' own instances, each seen once;
* **repeat**: one browser User-Agent again and again (the memo's dict lookup: what nearly
  every click pays);

and, once each, the module's import (its patterns compiled, ``re``'s cache purged first).
Reports medians in µs per User-Agent and the ratio to the baseline. Not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import re
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "contract" / "bot_user_agents"


def load_module(name: str, source: str) -> tuple[types.ModuleType, float]:
    """``source`` as module ``link_tracking_runtime.<name>`` and the seconds its import took."""
    re.purge()
    module = types.ModuleType(f"link_tracking_runtime.{name}")
    module.__package__ = "link_tracking_runtime"
    started = time.perf_counter()
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module, time.perf_counter() - started


def per_agent(module: types.ModuleType, agents: list[str]) -> float:
    """µs per User-Agent, every one a first sight (the memo emptied first)."""
    module._memo.clear()
    classify: Callable[[str], object] = module.agent_kind
    started = time.perf_counter()
    for agent in agents:
        classify(agent)
    return (time.perf_counter() - started) / len(agents) * 1e6


def repeat(module: types.ModuleType, agent: str, times: int = 200_000) -> float:
    module._memo.clear()
    classify: Callable[[str], object] = module.agent_kind
    classify(agent)
    started = time.perf_counter()
    for _ in range(times):
        classify(agent)
    return (time.perf_counter() - started) / times * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default="f39fd21", help="git revision of the baseline")
    args = parser.parse_args()

    import crawleruseragents

    import link_tracking_runtime  # the package the modules' relative imports resolve in

    assert importlib.util.find_spec("link_tracking_runtime.bot_patterns") is not None
    browsers = gzip.decompress((DATA / "browsers.txt.gz").read_bytes()).decode().splitlines()
    bots = sorted(
        {i for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for i in entry["instances"]}
    )
    baseline_source = subprocess.run(
        ["git", "show", f"{args.baseline}:link_tracking_runtime/bots.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    current_source = (ROOT / "link_tracking_runtime" / "bots.py").read_text()
    del link_tracking_runtime
    baseline, baseline_import = load_module("bots_baseline", baseline_source)
    current, current_import = load_module("bots_current", current_source)

    results: dict[str, dict[str, list[float]]] = {"baseline": {}, "current": {}}
    for _ in range(args.rounds):
        for label, module in (("baseline", baseline), ("current", current)):
            cases = results[label]
            cases.setdefault("first sight, browsers", []).append(per_agent(module, browsers))
            cases.setdefault("first sight, bots", []).append(per_agent(module, bots))
            cases.setdefault("repeat", []).append(repeat(module, browsers[0]))

    print(f"{len(browsers)} browsers, {len(bots)} bots, {args.rounds} rounds; medians")
    print(f"{'case':<24}{'baseline µs':>14}{'current µs':>14}{'ratio':>8}")
    for case in results["current"]:
        before = statistics.median(results["baseline"][case])
        after = statistics.median(results["current"][case])
        print(f"{case:<24}{before:>14.2f}{after:>14.2f}{after / before:>8.1f}")
    print(
        f"{'import (ms)':<24}{baseline_import * 1e3:>14.1f}{current_import * 1e3:>14.1f}"
        f"{current_import / baseline_import:>8.1f}"
    )


if __name__ == "__main__":
    main()

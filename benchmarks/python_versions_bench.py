"""The in-process cache hit on each supported Python, in interleaved rounds of the same run.

    python benchmarks/python_versions_bench.py [--rounds 5] [--requests 50000] [--compiled] \
        [--python PATH ...] [--work DIR] [--json]

For each interpreter (by default the supported ones, 3.11, 3.12 and 3.13, built alike, and
the distribution's 3.11 for reference) a virtualenv is made under a temporary directory (or
``--work DIR``, kept and reused while the interpreter and the lock are the same) with the
runtime's locked packages, ``pip install --require-hashes -r requirements/runtime.txt``, what
the image's build stage installs; nothing else. The runtime itself and the harness
(``benchmarks/``, ``tests/support/``) are imported from this source tree, pure Python; each
run checks that they came from here.

With ``--compiled``, each interpreter also gets the image's build, made the way the
Dockerfile's build stage makes it: a build virtualenv with ``requirements/mypyc.txt`` and the
runtime's lock, the sources the Dockerfile copies staged in a temporary directory (nothing is
written to this tree), ``LINK_TRACKING_MYPYC=1 pip wheel --no-deps --no-build-isolation``, and
the wheel installed ``--no-deps`` into a second virtualenv with the runtime's lock. Those runs
import the runtime from site-packages (checked: ``runtime_service.redirect`` is a ``.so``) and
only the harness from the tree.

Each round runs :func:`benchmarks.runtime_bench.in_process_hit_cost` (the app called directly,
the benchmark's hit request, in-memory DynamoDB, click events to a file, the drain included)
once per case, each in a fresh process pinned to core 1 (``taskset``, when it exists), the
order rotated from round to round, so every case meets the machine's load alike. The median,
min and max of each case's CPU µs per hit and each median's ratio to the first interpreter's
(pure to pure, compiled to compiled) are printed (``--json``: also as one JSON object). An
interpreter whose locked packages do not install (or whose compiled build fails) is reported
and left out. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements" / "runtime.txt"
MYPYC_REQUIREMENTS = ROOT / "requirements" / "mypyc.txt"
#: What the Dockerfile's build stage copies to build the wheel.
BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "LICENSE",
    "build_backend",
    "link_tracking_runtime",
    "runtime_service",
)

#: The supported interpreters (pyproject.toml's classifiers). pyenv's three are built alike
#: (``-O3``, no PGO or LTO), so they compare with one another; the distribution's 3.11 is built
#: otherwise and is there for reference. The first is the base of the ratios.
DEFAULT_PYTHONS = (
    "/root/.pyenv/versions/3.11.7/bin/python",
    "/root/.pyenv/versions/3.12.1/bin/python",
    "/root/.pyenv/versions/3.13.0/bin/python",
    "/usr/bin/python3",
)

#: Imports the runtime (from the tree when ``prefix`` puts it first, else from site-packages),
#: then the harness from the tree; prints the cost, where the runtime came from, the version.
_MEASURE = """
import json, platform, sys
{prefix}
import runtime_service.redirect
sys.path.insert(0, {root!r})
from benchmarks.runtime_bench import in_process_hit_cost
cost = in_process_hit_cost({requests})
print(json.dumps({{"us": cost, "module": runtime_service.redirect.__file__,
                  "version": platform.python_version()}}))
"""


class Case(NamedTuple):
    python: str  # the interpreter asked for
    venv_python: Path
    compiled: bool


def _taskset(core: str) -> list[str]:
    return ["taskset", "-c", core] if shutil.which("taskset") else []


def _run(steps: list[list[str]], env: dict[str, str] | None = None) -> str | None:
    """Runs the steps in turn: None, or the last lines of the first that failed."""
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return " / ".join(lines[-3:])
    return None


def _pip(venv: Path, *args: str) -> list[str]:
    return [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args]


def make_venv(
    python: str, venv: Path, requirements: tuple[Path, ...] = (REQUIREMENTS,), wheel: str = ""
) -> tuple[Path | None, str]:
    """A virtualenv of ``python`` at ``venv`` with the locked ``requirements`` (and ``wheel``,
    without its dependencies): its interpreter and how it was made, or None and why not."""
    stamp = venv / ".locked"
    wanted = "\n".join([python, wheel, *(path.read_text() for path in requirements)])
    if stamp.exists() and stamp.read_text() == wanted:
        return venv / "bin" / "python", "reused"
    steps = [[python, "-m", "venv", "--clear", str(venv)]]
    steps += [_pip(venv, "--require-hashes", "-r", str(path)) for path in requirements]
    if wheel:
        steps.append(_pip(venv, "--no-deps", wheel))
    failure = _run(steps, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if failure:
        return None, failure
    stamp.write_text(wanted)
    return venv / "bin" / "python", "installed"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for name in BUILD_INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def make_compiled(python: str, work: Path) -> tuple[Path | None, str]:
    """A virtualenv of ``python`` with the runtime's lock and the mypyc-compiled wheel, built
    as the Dockerfile's build stage builds it; or None and why not."""
    build = work.with_name(work.name + "-build")
    build_python, how = make_venv(python, build, (MYPYC_REQUIREMENTS, REQUIREMENTS))
    if build_python is None:
        return None, f"build virtualenv: {how}"
    wheels = work.with_name(work.name + "-wheels") / _sources_digest()
    built = sorted(wheels.glob("link_tracking-*.whl"))
    if not built:
        with tempfile.TemporaryDirectory() as stage:
            for name in BUILD_INPUTS:
                source = ROOT / name
                if source.is_dir():
                    shutil.copytree(source, Path(stage) / name, ignore=_ignore)
                elif source.exists():
                    shutil.copy2(source, Path(stage) / name)
            failure = _run(
                [
                    [str(build_python), "-m", "pip", "wheel", "--quiet", "--no-deps"]
                    + ["--no-build-isolation", "--wheel-dir", str(wheels), stage]
                ],
                env={**os.environ, "LINK_TRACKING_MYPYC": "1"},
            )
        if failure:
            return None, f"compiled build: {failure}"
        built = sorted(wheels.glob("link_tracking-*.whl"))
    return make_venv(python, work, wheel=str(built[-1]))


def _ignore(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__" or name.endswith((".so", ".pyc"))]


def measure(case: Case, requests: int) -> tuple[float, str]:
    """CPU µs per in-process cache hit in a fresh process of the case on core 1, and the
    interpreter's version."""
    prefix = "" if case.compiled else f"sys.path.insert(0, {str(ROOT)!r})"
    code = _MEASURE.format(prefix=prefix, root=str(ROOT), requests=requests)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    with tempfile.TemporaryDirectory() as empty:  # cwd: nothing there shadows site-packages
        done = subprocess.run(
            [*_taskset("1"), str(case.venv_python), "-c", code],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        sys.exit(f"{case.venv_python}: {done.stderr.strip().splitlines()[-1:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    module = Path(answer["module"]).resolve()
    if (module.suffix == ".so") != case.compiled or module.is_relative_to(ROOT) == case.compiled:
        sys.exit(f"{case.venv_python}: the {_kind(case)} run imported {module}")
    return float(answer["us"]), str(answer["version"])


def _kind(case: Case) -> str:
    return "compiled" if case.compiled else "pure"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--python",
        action="append",
        help="an interpreter to compare, repeatable; the first is the base of the ratios "
        "(default: " + ", ".join(DEFAULT_PYTHONS) + ")",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--requests", type=int, default=50_000, help="hits per run")
    parser.add_argument(
        "--compiled", action="store_true", help="also the mypyc-compiled build, as the image's"
    )
    parser.add_argument("--work", type=Path, help="where the virtualenvs go, kept (default: temp)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    pythons = args.python or list(DEFAULT_PYTHONS)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work.resolve() if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cases: list[Case] = []
        failed: dict[str, str] = {}
        for index, python in enumerate(pythons):
            kinds = (False, True) if args.compiled else (False,)
            for compiled in kinds:
                label = f"{python} ({'compiled' if compiled else 'pure'})"
                venv = work / f"venv-{index}{'-compiled' if compiled else ''}"
                made = make_compiled(python, venv) if compiled else make_venv(python, venv)
                if made[0] is None:
                    failed[label] = made[1]
                    print(f"{label}: not measured: {made[1]}", flush=True)
                else:
                    cases.append(Case(python, made[0], compiled))
                    print(f"{label}: {venv} ({made[1]})", flush=True)
        if not cases:
            sys.exit("nothing to measure")
        costs: dict[Case, list[float]] = {case: [] for case in cases}
        versions: dict[str, str] = {}
        load_before = _load()
        print(f"load average before: {load_before}", flush=True)
        for round_ in range(args.rounds):
            shift = round_ % len(cases)
            for case in cases[shift:] + cases[:shift]:
                cost, versions[case.python] = measure(case, args.requests)
                costs[case].append(cost)
            print(
                f"round {round_ + 1}: "
                + ", ".join(
                    f"{versions[c.python]}{' compiled' if c.compiled else ''} {costs[c][-1]:.2f}"
                    for c in cases
                )
                + " µs",
                flush=True,
            )
        load_after = _load()
    bases = {}
    for case in cases:  # the first interpreter's median, pure and compiled
        bases.setdefault(case.compiled, (case, statistics.median(costs[case])))
    rows: list[dict[str, Any]] = []
    for case in sorted(cases, key=lambda c: c.compiled):
        values = costs[case]
        median = statistics.median(values)
        rows.append(
            {
                "python": case.python,
                "version": versions[case.python],
                "build": _kind(case),
                "median_us": round(median, 2),
                "min_us": round(min(values), 2),
                "max_us": round(max(values), 2),
                "ratio": round(median / bases[case.compiled][1], 3),
                "ratio_to": versions[bases[case.compiled][0].python],
                "runs_us": [round(value, 2) for value in values],
            }
        )
    print()
    print(
        f"in-process cache hit, CPU µs per hit: {args.rounds} interleaved rounds, "
        f"{args.requests} hits each, pinned {'to core 1' if _taskset('1') else 'nowhere'}; "
        f"load average {load_before} before, {load_after} after"
    )
    print()
    print("| Python | build | median | min | max | median / base |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['version']} (`{row['python']}`) | {row['build']} | {row['median_us']:.2f} "
            f"| {row['min_us']:.2f} | {row['max_us']:.2f} "
            f"| {row['ratio']:.3f} (/ {row['ratio_to']}) |"
        )
    for label, why in failed.items():
        print(f"| {label} | not measured: {why} | | | | |")
    if args.json:
        print()
        print(
            json.dumps(
                {
                    "rounds": args.rounds,
                    "requests": args.requests,
                    "pinned": bool(_taskset("1")),
                    "load_before": load_before,
                    "load_after": load_after,
                    "results": rows,
                    "failed": failed,
                }
            )
        )


if __name__ == "__main__":
    main()

"""Fail (exit 1, one line saying what to do) when the committed lock no longer matches
``pyproject.toml``: ``uv.lock`` must satisfy every range, ``requirements/runtime.txt`` (what
the Docker image installs) must be exactly the runtime's subset of ``uv.lock``, and
``requirements/checkov.txt`` (checkov's own virtualenv) must pin what ``checkov.in`` asks for.

``make check-lock`` runs it; so does CI. It needs no network: both checks read local files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_REQUIREMENTS = Path("requirements/runtime.txt")
CHECKOV_IN = Path("requirements/checkov.in")
CHECKOV_LOCK = Path("requirements/checkov.txt")
#: The command that writes RUNTIME_REQUIREMENTS (``make lock`` runs it with an output file).
EXPORT = [
    "export",
    "--frozen",
    "--quiet",
    "--extra",
    "runtime",
    "--no-emit-project",
    "--no-header",
    "--format",
    "requirements-txt",
]


def uv_command() -> list[str]:
    """The venv's uv (the version the lock pins), beside this interpreter."""
    uv = Path(sys.executable).parent / "uv"
    return [str(uv)] if uv.exists() else [sys.executable, "-m", "uv"]


def check(root: Path = ROOT) -> str | None:
    """What is out of date, as a one-line message, or None when the lock is current."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable}
    uv = uv_command()
    locked = subprocess.run(
        [*uv, "lock", "--check", "--offline"], cwd=root, env=env, capture_output=True, text=True
    )
    if locked.returncode != 0:
        return "uv.lock does not match pyproject.toml: run `make lock` and commit uv.lock"
    exported = subprocess.run(
        [*uv, *EXPORT], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout
    committed = root / RUNTIME_REQUIREMENTS
    if not committed.exists() or committed.read_text() != exported:
        return (
            f"{RUNTIME_REQUIREMENTS} is not the runtime's subset of uv.lock: run `make lock` and "
            f"commit {RUNTIME_REQUIREMENTS}"
        )
    wanted = [
        line.split("#")[0].strip()
        for line in (root / CHECKOV_IN).read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    pinned = (root / CHECKOV_LOCK).read_text().splitlines()
    if any(not any(line.startswith(f"{pin} ") for line in pinned) for pin in wanted):
        return f"{CHECKOV_LOCK} does not pin what {CHECKOV_IN} asks for: run `make lock`"
    return None


def main() -> int:
    problem = check()
    if problem:
        print(f"check-lock: {problem}", file=sys.stderr)
        return 1
    print("check-lock: uv.lock and requirements/ match pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build or refresh the project's virtualenv (``.venv``) from the committed lock (``uv.lock``).

``make`` runs this before anything else (``make install``); it never installs into the
interpreter it was started with, so it works with Debian's and Ubuntu's externally managed
``/usr/bin/python3`` as with any other Python 3.11+:

1. ``PYTHON -m venv .venv`` (again if ``.venv`` is missing or broken);
2. uv itself, at the version and with the hashes ``uv.lock`` pins for it, with the venv's pip;
3. ``uv sync --locked --extra dev``: exactly the locked packages, with hashes checked; it refuses
   a lock that no longer matches ``pyproject.toml`` instead of resolving anew.

Each failure a person can fix is one line saying what to do, and exit status 1.
The Makefile checks the Python version before running this file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"


class SetupError(Exception):
    """A failure with a one-line remedy."""


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(python: str, venv: Path) -> None:
    """Create ``venv`` with ``python`` unless a working one is there."""
    interpreter = venv_python(venv)
    if interpreter.exists():
        probe = subprocess.run(
            [str(interpreter), "-c", "import sys; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return
        print(f"{venv} is broken or too old; making it again with {python}", file=sys.stderr)
        shutil.rmtree(venv)
    result = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        if "ensurepip" in result.stdout + result.stderr:
            raise SetupError(
                f"{python} cannot create a virtualenv (no ensurepip): on Debian or Ubuntu run "
                "`apt-get install python3-venv`, then run make again"
            )
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SetupError(f"`{python} -m venv {venv}` failed: {detail[0]}")


def locked_uv_requirement(lock: Path) -> tuple[str, str]:
    """(version, a pip requirement line with every hash) of uv as ``uv.lock`` pins it."""
    data = tomllib.loads(lock.read_text())
    for package in data.get("package", []):
        if package.get("name") == "uv":
            hashes = [w["hash"] for w in package.get("wheels", [])]
            if "sdist" in package:
                hashes.append(package["sdist"]["hash"])
            version = package["version"]
            line = f"uv=={version} " + " ".join(f"--hash={h}" for h in hashes)
            return version, line
    raise SetupError("uv.lock does not pin uv: run `make lock` and commit uv.lock")


def ensure_uv(venv: Path, lock: Path) -> Path:
    """Install the locked uv into ``venv`` (hash-checked) unless that version is there."""
    version, requirement = locked_uv_requirement(lock)
    uv = venv / "bin" / "uv"
    if uv.exists():
        current = subprocess.run([str(uv), "--version"], capture_output=True, text=True)
        if current.returncode == 0 and current.stdout.split()[1:2] == [version]:
            return uv
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(requirement + "\n")
    try:
        result = subprocess.run(
            [
                str(venv_python(venv)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--only-binary=:all:",
                "-r",
                handle.name,
            ],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SetupError(f"installing uv {version} into {venv} failed: {last[0]}")
    return uv


def uv_env(venv: Path) -> dict[str, str]:
    """uv works on this venv with its interpreter, and never downloads a Python of its own."""
    return {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON": str(venv_python(venv)),
        "UV_PYTHON_DOWNLOADS": "never",
        "VIRTUAL_ENV": str(venv),
    }


def sync(uv: Path, venv: Path, root: Path = ROOT) -> None:
    result = subprocess.run(
        [str(uv), "sync", "--locked", "--extra", "dev", "--quiet"],
        cwd=root,
        env=uv_env(venv),
        capture_output=True,
        text=True,
    )
    if result.returncode == 0:
        return
    output = result.stderr + result.stdout
    if "needs to be updated" in output:
        raise SetupError(
            "uv.lock does not match pyproject.toml: run `make lock` and commit uv.lock"
        )
    sys.stderr.write(output)
    raise SetupError(f"`uv sync --locked` into {venv} failed (its output is above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=os.environ.get("PYTHON", "python3"))
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    args = parser.parse_args(argv)
    venv = Path(args.venv)
    try:
        ensure_venv(args.python, venv)
        uv = ensure_uv(venv, LOCK)
        sync(uv, venv)
    except SetupError as error:
        print(f"make: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

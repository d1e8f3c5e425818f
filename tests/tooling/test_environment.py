"""The fresh-machine path: the lock check, the virtualenv bootstrap and their one-line
answers to what goes wrong (an out-of-date lock, a Python too old, no ``venv`` module).

The quick start itself (``make dev-once`` twice from a fresh clone with a fresh ``.venv``) is
run by CI; the stack's stop paths are in ``tests/e2e/test_dev_stack.py``."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_lock = load("check_lock")
venv = load("venv")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the lock check reads: pyproject.toml, uv.lock, the runtime's export."""
    for name in (
        "pyproject.toml",
        "uv.lock",
        "requirements/runtime.txt",
        "requirements/checkov.in",
        "requirements/checkov.txt",
        "README.md",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_committed_lock_matches_pyproject() -> None:
    assert check_lock.check(ROOT) is None


def test_a_range_the_lock_does_not_satisfy_is_caught(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"orjson>=3.8"', '"orjson>=3.9,<3.9.1"'))
    assert check_lock.check(project) == (
        "uv.lock does not match pyproject.toml: run `make lock` and commit uv.lock"
    )


def test_a_new_dependency_without_a_new_lock_is_caught(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tzdata",', '"tzdata",\n    "attrs",'))
    assert check_lock.check(project) is not None


def test_a_stale_runtime_export_is_caught(project: Path) -> None:
    runtime = project / "requirements" / "runtime.txt"
    runtime.write_text(runtime.read_text().replace("orjson==", "orjson==0.0.1; orjson=="))
    assert check_lock.check(project) == (
        "requirements/runtime.txt is not the runtime's subset of uv.lock: run `make lock` and "
        "commit requirements/runtime.txt"
    )


def test_a_checkov_pin_without_a_new_compile_is_caught(project: Path) -> None:
    (project / "requirements" / "checkov.in").write_text("checkov==3.3.31\n")
    assert check_lock.check(project) == (
        "requirements/checkov.txt does not pin what requirements/checkov.in asks for: run "
        "`make lock`"
    )


def test_the_runtime_export_is_hash_pinned_and_has_no_django() -> None:
    lines = (ROOT / "requirements" / "runtime.txt").read_text()
    pins = [line.split("==")[0] for line in lines.splitlines() if "==" in line]
    assert {"aiobotocore", "uvicorn", "gunicorn", "orjson"} <= set(pins)
    assert "django" not in {pin.lower() for pin in pins}
    for block in lines.split("\n    # via")[:-1]:
        assert "--hash=sha256:" in block


def test_uv_is_installed_at_the_version_and_hashes_the_lock_pins() -> None:
    version, requirement = venv.locked_uv_requirement(ROOT / "uv.lock")
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    [entry] = [p for p in lock["package"] if p["name"] == "uv"]
    assert version == entry["version"]
    assert requirement.startswith(f"uv=={version} --hash=sha256:")
    assert requirement.count("--hash=") == len(entry["wheels"]) + 1  # every wheel and the sdist
    # and the venv running this test has exactly that uv
    out = subprocess.run([str(UV), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == version


def test_sync_refuses_an_out_of_date_lock_in_one_line(project: Path, tmp_path: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tzdata",', '"tzdata",\n    "attrs",'))
    venv.ensure_venv(sys.executable, tmp_path / "venv")
    with pytest.raises(venv.SetupError) as caught:
        venv.sync(UV, tmp_path / "venv", root=project)
    assert str(caught.value) == (
        "uv.lock does not match pyproject.toml: run `make lock` and commit uv.lock"
    )


def fake_python(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "python3"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_a_python_without_venv_gets_the_package_to_install(tmp_path: Path) -> None:
    python = fake_python(
        tmp_path,
        'echo "The virtual environment was not created successfully because ensurepip is not '
        'available." ; exit 1\n',
    )
    with pytest.raises(venv.SetupError) as caught:
        venv.ensure_venv(str(python), tmp_path / "venv")
    assert "apt-get install python3-venv" in str(caught.value)
    assert not (tmp_path / "venv").exists()


def test_make_refuses_a_python_too_old_in_one_line(tmp_path: Path) -> None:
    python = fake_python(tmp_path, 'case "$1" in -V) echo "Python 3.9.2";; *) exit 1;; esac\n')
    result = subprocess.run(
        ["make", "-s", "install", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        f"make: link-tracking needs Python 3.11 or newer; '{python}' is Python 3.9.2: run make "
        "PYTHON=python3.11 (or newer)"
    )
    assert not (tmp_path / "venv").exists()

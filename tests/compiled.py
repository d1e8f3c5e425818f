"""A pytest plugin: run the tests against the compiled build (``make test-compiled``).

    .venv-compiled/bin/python -m pytest -p tests.compiled tests/contract tests/runtime

Loaded with ``-p`` (before Django or any conftest imports the contract), it imports
``link_tracking_runtime`` and ``runtime_service`` from the interpreter's site-packages, where
``make compiled`` installed the mypyc-compiled wheel, instead of from this source tree, which
pytest puts first on ``sys.path``. Their submodules then load from the installed packages too.
It stops the run unless the modules the build compiles are extension modules, and skips the
tests marked ``interpreted_only`` (they patch a module global that compiled code does not read
through the module), each with its reason.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build_backend"))
from link_tracking_build import COMPILED_PACKAGES, compiled_modules  # noqa: E402

sys.path.remove(str(ROOT / "build_backend"))


def _import_installed() -> None:
    imported = [name for name in COMPILED_PACKAGES if name in sys.modules]
    if imported:
        raise pytest.UsageError(f"{imported} imported before tests.compiled: load it with -p")
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    try:
        for name in COMPILED_PACKAGES:
            importlib.import_module(name)
    finally:
        sys.path[:] = saved


def interpreted_modules() -> list[str]:
    """The modules of the compiled packages that did not load from an extension module."""
    return [
        name
        for name in compiled_modules(ROOT)
        if not str(importlib.import_module(name).__file__).endswith(".so")
    ]


_import_installed()


def pytest_configure(config: pytest.Config) -> None:
    not_compiled = interpreted_modules()
    if not_compiled:
        raise pytest.UsageError(
            f"tests.compiled: {', '.join(not_compiled)} are not compiled in {sys.prefix}: "
            "run `make compiled` and use .venv-compiled/bin/python"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("interpreted_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"interpreted only: {reason}"))

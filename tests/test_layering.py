"""The halves meet only in the contract: the contract and the runtime never import Django, and
the control plane never imports the runtime. Checked in a fresh interpreter per side, by what
ends up in ``sys.modules`` after importing every module of the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import importlib, json, pkgutil, sys
setup = {setup!r}
if setup:
    import django
    django.setup()
for package in {packages!r}:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name not in {skip!r}:
            importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_importing(
    packages: list[str], *, django_setup: bool = False, skip: frozenset[str] = frozenset()
) -> set[str]:
    code = _PROBE.format(packages=packages, setup=django_setup, skip=set(skip) or set())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "devsite.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def _top(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


def test_the_contract_imports_neither_django_nor_the_runtime() -> None:
    top = _top(_modules_after_importing(["link_tracking_runtime"]))
    assert not top & {"django", "rest_framework", "runtime_service", "link_tracking_publisher"}


def test_the_runtime_never_imports_django_or_the_control_plane() -> None:
    # runtime_service.asgi builds the app from the environment when imported; what it
    # imports is runtime_service.app, which is imported here.
    top = _top(
        _modules_after_importing(["runtime_service"], skip=frozenset({"runtime_service.asgi"}))
    )
    assert "link_tracking_runtime" in top
    assert not top & {"django", "rest_framework", "link_tracking_publisher", "celery"}


def test_the_control_plane_never_imports_the_runtime() -> None:
    modules = _modules_after_importing(["link_tracking_publisher"], django_setup=True)
    assert "link_tracking_runtime" in _top(modules)
    assert "runtime_service" not in _top(modules)

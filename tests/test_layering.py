"""The halves meet only in the contract: the contract and the runtime never import Django, and
the control plane never imports the runtime. Checked in a fresh interpreter per side, by what
ends up in ``sys.modules`` after importing every module of the package."""

from __future__ import annotations

import ast
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


TASKS = "link_tracking_publisher.tasks"


def _imported_names(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, at module level or inside functions, with relative
    imports resolved against ``package`` (the module's own package); ``from a import b`` counts
    as importing both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base_parts = parts[: len(parts) - node.level + 1] if node.level else []
            base = ".".join([*base_parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _services_importing_tasks(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    services = root / "link_tracking_publisher" / "services"
    for path in sorted(services.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        module_parts = list(relative.parts)
        if module_parts[-1] == "__init__":
            module_parts.pop()
            package = ".".join(module_parts)
        else:
            package = ".".join(module_parts[:-1])
        bad = sorted(
            name
            for name in _imported_names(path, package)
            if name == TASKS or name.startswith(TASKS + ".")
        )
        if bad:
            found[str(path.relative_to(root))] = bad
    return found


def test_the_service_layer_never_imports_the_tasks() -> None:
    """Tasks call services, never the reverse: a service sends work after commit by task name
    (``link_tracking_publisher.dispatch``), so it cannot depend on the Celery layer."""
    assert _services_importing_tasks(ROOT) == {}


def test_the_service_layer_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    services = tmp_path / "link_tracking_publisher" / "services"
    services.mkdir(parents=True)
    (services / "__init__.py").write_text("")
    (services / "clean.py").write_text("from ..models import Link\nfrom . import slugs\n")
    (services / "lazy.py").write_text("def f():\n    from ..tasks import publish_link_task\n")
    (services / "parent.py").write_text("def f():\n    from .. import tasks\n")
    (services / "absolute.py").write_text("import link_tracking_publisher.tasks.click_tasks\n")
    assert _services_importing_tasks(tmp_path) == {
        "link_tracking_publisher/services/absolute.py": [f"{TASKS}.click_tasks"],
        "link_tracking_publisher/services/lazy.py": [TASKS, f"{TASKS}.publish_link_task"],
        "link_tracking_publisher/services/parent.py": [TASKS],
    }

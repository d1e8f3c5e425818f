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
    return _imported_names_of(ast.parse(path.read_text(), filename=str(path)), package)


def _imported_names_of(tree: ast.AST, package: str) -> set[str]:
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


PACKAGE = "link_tracking_publisher"

#: The layers that send Celery tasks by name (``dispatch``) and never import ``tasks``.
LAYERS_WITHOUT_TASKS = ("services", "clicks", "api", "admin")


def _modules(root: Path) -> dict[str, tuple[Path, str]]:
    """Every module of the publisher (migrations aside): its dotted name → (its file, the
    package its relative imports resolve against)."""
    found: dict[str, tuple[Path, str]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
            found[".".join(parts)] = (path, ".".join(parts))
        else:
            found[".".join(parts)] = (path, ".".join(parts[:-1]))
    return found


def _importing_tasks(root: Path, layers: tuple[str, ...]) -> dict[str, list[str]]:
    """The modules of ``layers`` (subpackages or modules of the publisher) that import
    ``tasks``, anywhere in the file, with what they import."""
    found: dict[str, list[str]] = {}
    for name, (path, package) in _modules(root).items():
        if name.split(".")[1:2] not in ([layer] for layer in layers):
            continue
        bad = sorted(
            imported
            for imported in _imported_names(path, package)
            if imported == TASKS or imported.startswith(TASKS + ".")
        )
        if bad:
            found[str(path.relative_to(root))] = bad
    return found


def _services_importing_tasks(root: Path) -> dict[str, list[str]]:
    return _importing_tasks(root, ("services",))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements under ``node`` that run, at module level or in a function, but
    not under ``if TYPE_CHECKING:`` (only the type checker reads those)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                found.extend(_run_time_imports(ast.Module(body=[other], type_ignores=[])))
        elif isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        else:
            found.extend(_run_time_imports(child))
    return found


def _import_graph(root: Path) -> dict[str, set[str]]:
    """Which of the publisher's modules each one imports (at module level or inside a
    function: an import inside a function only hides a cycle, it does not remove it). Importing
    ``a.b.c`` runs the packages ``a.b`` first, so it counts as importing them too, except the
    importer's own packages (they are already being imported)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges: set[str] = set()
        for node in _run_time_imports(tree):
            single = ast.Module(body=[node], type_ignores=[])
            for imported in _imported_names_of(single, package):
                while imported and imported not in modules:
                    imported = imported.rpartition(".")[0]
                while imported and imported != PACKAGE:
                    if imported != name and not (name + ".").startswith(imported + "."):
                        edges.add(imported)
                    imported = imported.rpartition(".")[0]
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of two modules or
    more (Tarjan's algorithm), each sorted, and the list sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


#: The publisher's imports inside functions of its own modules, each for a reason: the app's
#: ``ready()`` imports what registers the checks and the tasks (both import the models, which
#: cannot be loaded while Django imports the apps).
ALLOWED_LOCAL_IMPORTS = {f"{PACKAGE}.apps": {f"{PACKAGE}.checks", f"{PACKAGE}.tasks"}}


def _local_imports(root: Path) -> dict[str, set[str]]:
    """The publisher's own modules each module imports inside a function."""
    found: dict[str, set[str]] = {}
    modules = _modules(root)
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in _run_time_imports(node):
                    single = ast.Module(body=[inner], type_ignores=[])
                    names.update(
                        imported
                        for imported in _imported_names_of(single, package)
                        if imported in modules and imported != PACKAGE
                    )
        if names:
            found[name] = names
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


def test_clicks_the_api_and_the_admin_never_import_the_tasks() -> None:
    """Like the services, they send a task by its name in ``dispatch`` (through a service),
    so only the Celery layer and the management commands import ``tasks``."""
    assert _importing_tasks(ROOT, LAYERS_WITHOUT_TASKS) == {}


def test_the_tasks_check_covers_every_layer(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    for folder in ("clicks", "api", "tasks", "management"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "admin.py").write_text("from .tasks import verify_domain_task\n")
    (package / "clicks" / "ingest.py").write_text("def f():\n    from ..tasks import x\n")
    (package / "api" / "views.py").write_text("from .. import dispatch\n")
    (package / "management" / "cmd.py").write_text("from ..tasks import x\n")
    assert _importing_tasks(tmp_path, LAYERS_WITHOUT_TASKS) == {
        f"{PACKAGE}/admin.py": [TASKS, f"{TASKS}.verify_domain_task"],
        f"{PACKAGE}/clicks/ingest.py": [TASKS, f"{TASKS}.x"],
    }


def test_the_publisher_has_no_import_cycle() -> None:
    """No module of the publisher imports, through any chain of imports (inside functions
    too), a module that imports it."""
    graph = _import_graph(ROOT)
    assert f"{PACKAGE}.services.publishing" in graph[f"{PACKAGE}.services.domains"]
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_and_a_package(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    (package / "clicks").mkdir(parents=True)
    (package / "tasks").mkdir()
    (package / "__init__.py").write_text("")
    (package / "clicks" / "__init__.py").write_text("")
    (package / "tasks" / "__init__.py").write_text("from .click_tasks import deliver\n")
    (package / "tasks" / "click_tasks.py").write_text("from ..clicks.ingest import run\n")
    # Importing tasks.other runs tasks/__init__, which imports click_tasks, which imports ingest.
    (package / "clicks" / "ingest.py").write_text("def run():\n    from ..tasks import other\n")
    (package / "tasks" / "other.py").write_text("")
    (package / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import typed2\n"
    )
    (package / "typed2.py").write_text("from . import typed\n")
    graph = _import_graph(tmp_path)
    assert graph[f"{PACKAGE}.clicks.ingest"] == {f"{PACKAGE}.tasks", f"{PACKAGE}.tasks.other"}
    assert graph[f"{PACKAGE}.typed"] == set()
    assert _cycles(graph) == [
        [f"{PACKAGE}.clicks.ingest", f"{PACKAGE}.tasks", f"{PACKAGE}.tasks.click_tasks"]
    ]


def test_imports_inside_functions_are_only_where_the_app_registry_needs_them() -> None:
    """An import of the publisher's own module inside a function hides a dependency (and
    often a cycle): only ``apps.ready()`` has one, for a reason the app registry sets."""
    assert _local_imports(ROOT) == ALLOWED_LOCAL_IMPORTS

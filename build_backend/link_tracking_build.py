"""The package's build backend: setuptools, plus an opt-in mypyc-compiled build.

``pip install .`` (or of the sdist) builds the pure-Python package, the reference
implementation, and needs no compiler and no mypy. With ``LINK_TRACKING_MYPYC=1`` in the
build's environment, the contract (``link_tracking_runtime``) and the runtime modules mypyc
can compile are compiled into C extensions beside their sources, as black and mypy ship
themselves; the ``.py`` files stay in the wheel, and the interpreter imports the extension
module in their place. ``make compiled`` builds and installs that wheel; the Dockerfile's
runtime image ships it.

Every hook is setuptools' own (``setup.py`` reads :func:`compiled_sources`), with two changes:
:func:`get_requires_for_build_wheel` asks for mypy when the build is opted in, so mypy is a
build requirement of the compiled build alone, and an sdist is always the sources alone.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every PEP 517/660 hook, unchanged)

#: The build's opt-in: ``LINK_TRACKING_MYPYC=1`` compiles; unset or ``0`` builds pure Python.
OPT_IN = "LINK_TRACKING_MYPYC"
#: The compiler: the mypy the lock (uv.lock) pins, so the compiled build type-checks and
#: compiles with the mypy ``make lint`` runs (a test checks the two agree).
MYPYC_REQUIRES = ("mypy[mypyc]==2.4.1",)
#: Packages compiled; each module of them is, but the excluded ones.
COMPILED_PACKAGES = ("link_tracking_runtime", "runtime_service")
#: Kept interpreted: ``app.py`` holds an async generator (``RuntimeApp.running``, an
#: ``asynccontextmanager``), which mypyc cannot compile, and ``asgi.py`` only builds the app from
#: the environment at import; ``server.py`` extends uvicorn's protocol class (mypyc compiles no
#: subclass of an interpreted class).
INTERPRETED_MODULES = ("runtime_service.app", "runtime_service.asgi", "runtime_service.server")

ROOT = Path(__file__).resolve().parent.parent


def opted_in() -> bool:
    """Whether this build compiles (``LINK_TRACKING_MYPYC`` is ``1``, ``true`` or ``yes``)."""
    value = os.environ.get(OPT_IN, "").strip().lower()
    if value in {"", "0", "false", "no"}:
        return False
    if value in {"1", "true", "yes"}:
        return True
    raise ValueError(f"{OPT_IN}={value!r}: use 1 to compile with mypyc, or 0 (or unset) not to")


def compiled_modules(root: Path = ROOT) -> list[str]:
    """Dotted names of the modules the compiled build compiles, in a stable order."""
    names = []
    for package in COMPILED_PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            if name not in INTERPRETED_MODULES:
                names.append(name)
    return names


def compiled_sources(root: Path = ROOT) -> list[str]:
    """The source files of :func:`compiled_modules`, relative to ``root`` (mypycify's input)."""
    sources = []
    for name in compiled_modules(root):
        parts = name.split(".")
        path = Path(*parts, "__init__.py") if len(parts) == 1 else Path(*parts).with_suffix(".py")
        sources.append(path.as_posix())
    return sources


#: ``[tool.mypy]`` keys the compiled build leaves out: the Django and DRF plugins import the
#: control plane's settings, which a build of the contract and the runtime has not got (the
#: runtime image's build stage has no Django), and ``packages`` (mypycify names the sources).
MYPYC_DROPPED_MYPY_KEYS = ("plugins", "packages")


def compiled_mypy_config(root: Path = ROOT) -> str:
    """``pyproject.toml``'s ``[tool.mypy]``, the one declaration ``make lint`` checks with, as
    a ``mypy.ini`` for the compiled build: the same strictness and per-module overrides, without
    :data:`MYPYC_DROPPED_MYPY_KEYS`."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mypy"]

    def ini(value: object) -> str:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return str(value)

    lines = ["[mypy]"]
    for key, value in config.items():
        if key not in MYPYC_DROPPED_MYPY_KEYS and key != "overrides":
            lines.append(f"{key} = {ini(value)}")
    for override in config.get("overrides", []):
        modules = override["module"]
        lines.append(f"\n[mypy-{ini(modules if isinstance(modules, list) else [modules])}]")
        lines.extend(f"{k} = {ini(v)}" for k, v in override.items() if k != "module")
    return "\n".join(lines) + "\n"


def get_requires_for_build_wheel(config_settings=None):
    if not opted_in():
        return _setuptools.get_requires_for_build_wheel(config_settings)
    # setuptools' own hook runs setup.py, which would import mypyc before it is installed; the
    # project has no setup_requires, so this is all that hook would add. mypy type-checks what
    # it compiles, so the runtime's dependencies (their types) are there too.
    return [*MYPYC_REQUIRES, *runtime_requirements()]


def runtime_requirements(root: Path = ROOT) -> list[str]:
    """The ``runtime`` extra's requirements, as ``pyproject.toml`` declares them."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"]["runtime"])


@contextlib.contextmanager
def _sources_only() -> Iterator[None]:
    """An sdist carries sources, compiled build or not: setup.py runs without the opt-in."""
    saved = os.environ.pop(OPT_IN, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[OPT_IN] = saved


def get_requires_for_build_sdist(config_settings=None):
    with _sources_only():
        return _setuptools.get_requires_for_build_sdist(config_settings)


def build_sdist(sdist_directory, config_settings=None):
    with _sources_only():
        return _setuptools.build_sdist(sdist_directory, config_settings)

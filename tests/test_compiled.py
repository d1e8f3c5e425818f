"""The optional compiled build (build_backend/, setup.py, ``make compiled``)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build_backend"))
import link_tracking_build as build  # noqa: E402

sys.path.remove(str(ROOT / "build_backend"))


@pytest.fixture
def compiled_run(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("tests.compiled"):
        pytest.skip("runs against the compiled build only: make test-compiled")


def test_the_compiled_modules_are_extension_modules_from_site_packages(compiled_run) -> None:
    installed = Path(sysconfig.get_paths()["platlib"])
    modules = build.compiled_modules(ROOT)
    assert "link_tracking_runtime.click" in modules and "runtime_service.redirect" in modules
    for name in modules:
        path = Path(importlib.import_module(name).__file__)
        assert path.name.endswith(".so"), name
        assert installed in path.parents, f"{name} is not the installed build: {path}"
    for name in build.INTERPRETED_MODULES:  # found, not imported: asgi builds the app
        path = Path(importlib.util.find_spec(name).origin)
        assert path.suffix == ".py" and installed in path.parents, path


def test_every_module_but_app_and_asgi_is_compiled() -> None:
    modules = build.compiled_modules(ROOT)
    sources = {
        f"{package}.{path.stem}" if path.stem != "__init__" else package
        for package in build.COMPILED_PACKAGES
        for path in (ROOT / package).glob("*.py")
    }
    assert set(modules) == sources - set(build.INTERPRETED_MODULES)
    assert set(build.INTERPRETED_MODULES) <= sources
    assert build.compiled_sources(ROOT)[modules.index("link_tracking_runtime")] == (
        "link_tracking_runtime/__init__.py"
    )
    for source in build.compiled_sources(ROOT):
        assert (ROOT / source).is_file(), source


def test_the_compiling_mypy_is_the_locked_one() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "mypy"]
    assert build.MYPYC_REQUIRES == (f"mypy[mypyc]=={locked}",)
    pinned = (ROOT / "requirements" / "mypyc.in").read_text()
    assert f"mypy[mypyc]=={locked}\n" in pinned
    assert f"\nmypy=={locked} " in (ROOT / "requirements" / "mypyc.txt").read_text()


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_without_the_opt_in_the_build_is_setuptools_pure_python(monkeypatch, value) -> None:
    monkeypatch.setenv(build.OPT_IN, value)
    assert not build.opted_in()


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_opt_in_asks_for_mypy_and_the_runtime_dependencies(monkeypatch, value) -> None:
    monkeypatch.setenv(build.OPT_IN, value)
    assert build.opted_in()
    requires = build.get_requires_for_build_wheel()
    assert requires[: len(build.MYPYC_REQUIRES)] == list(build.MYPYC_REQUIRES)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requires[len(build.MYPYC_REQUIRES) :] == project["optional-dependencies"]["runtime"]


def test_an_unreadable_opt_in_is_an_error_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv(build.OPT_IN, "maybe")
    with pytest.raises(ValueError, match="LINK_TRACKING_MYPYC='maybe'"):
        build.opted_in()

"""The distribution's metadata decisions (pyproject.toml, the lock, README, MANIFEST.in): the
Django each Python gets, PEP 639 licensing, the classifiers, ``py.typed`` in every package, one
version source. Nothing is built here; ``uv build`` and ``twine check`` are the release's step."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
#: Each Python the package supports, with the Django series the lock must resolve for it.
LOCKED_DJANGO = {"3.11": "5.2", "3.12": "6.1", "3.13": "6.1"}
#: The stubs mypy's Django plugin reads follow the Django of each leg.
LOCKED_DJANGO_STUBS = LOCKED_DJANGO
SHIPPED_PACKAGES = ("link_tracking_publisher", "runtime_service", "link_tracking_runtime")


def environment(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0", "extra": ""}


def allowed(requirements: list[str], name: str, python: str) -> SpecifierSet:
    """The specifiers that apply to ``name`` on ``python``, as pip evaluates the markers."""
    specifiers = SpecifierSet()
    for line in requirements:
        requirement = Requirement(line)
        if requirement.name.lower() != name:
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment(python)):
            specifiers &= requirement.specifier
    return specifiers


def locked_version(name: str, python: str) -> Version:
    """The version uv.lock installs of ``name`` on ``python`` (its forks chosen by marker)."""
    versions = []
    for package in LOCK["package"]:
        if package["name"] != name:
            continue
        markers = package.get("resolution-markers")
        if markers is None or any(Marker(m).evaluate(environment(python)) for m in markers):
            versions.append(Version(package["version"]))
    [version] = versions
    return version


def series(version: Version) -> str:
    return f"{version.major}.{version.minor}"


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_the_publisher_allows_django_5_2_on_every_python(python: str) -> None:
    django = allowed(PROJECT["optional-dependencies"]["publisher"], "django", python)
    assert "5.2.0" in django
    assert "4.2.0" not in django and "5.1.0" not in django


def test_django_6_is_allowed_only_where_it_runs_and_up_to_the_tested_6_1() -> None:
    publisher = PROJECT["optional-dependencies"]["publisher"]
    # Django 6 needs Python 3.12: on 3.11 the range itself stops before it, so pip never tries.
    assert "6.0" not in allowed(publisher, "django", "3.11")
    for python in ("3.12", "3.13"):
        django = allowed(publisher, "django", python)
        assert "6.0" in django and "6.1.3" in django
        assert "6.2" not in django


@pytest.mark.parametrize("python", sorted(LOCKED_DJANGO))
def test_the_lock_forks_django_and_its_stubs_by_python(python: str) -> None:
    assert series(locked_version("django", python)) == LOCKED_DJANGO[python]
    assert series(locked_version("django-stubs", python)) == LOCKED_DJANGO_STUBS[python]
    dev = PROJECT["optional-dependencies"]["dev"]
    assert locked_version("django", python) in allowed(dev, "django", python)


def test_the_django_classifiers_are_the_series_the_ranges_allow_and_the_lock_tests() -> None:
    classifiers = PROJECT["classifiers"]
    assert "Framework :: Django" in classifiers
    declared = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Framework :: Django :: ")
    }
    publisher = PROJECT["optional-dependencies"]["publisher"]
    for version in declared:
        assert any(f"{version}.0" in allowed(publisher, "django", p) for p in LOCKED_DJANGO), (
            version
        )
    assert set(LOCKED_DJANGO.values()) <= declared


def test_the_python_classifiers_match_requires_python() -> None:
    declared = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert declared == set(LOCKED_DJANGO)
    assert all(f"{python}.0" in SpecifierSet(PROJECT["requires-python"]) for python in declared)


def test_the_license_is_a_pep_639_expression_with_its_file() -> None:
    assert PROJECT["license"] == "LicenseRef-Proprietary"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().strip()
    # PEP 639: a license expression and a license classifier together are an error at upload.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]
    [setuptools] = [
        Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")
    ]
    # setuptools 77 is the first that writes License-Expression and License-File.
    assert "76.1" not in setuptools.specifier and "77.0" in setuptools.specifier


def test_the_runtime_image_copies_the_license_files_the_build_needs() -> None:
    # setuptools refuses to build when a license file is missing from the build context.
    [copy] = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY pyproject.toml ")
    ]
    assert set(PROJECT["license-files"]) <= set(copy.split()[1:-1])


@pytest.mark.parametrize("package", SHIPPED_PACKAGES)
def test_every_shipped_package_is_typed_and_ships_its_marker(package: str) -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert any(package.startswith(p.rstrip("*")) for p in setuptools["packages"]["find"]["include"])
    assert (ROOT / package / "py.typed").is_file()
    assert "py.typed" in setuptools["package-data"][package]
    assert "Typing :: Typed" in PROJECT["classifiers"]


@pytest.mark.parametrize("package", SHIPPED_PACKAGES)
def test_the_version_is_read_from_the_distribution_not_written_again(package: str) -> None:
    module: Any = importlib.import_module(package)
    assert module.__version__ == PROJECT["version"]
    literal = re.compile(rf"""["']{re.escape(PROJECT["version"])}["']""")
    assert not [p for p in (ROOT / package).rglob("*.py") if literal.search(p.read_text())]


def test_sources_not_installed_import_with_a_version_that_says_so(tmp_path: Path) -> None:
    # mypy's django plugin imports the app from the tree in the compiled build, where the
    # distribution is not installed yet; -S leaves out site-packages, so its metadata too. The
    # package is copied alone: a build leaves link_tracking.egg-info in the checkout, metadata
    # that importlib.metadata would find there.
    shutil.copytree(ROOT / "link_tracking_runtime", tmp_path / "link_tracking_runtime")
    out = subprocess.run(
        [sys.executable, "-S", "-c", "import link_tracking_runtime as c; print(c.__version__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0+unknown"


def test_the_long_description_links_are_absolute() -> None:
    # README.md is the package index's long description, where a relative link is dead.
    readme = (ROOT / PROJECT["readme"]).read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets
    assert [t for t in targets if not t.startswith(("https://", "http://", "#"))] == []
    homepage = PROJECT["urls"]["Homepage"]
    assert all(t.startswith(homepage) for t in targets if "/docs/" in t)


def test_the_project_urls_and_the_changelog() -> None:
    assert set(PROJECT["urls"]) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in PROJECT["urls"].values())
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert PROJECT["urls"]["Changelog"].endswith("/CHANGELOG.md")


def test_the_sdist_leaves_the_tests_out() -> None:
    # setuptools adds tests/test*.py to an sdist by default; the tests stay in the repository.
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "prune tests" in manifest

"""setuptools' entry point for the one thing pyproject.toml cannot declare: the opt-in
mypyc-compiled extension modules (``LINK_TRACKING_MYPYC=1``; see build_backend/)."""

import sys
import tempfile
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "build_backend"))
from link_tracking_build import compiled_mypy_config, compiled_sources, opted_in  # noqa: E402

ext_modules = []
if opted_in():
    from mypyc.build import mypycify

    # mypy's configuration for what it compiles: pyproject.toml's, without the control plane's
    # plugins (link_tracking_build.compiled_mypy_config says why).
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write(compiled_mypy_config())
    ext_modules = mypycify(["--config-file", config.name, *compiled_sources()], opt_level="3")

setup(ext_modules=ext_modules)

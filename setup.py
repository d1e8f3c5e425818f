"""setuptools' entry point for the one thing pyproject.toml cannot declare: the opt-in
mypyc-compiled extension modules (``LINK_TRACKING_MYPYC=1``; see build_backend/)."""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "build_backend"))
from link_tracking_build import compiled_sources, opted_in  # noqa: E402

ext_modules = []
if opted_in():
    from mypyc.build import mypycify

    ext_modules = mypycify(compiled_sources(), opt_level="3")

setup(ext_modules=ext_modules)

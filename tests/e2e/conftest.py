"""Fixtures of the end-to-end tests: a moto server for the module, fresh resources per test,
and a factory for runtime processes. Reusable by any e2e test (publisher included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devsite.processes import moto_server
from devsite.stack import LocalStack
from tests.support.stack import LocalAws


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server(log_path=log) as endpoint:
        yield endpoint


@pytest.fixture
def local_aws(moto_endpoint: str) -> LocalAws:
    return LocalAws(moto_endpoint)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """The local stack's control plane (``manage.py``, worker) on its own moto server, with
    its database migrated and its table created."""
    with moto_server(log_path=tmp_path / "moto.log") as endpoint:
        local = LocalStack(tmp_path / "var", endpoint)
        local.manage("migrate", "--no-input", "-v", "0")
        local.manage("setup_dynamodb")
        try:
            yield local
        finally:
            local.stop()

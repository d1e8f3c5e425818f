"""A moto server in a thread of the test process, for the aiobotocore adapters.

moto's ``mock_aws`` patches botocore's synchronous HTTP layer; aiobotocore awaits the
response body, which the in-process stub cannot provide, so the adapters talk to moto over
loopback HTTP instead (``ThreadedMotoServer``: still moto, still in-process).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from devsite.processes import free_port
from tests.support.stack import LocalAws


@pytest.fixture(scope="session")
def threaded_moto() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_aws(threaded_moto: str, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    aws = LocalAws(threaded_moto)
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    return aws

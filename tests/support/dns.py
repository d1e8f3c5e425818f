"""The stub DNS of the domain-ownership tests: name → TXT strings, through the resolver seam
(``LINK_TRACKING["DOMAIN_VERIFICATION_RESOLVER"]``), so no test asks a real nameserver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

TXT: dict[str, list[str]] = {}


def stub_txt_records(name: str) -> list[str]:
    return list(TXT.get(name, []))


@pytest.fixture
def dns(settings: Any) -> Iterator[dict[str, list[str]]]:
    """The stub's records, empty at the start of the test: set ``dns[name] = [...]``."""
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "DOMAIN_VERIFICATION_RESOLVER": "tests.support.dns.stub_txt_records",
    }
    TXT.clear()
    yield TXT
    TXT.clear()

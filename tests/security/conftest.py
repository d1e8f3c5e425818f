"""Fixtures of the security suite: the API's users and clients, moto, and a stub DNS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import (  # noqa: F401  (shared fixtures)
    _fast_passwords,
    account_a,
    account_b,
    alice,
    alice_client,
    bob,
    bob_client,
    campaign_a,
    client_for,
    domain_a,
    enqueued,
    make_user,
    membership_policy,
    staff,
    staff_client,
)
from tests.clicks.conftest import webhook_dns  # noqa: F401  (the stub DNS of webhook deliveries)
from tests.publisher.conftest import _aws_env, aws, table  # noqa: F401

#: The stub DNS: name → TXT strings. The resolver seam (DOMAIN_VERIFICATION_RESOLVER) points at
#: :func:`stub_txt_records`, so no test asks a real nameserver.
TXT: dict[str, list[str]] = {}


def stub_txt_records(name: str) -> list[str]:
    return list(TXT.get(name, []))


@pytest.fixture
def dns(settings: Any) -> Iterator[dict[str, list[str]]]:
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "DOMAIN_VERIFICATION_RESOLVER": "tests.security.conftest.stub_txt_records",
    }
    TXT.clear()
    yield TXT
    TXT.clear()

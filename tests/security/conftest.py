"""Fixtures of the security suite: the API's users and clients, moto, and a stub DNS."""

from __future__ import annotations

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
from tests.support.dns import dns  # noqa: F401  (the stub DNS of domain ownership)

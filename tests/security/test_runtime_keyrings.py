"""The runtime reads signing keyrings only under its configured prefix.

Before: the runtime read whatever Secrets Manager id a record's ``signature_key_id`` named, so
a record written around the control plane could make any secret the task can read (with a
JSON ``current`` key) a signing key, and the answers told a missing keyring from an unusable
one. Now a ``signature_key_id`` that is not a name under ``SIGNING_KEYRING_PREFIX`` (the
contract's ``is_keyring_name``, the same rule the control plane validates with) is ``no_key``
without any read, exactly like a missing keyring; the visitor goes to the fallback either way.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from link_tracking_runtime import Keyring, SigningKey, sign_url
from link_tracking_runtime.signing import DEFAULT_KEYRING_PREFIX, is_keyring_name
from runtime_service.config import load_settings
from runtime_service.errors import ImproperlyConfigured
from runtime_service.signatures import SignatureVerifier
from tests.support.fakes import FakeSecrets, ManualClock
from tests.support.records import HOST, item
from tests.support.runtime import Harness

SECRET = "link-signing-secret-0123456789"
KEYRING = json.dumps({"current": {"kid": "default", "secret": SECRET}})
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148 Safari/604.1"
OUTSIDE = [
    "prod/database-password",
    "link-signatures",
    DEFAULT_KEYRING_PREFIX,
    "link-signatures/../prod/ip-hash-key",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:link-signatures/x",
    "other/link-signatures/x",
]


@pytest.mark.parametrize("name", OUTSIDE)
def test_names_outside_the_prefix_are_never_read(name: str) -> None:
    assert not is_keyring_name(name, DEFAULT_KEYRING_PREFIX)
    secrets = FakeSecrets({name: KEYRING})
    verifier = SignatureVerifier(
        secrets, clock=ManualClock(), cache_ttl=300.0, max_lifetime=86400 * 30
    )
    keyring = Keyring(SigningKey("default", SECRET.encode()))
    url = sign_url(f"https://{HOST}/SIG", keyring, 1_767_225_600 + 3600)
    pairs = [tuple(p.split("=", 1)) for p in url.split("?", 1)[1].split("&")]
    result = asyncio.run(verifier.check(name, HOST, "SIG", pairs, 1_767_225_600))  # type: ignore[arg-type]
    assert result == "no_key" and secrets.calls == 0


def test_outside_the_prefix_answers_like_a_missing_keyring(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        items=[
            item("OUT", signature_required=True, signature_key_id="prod/database-password"),
            item("GONE", signature_required=True, signature_key_id="link-signatures/gone"),
            item("IN", signature_required=True, signature_key_id="link-signatures/in"),
        ],
        secrets=FakeSecrets({"prod/database-password": KEYRING, "link-signatures/in": KEYRING}),
    )
    keyring = Keyring(SigningKey("default", SECRET.encode()))
    now = int(harness.clock.now)

    async def run() -> list[str]:
        async with harness.client() as client:
            answers = []
            for slug in ("OUT", "GONE", "IN"):
                path = sign_url(f"https://{HOST}/{slug}", keyring, now + 3600).split(HOST)[1]
                response = await client.get(path, headers={"host": HOST, "user-agent": PHONE})
                answers.append(response.headers["location"].split("?")[0])
            return answers

    fallback = f"https://{HOST}/disabled"
    assert asyncio.run(run()) == [fallback, fallback, "https://shop.example.com/in"]
    assert [e.outcome for e in harness.events()] == ["signature_invalid"] * 2 + ["ok"]
    assert harness.secrets.calls == 2  # "gone" and "in"; never the database password


def test_the_prefix_is_a_setting_and_must_be_a_prefix() -> None:
    assert load_settings({"ENVIRONMENT": "development"}).signing_keyring_prefix == (
        DEFAULT_KEYRING_PREFIX
    )
    custom = load_settings({"ENVIRONMENT": "development", "SIGNING_KEYRING_PREFIX": "acme/keys/"})
    assert custom.signing_keyring_prefix == "acme/keys/"
    for bad in ("acme/keys", "", "arn:aws:secretsmanager:*/", "a b/"):
        with pytest.raises(ImproperlyConfigured, match="SIGNING_KEYRING_PREFIX"):
            load_settings({"ENVIRONMENT": "development", "SIGNING_KEYRING_PREFIX": bad})


def test_the_control_plane_uses_the_same_rule() -> None:
    from django.core.exceptions import ValidationError

    from link_tracking_publisher.validators import validate_signature_secret_ref

    for name in OUTSIDE:
        with pytest.raises(ValidationError):
            validate_signature_secret_ref(name)
    validate_signature_secret_ref("link-signatures/acme")

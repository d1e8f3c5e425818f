from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl, urlsplit

from link_tracking_runtime import Keyring, SigningKey, sign_url
from runtime_service.signatures import SignatureVerifier
from tests.support.fakes import FakeSecrets, ManualClock

SECRET_ID = "link-signatures/prod"
OLD, NEW = "old-signing-secret-0123456789", "new-signing-secret-0123456789"
KEYRING_JSON = json.dumps(
    {"current": {"kid": "k2", "secret": NEW}, "previous": [{"kid": "k1", "secret": OLD}]}
)


def _params(url: str) -> tuple[str, str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    return (
        parts.hostname or "",
        parts.path.strip("/"),
        parse_qsl(parts.query, keep_blank_values=True),
    )


def _verifier(secrets: FakeSecrets, clock: ManualClock) -> SignatureVerifier:
    return SignatureVerifier(secrets, clock=clock, cache_ttl=300.0, max_lifetime=86400 * 30)


def _check(verifier: SignatureVerifier, url: str, now: float) -> str:
    host, slug, pairs = _params(url)
    return asyncio.run(verifier.check(SECRET_ID, host, slug, pairs, now))


def test_signed_links_verify_with_current_and_previous_keys() -> None:
    clock = ManualClock()
    verifier = _verifier(FakeSecrets({SECRET_ID: KEYRING_JSON}), clock)
    expires = int(clock.now) + 3600
    current = sign_url(
        "https://go.example.com/ABC?sms_msg_id=1", Keyring(SigningKey("k2", NEW.encode())), expires
    )
    previous = sign_url(
        "https://go.example.com/ABC", Keyring(SigningKey("k1", OLD.encode())), expires
    )
    assert _check(verifier, current, clock.now) == "ok"
    assert _check(verifier, previous, clock.now) == "ok"


def test_tampered_expired_and_unknown_key_are_refused() -> None:
    clock = ManualClock()
    verifier = _verifier(FakeSecrets({SECRET_ID: KEYRING_JSON}), clock)
    keyring = Keyring(SigningKey("k2", NEW.encode()))
    url = sign_url("https://go.example.com/ABC?sms_msg_id=1", keyring, int(clock.now) + 60)
    assert _check(verifier, url.replace("sms_msg_id=1", "sms_msg_id=2"), clock.now) == "mismatch"
    assert _check(verifier, url, clock.now + 61) == "expired"
    stranger = sign_url(
        "https://go.example.com/ABC", Keyring(SigningKey("k9", NEW.encode())), int(clock.now) + 60
    )
    assert _check(verifier, stranger, clock.now) == "unknown_key"
    assert _check(verifier, "https://go.example.com/ABC", clock.now) == "missing"


def test_an_expiry_beyond_the_maximum_lifetime_is_a_replayable_link() -> None:
    clock = ManualClock()
    verifier = _verifier(FakeSecrets({SECRET_ID: KEYRING_JSON}), clock)
    keyring = Keyring(SigningKey("k2", NEW.encode()))
    forever = sign_url("https://go.example.com/ABC", keyring, int(clock.now) + 86400 * 365)
    assert _check(verifier, forever, clock.now) == "too_long"


def test_keyrings_are_cached_and_reread_after_their_ttl() -> None:
    clock = ManualClock()
    secrets = FakeSecrets({SECRET_ID: KEYRING_JSON})
    verifier = _verifier(secrets, clock)
    url = sign_url(
        "https://go.example.com/ABC", Keyring(SigningKey("k2", NEW.encode())), int(clock.now) + 3600
    )
    for _ in range(20):
        assert _check(verifier, url, clock.now) == "ok"
    assert secrets.calls == 1
    clock.advance(301)
    assert _check(verifier, url, clock.now) == "ok"
    assert secrets.calls == 2


def test_the_last_keyring_is_kept_while_secrets_manager_fails() -> None:
    clock = ManualClock()
    secrets = FakeSecrets({SECRET_ID: KEYRING_JSON})
    verifier = _verifier(secrets, clock)
    url = sign_url(
        "https://go.example.com/ABC", Keyring(SigningKey("k2", NEW.encode())), int(clock.now) + 7200
    )
    assert _check(verifier, url, clock.now) == "ok"
    secrets.down = True
    clock.advance(400)
    assert _check(verifier, url, clock.now) == "ok"


def test_an_unreadable_secret_refuses_and_is_not_asked_for_on_every_click() -> None:
    clock = ManualClock()
    secrets = FakeSecrets({SECRET_ID: "{not json"})
    verifier = _verifier(secrets, clock)
    url = sign_url(
        "https://go.example.com/ABC", Keyring(SigningKey("k2", NEW.encode())), int(clock.now) + 60
    )
    for _ in range(10):
        assert _check(verifier, url, clock.now) == "no_key"
    assert secrets.calls == 1
    host, slug, pairs = _params(url)
    assert asyncio.run(verifier.check(None, host, slug, pairs, clock.now)) == "no_key"

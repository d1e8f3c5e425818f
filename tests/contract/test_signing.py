from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from link_tracking_runtime import (
    InvalidSignature,
    Keyring,
    SigningKey,
    keyring_from_secret_string,
    sign_url,
    verify,
)

K1 = SigningKey("k1", b"first-secret-0123456789")
K2 = SigningKey("k2", b"second-secret-0123456789")
NOW = 1_767_300_000


def _check(url: str, keyring: Keyring, now: float = NOW) -> str:
    parts = urlsplit(url)
    return verify(
        parts.netloc, parts.path, parse_qsl(parts.query, keep_blank_values=True), keyring, now
    )


def test_a_signed_url_verifies_until_it_expires() -> None:
    url = sign_url("https://go.example.com/ABC123?sms_msg_id=42", Keyring(K1), NOW + 60)
    query = dict(parse_qsl(urlsplit(url).query))
    assert set(query) == {"sms_msg_id", "kid", "ts", "sig"} and query["kid"] == "k1"
    assert _check(url, Keyring(K1)) == "ok"
    assert _check(url, Keyring(K1), now=NOW + 61) == "expired"


def test_host_and_slug_are_compared_canonically() -> None:
    url = sign_url("https://go.example.com/abc123", Keyring(K1), NOW + 60)
    parts = urlsplit(url)
    params = parse_qsl(parts.query)
    assert verify("GO.EXAMPLE.COM:443", "/ABC123", params, Keyring(K1), NOW) == "ok"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda u: u.replace("sms_msg_id=42", "sms_msg_id=43"),
        lambda u: u.replace("go.example.com", "go2.example.com"),
        lambda u: u.replace("/ABC123", "/ABC124"),
        lambda u: u + "&extra=1",
        lambda u: u.replace("sms_msg_id=42&", ""),
    ],
)
def test_any_change_is_rejected(tamper) -> None:  # type: ignore[no-untyped-def]
    url = sign_url("https://go.example.com/ABC123?sms_msg_id=42", Keyring(K1), NOW + 60)
    assert _check(tamper(url), Keyring(K1)) == "mismatch"


def test_changing_the_expiry_is_rejected() -> None:
    url = sign_url("https://go.example.com/ABC123", Keyring(K1), NOW + 60)
    assert _check(url.replace(f"ts={NOW + 60}", f"ts={NOW + 6000}"), Keyring(K1)) == "mismatch"


def test_rotation_accepts_the_previous_key_only_while_listed() -> None:
    old = sign_url("https://go.example.com/ABC123", Keyring(K1), NOW + 60)
    assert _check(old, Keyring(K2, previous=(K1,))) == "ok"
    assert _check(old, Keyring(K2)) == "unknown_key"
    new = sign_url("https://go.example.com/ABC123", Keyring(K2, previous=(K1,)), NOW + 60)
    assert "kid=k2" in new


def test_missing_and_malformed_params() -> None:
    assert verify("go.example.com", "ABC", [("sms_msg_id", "1")], Keyring(K1), NOW) == "missing"
    dup = [("kid", "k1"), ("ts", str(NOW + 5)), ("sig", "a"), ("sig", "b")]
    assert verify("go.example.com", "ABC", dup, Keyring(K1), NOW) == "malformed"
    bad_ts = [("kid", "k1"), ("ts", "soon"), ("sig", "a")]
    assert verify("go.example.com", "ABC", bad_ts, Keyring(K1), NOW) == "malformed"


def test_keyring_secret_formats() -> None:
    ring = keyring_from_secret_string(
        '{"current": {"kid": "k2", "secret": "second-secret-0123456789"},'
        ' "previous": [{"kid": "k1", "secret": "first-secret-0123456789"}]}'
    )
    assert ring.current.key_id == "k2" and ring.find("k1") == K1 and ring.find("k3") is None
    bare = keyring_from_secret_string("a-bare-secret-of-enough-length")
    assert bare.current.key_id == "default"
    for bad in ('{"current": {"kid": "x"}}', "{not json", '{"previous": []}', "short"):
        with pytest.raises(InvalidSignature):
            keyring_from_secret_string(bad)

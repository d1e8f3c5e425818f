"""Signed short links: HMAC-SHA256 over the host, slug and every query param.

A signed URL carries three params besides its own: ``kid`` (which key signed it), ``ts`` (when
the signature expires, Unix seconds) and ``sig`` (URL-safe base64 of the HMAC, unpadded). The
signed message covers the canonical host and slug and *every* other query param, sorted, so
changing any of them (``sms_msg_id`` included) invalidates the URL.

Keys live in AWS Secrets Manager under the link's ``signature_key_id``. The secret string is
either JSON, ``{"current": {"kid": "k2", "secret": "..."}, "previous": [{"kid": "k1", ...}]}``,
so that URLs signed with the previous key still verify during a rotation, or a bare secret
(key id ``default``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .errors import InvalidSignature
from .record import canonical_host, canonical_slug

__all__ = [
    "DEFAULT_KEYRING_PREFIX",
    "EXPIRES_PARAM",
    "KEY_ID_PARAM",
    "MIN_SECRET_BYTES",
    "SIGNATURE_PARAM",
    "SIGNING_PARAMS",
    "Keyring",
    "SigningKey",
    "Verification",
    "is_keyring_name",
    "keyring_from_secret_string",
    "sign_params",
    "sign_url",
    "verify",
]

SIGNATURE_PARAM: Final = "sig"
EXPIRES_PARAM: Final = "ts"
KEY_ID_PARAM: Final = "kid"
SIGNING_PARAMS: Final = (KEY_ID_PARAM, EXPIRES_PARAM, SIGNATURE_PARAM)
MIN_SECRET_BYTES: Final = 16
DEFAULT_KEY_ID: Final = "default"
#: Where signing keyrings live in Secrets Manager (Terraform's ``signing_secret_prefix``; the
#: control plane's ``SIGNING_KEYRING_PREFIX``, the runtime's ``SIGNING_KEYRING_PREFIX``).
DEFAULT_KEYRING_PREFIX: Final = "link-signatures/"
#: The characters of a Secrets Manager secret name, and its longest length.
_SECRET_NAME: Final = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


def is_keyring_name(name: str, prefix: str) -> bool:
    """Whether ``name`` is a signing keyring's Secrets Manager *name* under ``prefix`` (not an
    ARN, not the prefix alone, no ``..``): the only secrets either half reads as a keyring, so
    no other secret (a database password, the IP-hash key) can become a signing key."""
    return (
        len(name) > len(prefix)
        and name.startswith(prefix)
        and ".." not in name
        and _SECRET_NAME.fullmatch(name) is not None
    )


_SCHEME_TAG: Final = b"lt1"

Verification = Literal["ok", "missing", "malformed", "expired", "unknown_key", "mismatch"]


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: str
    secret: bytes = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if not self.key_id or len(self.secret) < MIN_SECRET_BYTES:
            raise InvalidSignature(
                f"a signing key needs a key id and at least {MIN_SECRET_BYTES} bytes of secret"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class Keyring:
    """The key that signs now, and the keys still accepted while a rotation completes."""

    current: SigningKey
    previous: tuple[SigningKey, ...] = ()

    def find(self, key_id: str) -> SigningKey | None:
        for key in (self.current, *self.previous):
            if hmac.compare_digest(key.key_id.encode(), key_id.encode()):
                return key
        return None


def _key_from_json(raw: object) -> SigningKey:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("secret"), str):
        raise InvalidSignature('each key in a keyring secret is {"kid": ..., "secret": ...}')
    return SigningKey(str(raw.get("kid") or DEFAULT_KEY_ID), raw["secret"].encode("utf-8"))


def keyring_from_secret_string(secret_string: str) -> Keyring:
    """Parse a Secrets Manager ``SecretString`` (JSON keyring or a bare secret)."""
    text = secret_string.strip()
    if not text.startswith("{"):
        return Keyring(SigningKey(DEFAULT_KEY_ID, text.encode("utf-8")))
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InvalidSignature(f"keyring secret is not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping) or "current" not in raw:
        raise InvalidSignature('a keyring secret needs a "current" key')
    previous = raw.get("previous") or []
    if isinstance(previous, Mapping):
        previous = [previous]
    if not isinstance(previous, list):
        raise InvalidSignature('"previous" is a key or a list of keys')
    return Keyring(_key_from_json(raw["current"]), tuple(_key_from_json(p) for p in previous))


def _message(host: str, slug: str, params: Iterable[tuple[str, str]]) -> bytes:
    canonical_query = urlencode(
        sorted((k, v) for k, v in params if k != SIGNATURE_PARAM), quote_via=quote
    )
    return b"\n".join(
        (
            _SCHEME_TAG,
            canonical_host(host).encode("utf-8"),
            canonical_slug(slug).encode("utf-8"),
            canonical_query.encode("utf-8"),
        )
    )


def _digest(key: SigningKey, message: bytes) -> str:
    mac = hmac.new(key.secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign_params(
    host: str,
    slug: str,
    keyring: Keyring,
    expires_at: int,
    params: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """``params`` with ``kid``, ``ts`` and ``sig`` appended (any old ones replaced)."""
    pairs = [(k, v) for k, v in params if k not in SIGNING_PARAMS]
    pairs += [(KEY_ID_PARAM, keyring.current.key_id), (EXPIRES_PARAM, str(int(expires_at)))]
    pairs.append((SIGNATURE_PARAM, _digest(keyring.current, _message(host, slug, pairs))))
    return pairs


def sign_url(short_url: str, keyring: Keyring, expires_at: int) -> str:
    """Sign an absolute short URL (``https://go.example.com/ABC123?sms_msg_id=42``)."""
    parts = urlsplit(short_url)
    slug = parts.path.strip("/")
    pairs = sign_params(
        parts.hostname or "",
        slug,
        keyring,
        expires_at,
        parse_qsl(parts.query, keep_blank_values=True),
    )
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote)))


def verify(
    host: str,
    slug: str,
    params: Iterable[tuple[str, str]],
    keyring: Keyring,
    now: float,
) -> Verification:
    """Check a request's params against ``keyring``; ``"ok"`` or the reason it failed.

    The comparison is constant-time; a key id that is neither the current nor a previous key
    is ``"unknown_key"``; an expiry in the past is ``"expired"``.
    """
    pairs = list(params)
    found = {name: [v for k, v in pairs if k == name] for name in SIGNING_PARAMS}
    if not all(found.values()):
        return "missing"
    if any(len(values) != 1 for values in found.values()):
        return "malformed"
    (key_id,), (expires,), (signature,) = (found[n] for n in SIGNING_PARAMS)
    if not expires.isdigit() or len(expires) > 12:
        return "malformed"
    key = keyring.find(key_id)
    if key is None:
        return "unknown_key"
    expected = _digest(key, _message(host, slug, pairs))
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return "mismatch"
    if int(expires) < now:
        return "expired"
    return "ok"

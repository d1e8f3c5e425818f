"""Per-message links: ``https://go.example.com/ABC1234/2MZK7QX9`` instead of ``?sms_msg_id=``.

An SMS link identifies its message with a **token** in a second path segment. The runtime
verifies it without a database read and puts the message's sequence number on the click event
(``message_seq``); the control plane, which issued the sequence number for one of the host's
message ids, puts that id on the click it ingests. The host's message id never travels in the
URL, so the recipient never sees it, the destination never receives it unless the link says so,
and nobody can attribute a click to another recipient's message by editing it.

The form, and why:

* **A path segment**, ``/{slug}/{token}``: a slug never holds ``/`` (:func:`.record.is_valid_slug`),
  so vanity slugs of any length stay unambiguous, and the token costs one separator. A fixed
  token length without a separator would collide with longer vanity slugs; a query parameter
  costs its name.
* **The token** is the message's sequence number (issued per link by the control plane, from 0)
  in :data:`ALPHABET`, most significant symbol first, then :data:`MAC_SYMBOLS` symbols of
  HMAC-SHA256 over the link's canonical host, slug and the sequence number. The alphabet is
  Crockford's base 32 (digits and upper-case letters without ``I``, ``L``, ``O``, ``U``), read in
  either case like the slug, and safe in GSM-7. Nine symbols (sequence numbers below 2²⁰, over a
  million messages per link) make the SMS URL the short URL plus ten characters; later messages
  get one more symbol per factor of 32.
* **Forgery**: a made-up token is accepted when its last five symbols (25 bits) are the MAC of
  its sequence number under one of the two keys a link's keyring may verify with (the current
  key and, during a rotation, the first previous one): a chance of 2 × 2⁻²⁵ = 2⁻²⁴ per try, and
  the runtime rate-limits tries. The MAC covers the host and the slug: a token of another link, or
  of another domain's link (another key as well), is not accepted.
* **Keys** are a signing keyring (:mod:`.signing`) in Secrets Manager, one per domain (the
  record's ``message_keyring``); the runtime caches keyrings as it does for signed links.

A token that does not verify (tampered, truncated, another link's, a key rotated out) is never an
error: the click is the plain link's, with no message attributed, and the runtime counts it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from .record import canonical_host, canonical_slug
from .signing import Keyring

__all__ = [
    "ALPHABET",
    "MAC_SYMBOLS",
    "MESSAGE_KEYS_VERIFIED",
    "SEQUENCE_MAX",
    "TOKEN_MAX_LENGTH",
    "TOKEN_MIN_LENGTH",
    "forgery_chance",
    "is_token_shape",
    "issue_token",
    "message_path",
    "split_message_path",
    "verify_token",
]

#: Crockford's base 32: no ``I``, ``L``, ``O`` or ``U`` (no symbol reads as another).
ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Symbols of MAC at the end of every token (5 bits each: 25 bits).
MAC_SYMBOLS: Final = 5
#: How many keys of a keyring a token is verified with: the current one and the first previous
#: one (a rotation in progress). An older key's tokens are plain clicks.
MESSAGE_KEYS_VERIFIED: Final = 2
#: The largest sequence number a token can carry (2⁶⁰ - 1: twelve symbols).
SEQUENCE_MAX: Final = 32**12 - 1
TOKEN_MIN_LENGTH: Final = 1 + MAC_SYMBOLS
TOKEN_MAX_LENGTH: Final = 12 + MAC_SYMBOLS

_SCHEME_TAG: Final = b"lt-msg1"
_VALUES: Final = {symbol: value for value, symbol in enumerate(ALPHABET)} | {
    symbol.lower(): value for value, symbol in enumerate(ALPHABET)
}
_MAC_BITS: Final = 5 * MAC_SYMBOLS
_digest: Final = hmac.digest


def forgery_chance() -> float:
    """The chance that one made-up token is accepted: 2 keys × 2⁻²⁵ = 2⁻²⁴."""
    return MESSAGE_KEYS_VERIFIED / 2.0**_MAC_BITS


def _encode(value: int, width: int = 0) -> str:
    symbols: list[str] = []
    while value or len(symbols) < max(width, 1):
        value, rest = divmod(value, 32)
        symbols.append(ALPHABET[rest])
    return "".join(reversed(symbols))


def _mac(secret: bytes, host: str, slug: str, sequence: int) -> str:
    message = b"\n".join((_SCHEME_TAG, host.encode(), slug.encode(), str(sequence).encode()))
    top = int.from_bytes(_digest(secret, message, hashlib.sha256)[:4], "big") >> (32 - _MAC_BITS)
    return _encode(top, MAC_SYMBOLS)


def issue_token(keyring: Keyring, host: str, slug: str, sequence: int) -> str:
    """The token of message ``sequence`` of the link ``host``/``slug``, under the keyring's
    current key (the control plane issues these)."""
    if not 0 <= sequence <= SEQUENCE_MAX:
        raise ValueError(f"a message sequence number is 0 to {SEQUENCE_MAX}")
    host, slug = canonical_host(host), canonical_slug(slug)
    return _encode(sequence) + _mac(keyring.current.secret, host, slug, sequence)


def is_token_shape(token: str) -> bool:
    """Whether ``token`` could be a token at all (length and alphabet, either case): the
    runtime checks this before it reads a keyring."""
    return (
        TOKEN_MIN_LENGTH <= len(token) <= TOKEN_MAX_LENGTH
        and token.isascii()
        and all(symbol in _VALUES for symbol in token)
    )


def verify_token(keyring: Keyring, host: str, slug: str, token: str) -> int | None:
    """The sequence number ``token`` carries when it is this link's under the keyring's current
    key or its first previous one; ``None`` otherwise (any shape, any case, never an error).
    ``host`` and ``slug`` are canonical (the runtime's record key)."""
    if not is_token_shape(token):
        return None
    head, mac = token[:-MAC_SYMBOLS].upper(), token[-MAC_SYMBOLS:].upper()
    if len(head) > 1 and head[0] == "0":
        return None  # one token per sequence number: no leading zeros
    sequence = 0
    for symbol in head:
        sequence = sequence * 32 + _VALUES[symbol]
    keys = (keyring.current, *keyring.previous[: MESSAGE_KEYS_VERIFIED - 1])
    for key in keys:
        if hmac.compare_digest(_mac(key.secret, host, slug, sequence), mac):
            return sequence
    return None


def message_path(slug: str, token: str) -> str:
    """The URL path of a per-message link: ``/{slug}/{token}``."""
    return f"/{slug}/{token}"


def split_message_path(raw: str) -> tuple[str, str] | None:
    """``(slug, token)`` of a request path's ``slug/token`` (without its leading ``/``) when the
    second segment has a token's shape; ``None`` otherwise (then the path is not a link's)."""
    slug, separator, token = raw.partition("/")
    if not separator or not slug or not is_token_shape(token):
        return None
    return slug, token

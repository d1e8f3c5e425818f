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
  keyed BLAKE2s (RFC 7693) over the link's canonical host, slug and the sequence number. The alphabet is
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
import re
from typing import Any, Final

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

_MAC_BITS: Final = 5 * MAC_SYMBOLS
_SCHEME_TAG: Final = b"lt-msg1"
_blake2s: Final = hashlib.blake2s
#: Keyring secrets → their keyed BLAKE2s states (:func:`_mac_base`).
_MAC_BASES: dict[bytes, Any] = {}
#: A token's shape: the alphabet in either case, of a token's lengths (one C call per click).
_TOKEN: Final = re.compile(
    f"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{{TOKEN_MIN_LENGTH},{TOKEN_MAX_LENGTH}}}"
)
#: Crockford's symbols (either case) as the digits ``int(..., 32)`` reads.
_AS_INT_DIGITS: Final = str.maketrans(
    ALPHABET + ALPHABET.lower(), "0123456789abcdefghijklmnopqrstuv" * 2
)


def forgery_chance() -> float:
    """The chance that one made-up token is accepted: 2 keys × 2⁻²⁵ = 2⁻²⁴."""
    return MESSAGE_KEYS_VERIFIED / 2.0**_MAC_BITS


def _encode(value: int, width: int = 0) -> str:
    symbols: list[str] = []
    while value or len(symbols) < max(width, 1):
        value, rest = divmod(value, 32)
        symbols.append(ALPHABET[rest])
    return "".join(reversed(symbols))


def _mac_base(secret: bytes) -> Any:
    """The keyed BLAKE2s state of a keyring secret (any length of at least 16 bytes), made
    once per secret and copied per click: its key is the BLAKE2s hash of the secret,
    personalised for this scheme, and the key's own block is compressed once, not per click."""
    base = _MAC_BASES.get(secret)
    if base is None:
        if len(_MAC_BASES) >= 1024:
            _MAC_BASES.clear()
        key = _blake2s(secret, person=_SCHEME_TAG).digest()
        base = _MAC_BASES[secret] = _blake2s(key=key, digest_size=4, person=_SCHEME_TAG)
    return base


def _mac(secret: bytes, host: str, slug: str, sequence: int) -> int:
    """The top 25 bits of keyed BLAKE2s (RFC 7693's MAC mode) over the host, slug and sequence
    number (HMAC-SHA256 through OpenSSL costs three times as much per click)."""
    state = _mac_base(secret).copy()
    state.update(b"%b\n%b\n%d" % (host.encode(), slug.encode(), sequence))
    return int.from_bytes(state.digest(), "big") >> (32 - _MAC_BITS)


def issue_token(keyring: Keyring, host: str, slug: str, sequence: int) -> str:
    """The token of message ``sequence`` of the link ``host``/``slug``, under the keyring's
    current key (the control plane issues these)."""
    if not 0 <= sequence <= SEQUENCE_MAX:
        raise ValueError(f"a message sequence number is 0 to {SEQUENCE_MAX}")
    host, slug = canonical_host(host), canonical_slug(slug)
    return _encode(sequence) + _encode(
        _mac(keyring.current.secret, host, slug, sequence), MAC_SYMBOLS
    )


def is_token_shape(token: str) -> bool:
    """Whether ``token`` could be a token at all (length and alphabet, either case): the
    runtime checks this before it reads a keyring."""
    return _TOKEN.fullmatch(token) is not None


def verify_token(keyring: Keyring, host: str, slug: str, token: str) -> int | None:
    """The sequence number ``token`` carries when it is this link's under the keyring's current
    key or its first previous one; ``None`` otherwise (any shape, any case, never an error).
    ``host`` and ``slug`` are canonical (the runtime's record key)."""
    if _TOKEN.fullmatch(token) is None:
        return None
    digits = token.translate(_AS_INT_DIGITS)
    if digits[0] == "0" and len(digits) > TOKEN_MIN_LENGTH:
        return None  # one token per sequence number: no leading zeros
    sequence = int(digits[:-MAC_SYMBOLS], 32)
    mac = int(digits[-MAC_SYMBOLS:], 32)
    # Integers of 25 bits: the comparison takes the same time whatever they hold.
    if _mac(keyring.current.secret, host, slug, sequence) == mac:
        return sequence
    for key in keyring.previous[: MESSAGE_KEYS_VERIFIED - 1]:
        if _mac(key.secret, host, slug, sequence) == mac:
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

"""Secrets in settings that cannot be half-set: each is refused at start-up, naming its
environment variable, rather than silently weakening what it protects.

- A list of secrets (``A,B``) with an empty entry (``"A,"``, ``", "``) is refused everywhere:
  it is a typo that would otherwise drop a key, or turn a check off.
- In production a secret must be set, must not be a published development value, and must be
  at least its documented minimum length (:data:`MIN_LENGTHS`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ImproperlyConfigured

__all__ = ["DEVELOPMENT_VALUES", "MIN_LENGTHS", "secret", "secret_list"]

#: Documented minimum lengths in production, by variable. Django's own deploy check asks 50
#: characters of SECRET_KEY; the other keys are HMAC keys (32 characters of token_urlsafe
#: carry 192 bits).
MIN_LENGTHS: dict[str, int] = {
    "DJANGO_SECRET_KEY": 50,
    "DJANGO_SECRET_KEY_FALLBACKS": 50,
    "LINK_TRACKING_PRIVACY_HASH_KEY": 32,
}
DEFAULT_MIN_LENGTH = 32

#: Values published in this repository (development defaults): never secret in production.
DEVELOPMENT_VALUES = frozenset(
    {
        "dev-only-insecure-key-change-me-0123456789",
        "dev-only-privacy-hash-key-change-me-0123456789",
        "development-only-ip-hash-key",
    }
)


def _refuse_development(variable: str, value: str) -> None:
    lowered = value.lower()
    if value in DEVELOPMENT_VALUES or lowered.startswith(("django-insecure-", "dev-only-")):
        raise ImproperlyConfigured(
            f"{variable} is a development value, published with the code; set a secret one "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )


def _check_length(variable: str, value: str) -> None:
    minimum = MIN_LENGTHS.get(variable, DEFAULT_MIN_LENGTH)
    if len(value) < minimum or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"{variable} must be at least {minimum} characters (of at least 5 different ones) "
            "in production."
        )


def secret(variable: str, value: str | None, *, production: bool) -> str:
    """``value`` of ``variable``, checked: in production set, not a development value, long
    enough. Raises :class:`ImproperlyConfigured` naming ``variable``."""
    if production:
        if not value or not value.strip():
            raise ImproperlyConfigured(f"{variable} must be set in production.")
        _refuse_development(variable, value)
        _check_length(variable, value)
    return value or ""


def secret_list(variable: str, values: Iterable[str], *, production: bool) -> list[str]:
    """The entries of a comma-separated list of secrets, checked: no empty entry anywhere,
    and in production each one as :func:`secret` checks it."""
    entries = list(values)
    if any(not entry.strip() for entry in entries):
        raise ImproperlyConfigured(
            f"{variable} has an empty entry ({','.join(entries)!r} read as {len(entries)} "
            "values); remove stray commas or spaces."
        )
    return [secret(variable, entry, production=production) for entry in entries]

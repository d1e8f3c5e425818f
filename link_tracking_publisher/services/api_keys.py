"""API keys: create, rotate, revoke and authenticate them, and the principal a key acts as.

The one implementation the admin and the API share. A key is ``lt_<8 characters>_<secret>``:
the first part is its :attr:`~link_tracking_publisher.models.ApiKey.prefix` (shown in lists,
looked up), the secret is 256 random bits (``secrets.token_urlsafe(32)``). The database keeps
HMAC-SHA256 of the whole key under ``LINK_TRACKING['API_KEY_PEPPER']``: with that much
entropy nothing can be guessed, so a slow password hash (PBKDF2, Argon2) would only add
milliseconds to every request; the pepper means a copy of the database alone cannot be used
to check candidate keys. A presented key is found by its prefix and its hash compared in
constant time. ``benchmarks/auth_bench.py`` measures what authenticating with a key costs.

A request made with a key acts as an :class:`ApiKeyPrincipal`: the access policy lets it
reach exactly the key's account (:mod:`link_tracking_publisher.api.access`), and what it
writes names the key (:func:`acting_user`, :func:`acting_api_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import app_settings
from ..models import ApiKey
from .errors import InvalidState

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "ApiKeyPrincipal",
    "InvalidApiKey",
    "acting_api_key",
    "acting_user",
    "authenticate",
    "clean_key_fields",
    "create_api_key",
    "key_hash",
    "record_request",
    "revoke_api_key",
    "rotate_api_key",
]

logger = logging.getLogger(__name__)

#: What every key starts with, so a leaked one is recognisable (secret scanners, logs).
KEY_PREFIX = "lt_"
#: Random characters after ``lt_`` in a key's prefix (lower-case letters and digits).
PREFIX_RANDOM_LENGTH = 8
PREFIX_LENGTH = len(KEY_PREFIX) + PREFIX_RANDOM_LENGTH
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
#: Bytes of randomness in a key's secret (256 bits).
SECRET_BYTES = 32
#: The longest key a client may present (``token_urlsafe(32)`` is 43 characters): anything
#: longer is refused before it is hashed.
MAX_KEY_LENGTH = PREFIX_LENGTH + 1 + 64
SCOPES: tuple[str, ...] = tuple(ApiKey.Scope.values)
#: The longest a key's name may be (the model's field).
NAME_MAX_LENGTH = 100


class InvalidApiKey(Exception):
    """The key presented is unknown, revoked or expired (deliberately not saying which)."""


class ApiKeyPrincipal:
    """Who a request made with an API key is: the key, acting for its account.

    It quacks like an authenticated, active, non-staff user without permissions, so code that
    checks ``request.user`` works; it is never stored in a user foreign key
    (:func:`acting_user` gives ``None`` for it)."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.account_id = api_key.account_id
        # Throttles key their counts on pk: one count per key, never shared with a user's.
        self.pk = f"api-key:{api_key.pk}"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.api_key.scopes)

    def has_scope(self, scope: str) -> bool:
        return scope in self.api_key.scopes

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def get_username(self) -> str:
        return str(self.api_key)

    def __str__(self) -> str:
        return str(self.api_key)


def acting_user(user: Any) -> Any:
    """The user to store as who made a change: ``user`` when it is an authenticated user,
    ``None`` for an anonymous caller or an API key (:func:`acting_api_key` names that)."""
    if isinstance(user, ApiKeyPrincipal) or not getattr(user, "is_authenticated", False):
        return None
    return user


def acting_api_key(user: Any) -> ApiKey | None:
    """The API key a change was made with, if ``user`` is a key's principal."""
    return user.api_key if isinstance(user, ApiKeyPrincipal) else None


def _pepper() -> bytes:
    pepper = app_settings.API_KEY_PEPPER
    if pepper:
        return str(pepper).encode()
    # No dedicated pepper: one derived from SECRET_KEY (rotating SECRET_KEY invalidates keys).
    return hashlib.sha256(b"link_tracking.api_key:" + settings.SECRET_KEY.encode()).digest()


def key_hash(raw_key: str) -> str:
    """HMAC-SHA256 of a whole key under the pepper, hex: what the database keeps."""
    return hmac.new(_pepper(), raw_key.encode(), hashlib.sha256).hexdigest()


def _new_prefix() -> str:
    return KEY_PREFIX + "".join(
        secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_RANDOM_LENGTH)
    )


def _new_key(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


def clean_key_fields(name: str, scopes: Iterable[str], expires_at: datetime | None) -> list[str]:
    """The scopes, deduplicated and in their declared order, for a key named ``name`` expiring
    at ``expires_at``; ``ValidationError`` naming the field when any of them is wrong."""
    errors: dict[str, list[str]] = {}
    if not name or not name.strip():
        errors["name"] = ["Give the key a name (what uses it)."]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [f"At most {NAME_MAX_LENGTH} characters."]
    chosen = list(dict.fromkeys(scopes))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown:
        errors["scopes"] = [
            f"Unknown scope {', '.join(map(repr, unknown))}; choose from {', '.join(SCOPES)}."
        ]
    elif not chosen:
        errors["scopes"] = [f"Choose at least one scope: {', '.join(SCOPES)}."]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    if errors:
        raise ValidationError(errors)
    return sorted(chosen, key=SCOPES.index)


def create_api_key(
    *,
    account: Any,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    user: Any = None,
) -> tuple[ApiKey, str]:
    """A new key for ``account``: the row, and the key itself, which is shown this once and
    never stored. Raises ``ValidationError`` naming the field on bad input."""
    chosen = clean_key_fields(name, scopes, expires_at)
    for _ in range(5):  # 36**8 prefixes: a collision is rare, retried
        prefix = _new_prefix()
        raw = _new_key(prefix)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    account=account,
                    name=name.strip(),
                    prefix=prefix,
                    secret_hash=key_hash(raw),
                    scopes=chosen,
                    expires_at=expires_at,
                    created_by=acting_user(user),
                )
        except IntegrityError:
            continue
        logger.info("%s created for account %s by %s", key, key.account_id, user)
        return key, raw
    raise InvalidState("Could not draw an unused key prefix; try again.")


def rotate_api_key(key: ApiKey, *, user: Any = None) -> tuple[ApiKey, str]:
    """A new secret for ``key`` (same prefix, scopes and expiry): the old one stops working
    now. Returns the row and the new key, shown this once. A revoked key cannot be rotated."""
    with transaction.atomic():
        current = ApiKey.objects.select_for_update().get(pk=key.pk)
        if current.revoked_at is not None:
            raise InvalidState("This API key is revoked; create a new one.")
        raw = _new_key(current.prefix)
        current.secret_hash = key_hash(raw)
        current.rotated_at = timezone.now()
        current.save(update_fields=["secret_hash", "rotated_at"])
    logger.info("%s rotated by %s", current, user)
    return current, raw


def revoke_api_key(key: ApiKey, *, user: Any = None) -> ApiKey:
    """Revoke ``key`` now (for good; revoking a revoked key changes nothing)."""
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    key.refresh_from_db()
    if updated:
        logger.info("%s revoked by %s", key, user)
    return key


def authenticate(raw_key: str, *, now: datetime | None = None) -> ApiKey:
    """The live key ``raw_key`` is, its account loaded; raises :class:`InvalidApiKey` for a
    malformed, unknown, revoked or expired one (the same exception, whatever was wrong).
    Writes ``last_used_at`` at most once per ``API_KEY_LAST_USED_INTERVAL_SECONDS``."""
    now = now or timezone.now()
    if len(raw_key) > MAX_KEY_LENGTH or raw_key[PREFIX_LENGTH : PREFIX_LENGTH + 1] != "_":
        raise InvalidApiKey
    presented = key_hash(raw_key)
    key: ApiKey | None
    try:  # the prefix is unique: one indexed row, no ordering
        key = ApiKey.objects.select_related("account").get(prefix=raw_key[:PREFIX_LENGTH])
    except ApiKey.DoesNotExist:
        key = None
    stored = key.secret_hash if key is not None else ""
    if not hmac.compare_digest(presented, stored) or key is None:
        raise InvalidApiKey
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise InvalidApiKey
    _touch(key, now)
    return key


def _touch(key: ApiKey, now: datetime) -> None:
    interval = timedelta(seconds=app_settings.API_KEY_LAST_USED_INTERVAL_SECONDS)
    if key.last_used_at is not None and now - key.last_used_at < interval:
        return
    # Conditional, so concurrent requests of one key write it once per interval.
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - interval), pk=key.pk
    ).update(last_used_at=now)
    key.last_used_at = now


#: The audit log of what API keys do: one line per write, naming the key.
audit_logger = logging.getLogger("link_tracking.api_keys.audit")


def record_request(user: Any, method: str, path: str, status_code: int) -> None:
    """Log a write made with an API key (the key, the method, the path, the status), so every
    use of a key that changes something is attributable; reads and users are not logged."""
    if isinstance(user, ApiKeyPrincipal) and method not in ("GET", "HEAD", "OPTIONS"):
        audit_logger.info(
            "%s (account %s): %s %s -> %s", user, user.account_id, method, path, status_code
        )

"""Signed short URLs for links with ``signature_required``.

The signing keyring lives in AWS Secrets Manager under the link's ``signature_secret_ref``
(the record's ``signature_key_id``); the runtime verifies with the same keyring and the same
contract code (:func:`link_tracking_runtime.signing.sign_url`), so a URL signed here verifies
there until it expires.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from link_tracking_runtime.signing import Keyring, sign_url

from ..conf import app_settings
from ..keyrings import load_keyring
from ..models import Link
from .errors import InvalidState

logger = logging.getLogger(__name__)

__all__ = ["SignedURL", "load_keyring", "signed_url"]


@dataclasses.dataclass(frozen=True)
class SignedURL:
    url: str
    expires_at: int
    key_id: str


def signed_url(
    link: Link,
    *,
    expires_in: int | None = None,
    sms_msg_id: str | None = None,
    now: float | None = None,
    keyring_loader: Callable[[str], Keyring] = load_keyring,
) -> SignedURL:
    """Sign the link's short URL (with ``?sms_msg_id=`` when given) for ``expires_in`` seconds
    (default ``SIGNED_URL_DEFAULT_TTL_SECONDS``)."""
    if not link.signature_required or not link.signature_secret_ref:
        raise InvalidState("This link does not require signatures; its short URL works as it is.")
    ttl = app_settings.SIGNED_URL_DEFAULT_TTL_SECONDS if expires_in is None else expires_in
    if not 1 <= ttl <= app_settings.SIGNED_URL_MAX_TTL_SECONDS:
        raise ValueError(f"expires_in must be 1 to {app_settings.SIGNED_URL_MAX_TTL_SECONDS}")
    keyring = keyring_loader(link.signature_secret_ref)
    expires_at = int(time.time() if now is None else now) + int(ttl)
    short = link.get_query_sms_url(sms_msg_id) if sms_msg_id else link.get_full_url()
    return SignedURL(sign_url(short, keyring, expires_at), expires_at, keyring.current.key_id)

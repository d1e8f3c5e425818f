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
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ValidationError

from link_tracking_runtime.errors import InvalidSignature
from link_tracking_runtime.signing import Keyring, keyring_from_secret_string, sign_url

from ..conf import app_settings
from ..models import Link
from ..validators import validate_signature_secret_ref
from .errors import ExternalServiceError, InvalidState

logger = logging.getLogger(__name__)

__all__ = ["SignedURL", "load_keyring", "signed_url"]

#: Secrets Manager errors that mean the secret itself is missing or unusable (an operator
#: must fix the secret or the link), as opposed to AWS being unavailable.
_SECRET_PROBLEMS = frozenset(
    {
        "ResourceNotFoundException",
        "InvalidRequestException",
        "DecryptionFailure",
        "AccessDeniedException",
        "AccessDenied",
    }
)


@dataclasses.dataclass(frozen=True)
class SignedURL:
    url: str
    expires_at: int
    key_id: str


def _secretsmanager() -> Any:
    config = Config(
        region_name=app_settings.AWS_REGION,
        connect_timeout=app_settings.AWS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=app_settings.AWS_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 3},
    )
    # boto3 honours AWS_ENDPOINT_URL (the moto server locally) by itself.
    return boto3.session.Session().client("secretsmanager", config=config)


def load_keyring(secret_ref: str) -> Keyring:
    """The keyring stored in Secrets Manager under ``secret_ref``.

    Raises :class:`InvalidState` when the name is not a signing keyring's, or the secret is
    missing, not readable or not a keyring: one message for all of these, so the answer never
    tells a caller which other secrets exist (the cause is logged for operators). Raises
    :class:`ExternalServiceError` when Secrets Manager cannot be reached.
    """
    unusable = InvalidState(
        f"The signing keyring {secret_ref!r} is missing or is not a usable keyring; "
        "ask an operator to check it."
    )
    try:
        validate_signature_secret_ref(secret_ref)
    except ValidationError:
        logger.warning("signing keyring %r: not under the keyring prefix", secret_ref)
        raise unusable from None
    try:
        secret = _secretsmanager().get_secret_value(SecretId=secret_ref)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _SECRET_PROBLEMS:
            logger.warning("signing keyring %r: %s", secret_ref, code)
            raise unusable from None
        raise ExternalServiceError(f"Secrets Manager failed: {code or exc}") from None
    except BotoCoreError as exc:
        raise ExternalServiceError(f"Secrets Manager could not be reached: {exc}") from None
    text = secret.get("SecretString")
    if not isinstance(text, str):
        logger.warning("signing keyring %r: no SecretString", secret_ref)
        raise unusable
    try:
        return keyring_from_secret_string(text)
    except InvalidSignature as exc:
        logger.warning("signing keyring %r: not a keyring (%s)", secret_ref, exc)
        raise unusable from None


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
    short = link.get_sms_url(sms_msg_id) if sms_msg_id else link.get_full_url()
    return SignedURL(sign_url(short, keyring, expires_at), expires_at, keyring.current.key_id)

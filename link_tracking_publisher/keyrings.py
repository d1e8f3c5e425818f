"""Signing keyrings from AWS Secrets Manager: signed links' and per-message links' keys.

Only names under ``SIGNING_KEYRING_PREFIX`` are read (:func:`.validators.validate_signature_secret_ref`,
the runtime's rule too), so no other secret can become a signing key.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ValidationError

from link_tracking_runtime.errors import InvalidSignature
from link_tracking_runtime.signing import Keyring, keyring_from_secret_string

from .conf import app_settings
from .errors import ExternalServiceError, InvalidState
from .validators import validate_signature_secret_ref

logger = logging.getLogger(__name__)

__all__ = ["load_keyring"]

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

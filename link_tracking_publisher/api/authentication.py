"""API-key authentication for DRF: ``Authorization: Bearer lt_<prefix>_<secret>``.

The host adds it with one line to ``REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']``
(anywhere; last leaves the host's other 401/403 answers as they are)::

    "link_tracking_publisher.api.authentication.ApiKeyAuthentication",

A bearer token starting ``lt_`` is this class's; any other (or no ``Authorization`` header) is
left to the host's other classes. A key that is unknown, malformed, revoked or expired is a 401
with one message, whatever was wrong, so the answer tells a prober nothing. The request's user
is then the key's :class:`~link_tracking_publisher.services.api_keys.ApiKeyPrincipal` and
``request.auth`` the :class:`~link_tracking_publisher.models.ApiKey`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ..models import ApiKey
from ..services import api_keys

__all__ = ["INVALID_KEY_MESSAGE", "KEYWORD", "ApiKeyAuthentication", "presents_api_key"]

#: The ``Authorization`` scheme keys are sent with.
KEYWORD = "Bearer"
#: The one answer to every key that does not work.
INVALID_KEY_MESSAGE = "Invalid API key."


def _credentials(request: Request) -> list[bytes] | None:
    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != KEYWORD.lower().encode():
        return None
    if len(parts) == 2 and not parts[1].startswith(api_keys.KEY_PREFIX.encode()):
        return None  # another bearer token (OAuth, JWT): another class's
    return parts


def presents_api_key(request: Request) -> bool:
    """Whether ``request`` carries (what claims to be) an API key."""
    return _credentials(request) is not None


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates ``Authorization: Bearer lt_…`` with an API key."""

    def authenticate(self, request: Request) -> tuple[api_keys.ApiKeyPrincipal, ApiKey] | None:
        parts = _credentials(request)
        if parts is None:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        try:
            key = api_keys.authenticate(parts[1].decode("ascii"))
        except (UnicodeDecodeError, api_keys.InvalidApiKey):
            raise AuthenticationFailed(INVALID_KEY_MESSAGE) from None
        return api_keys.ApiKeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The key in the OpenAPI document: an HTTP bearer scheme."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "lt_<prefix>_<secret> (an API key)",
            "description": "An API key of one account, limited to its scopes.",
        }

"""Per-user throttling of the API's writes and bulk endpoints, and per-key throttling of API
keys by scope (DRF throttles).

Rates come from ``LINK_TRACKING['API_WRITE_THROTTLE_RATE']`` and
``['API_BULK_THROTTLE_RATE']`` (DRF's ``"<n>/<second|minute|hour|day>"``; ``None`` turns one
off). Reads are not throttled per user here (the host may add its own). A request made with an
API key is also counted per key and per the scope it needs, at the rate
``LINK_TRACKING['API_KEY_THROTTLE_RATES']`` gives that scope. Counts live in Django's cache:
in production use a cache every web process shares (Redis, Memcached), or each process counts
on its own.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from ..conf import app_settings
from ..services.api_keys import ApiKeyPrincipal
from .permissions import required_scope

__all__ = ["ApiKeyRateThrottle", "BulkRateThrottle", "WriteRateThrottle"]


class _SettingRateThrottle(UserRateThrottle):
    """A per-user throttle whose rate is an app setting (not ``DEFAULT_THROTTLE_RATES``)."""

    setting = ""

    def __init__(self) -> None:  # the rate is read per request: settings may change
        pass

    def applies(self, request: Request, view: Any) -> bool:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        self.rate = getattr(app_settings, self.setting)
        if self.rate is None or not self.applies(request, view):
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class WriteRateThrottle(_SettingRateThrottle):
    """Every write (POST, PUT, PATCH, DELETE) of one user, across the API."""

    scope = "link_tracking_write"
    setting = "API_WRITE_THROTTLE_RATE"

    def applies(self, request: Request, view: Any) -> bool:
        return request.method not in SAFE_METHODS


class BulkRateThrottle(_SettingRateThrottle):
    """Bulk endpoints (``links/bulk/``, ``links/import/``), which each make many links."""

    scope = "link_tracking_bulk"
    setting = "API_BULK_THROTTLE_RATE"

    def applies(self, request: Request, view: Any) -> bool:
        return getattr(view, "action", None) in ("bulk", "import_csv")


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests of one API key needing one scope (``API_KEY_THROTTLE_RATES[scope]``), keyed by
    the key's id: each key has its own allowance, whoever else uses the API."""

    def __init__(self) -> None:  # the rate is read per request: settings may change
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, ApiKeyPrincipal):
            return True
        scope = required_scope(request, view)
        rates = app_settings.API_KEY_THROTTLE_RATES or {}
        self.rate = rates.get(scope) if scope else None
        if self.rate is None:
            return True
        self.scope = f"link_tracking_api_key_{scope}"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        principal = request.user
        assert isinstance(principal, ApiKeyPrincipal)
        return self.cache_format % {"scope": self.scope, "ident": principal.api_key.pk}

"""Per-user throttling of the API's writes and bulk endpoints (DRF throttles).

Rates come from ``LINK_TRACKING['API_WRITE_THROTTLE_RATE']`` and
``['API_BULK_THROTTLE_RATE']`` (DRF's ``"<n>/<second|minute|hour|day>"``; ``None`` turns one
off). Reads are not throttled here (the host may add its own). Counts live in Django's cache:
in production use a cache every web process shares (Redis, Memcached), or each process counts
on its own.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from ..conf import app_settings

__all__ = ["BulkRateThrottle", "WriteRateThrottle"]


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

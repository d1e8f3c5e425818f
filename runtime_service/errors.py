"""The runtime service's exceptions: one base class, so callers can catch all of them."""

from __future__ import annotations

__all__ = ["ImproperlyConfigured", "RuntimeServiceError", "StoreUnavailable"]


class RuntimeServiceError(Exception):
    """Base class of every error the runtime service raises itself."""


class ImproperlyConfigured(RuntimeServiceError):
    """A setting is missing or has a value the service cannot use; raised at start-up only.

    The message names the environment variable, so a person can fix it.
    """


class StoreUnavailable(RuntimeServiceError):
    """Neither region's replica could be read and no last good record is cached: the app
    answers ``503`` so that CloudFront's origin group retries the other region (raised only
    when a fallback region is configured; with one region the visitor is redirected to
    ``DEFAULT_FALLBACK_URL`` instead)."""

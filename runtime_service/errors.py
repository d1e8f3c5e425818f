"""The runtime service's exceptions: one base class, so callers can catch all of them."""

from __future__ import annotations

__all__ = ["ImproperlyConfigured", "RuntimeServiceError"]


class RuntimeServiceError(Exception):
    """Base class of every error the runtime service raises itself."""


class ImproperlyConfigured(RuntimeServiceError):
    """A setting is missing or has a value the service cannot use; raised at start-up only.

    The message names the environment variable, so a person can fix it.
    """

"""The app's exceptions: one base class for everything the control plane raises itself."""

from __future__ import annotations

__all__ = ["LinkTrackingError", "PublishError"]


class LinkTrackingError(Exception):
    """Base class of the control plane's own errors."""


class PublishError(LinkTrackingError):
    """A link that cannot be published as it is (not worth retrying)."""

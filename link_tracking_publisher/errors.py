"""The app's exceptions: one base class for everything the control plane raises itself."""

from __future__ import annotations

__all__ = ["ExternalServiceError", "InvalidState", "LinkTrackingError", "PublishError"]


class LinkTrackingError(Exception):
    """Base class of the control plane's own errors."""


class PublishError(LinkTrackingError):
    """A link that cannot be published as it is (not worth retrying)."""


class InvalidState(LinkTrackingError):
    """The action does not apply to the object as it is now (retrying a publish that has not
    failed, signing a URL of a link that is not signed)."""


class ExternalServiceError(LinkTrackingError):
    """An outside service (AWS) failed or timed out; trying again later may succeed."""

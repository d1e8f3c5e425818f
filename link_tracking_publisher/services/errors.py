"""Errors the service layer raises besides ``ValidationError`` (bad input, field by field).

Each says what kind of refusal it is, so an edge (API view, admin action, command) can answer
with the right status without knowing the action: :class:`InvalidState` is a conflict with
the object's current state (HTTP 409), :class:`ExternalServiceError` an outside dependency
that did not answer (HTTP 503).
"""

from __future__ import annotations

from ..errors import LinkTrackingError

__all__ = ["ExternalServiceError", "InvalidState"]


class InvalidState(LinkTrackingError):
    """The action does not apply to the object as it is now (retrying a publish that has not
    failed, signing a URL of a link that is not signed)."""


class ExternalServiceError(LinkTrackingError):
    """An outside service (AWS) failed or timed out; trying again later may succeed."""

"""Errors the service layer raises besides ``ValidationError`` (bad input, field by field).

Each says what kind of refusal it is, so an edge (API view, admin action, command) can answer
with the right status without knowing the action: :class:`InvalidState` is a conflict with
the object's current state (HTTP 409), :class:`ExternalServiceError` an outside dependency
that did not answer (HTTP 503).
"""

from __future__ import annotations

from ..errors import ExternalServiceError, InvalidState

__all__ = ["ExternalServiceError", "InvalidState"]

"""The API's errors, and the one place service-layer exceptions become HTTP answers.

The service layer raises Django's ``ValidationError`` (with a ``message_dict`` naming fields)
and its own :mod:`link_tracking_publisher.services.errors`; :func:`exception_handler` turns them
into DRF errors, then hands over to the host project's configured handler, so the response has
the host's usual shape:

=================================================  ==========================================
service layer                                      API
=================================================  ==========================================
``ValidationError`` (field → messages)             400, ``{"field": ["message"]}``
``BulkCreateError``                                400, ``{"keywords": {"3": ["message"]}}``
``InvalidState``, ``PublishError``                 409 ``{"detail": ...}``
``ProtectedError`` / ``IntegrityError``            409 (still in use / conflicting write)
``ExternalServiceError``                           503 (AWS unavailable; try again)
``OperationalError`` "database is locked"          503 with ``Retry-After`` (SQLite busy)
=================================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import PublishError
from ..services.bulk import BulkCreateError
from ..services.errors import ExternalServiceError, InvalidState

__all__ = [
    "Conflict",
    "DatabaseBusy",
    "ServiceUnavailable",
    "exception_handler",
    "to_drf_validation_error",
]


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request needs is unavailable; try again later."
    default_code = "service_unavailable"


class DatabaseBusy(ServiceUnavailable):
    """SQLite's one writer is busy for longer than its timeout (a large import job's batch):
    nothing was written; the same request can be sent again."""

    default_detail = (
        "The database is busy with another write (such as a large import job); nothing was "
        "changed. Try again in a few seconds."
    )
    default_code = "database_busy"
    #: Seconds the answer's Retry-After asks for.
    retry_after = 5


def to_drf_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """Django's ``ValidationError`` as DRF's: fields keep their names, ``__all__`` becomes
    the API's non-field key."""
    if hasattr(exc, "error_dict"):
        detail: Any = {
            (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    else:
        detail = {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return exceptions.ValidationError(detail)


def bulk_validation_error(exc: BulkCreateError) -> exceptions.ValidationError:
    detail: dict[str, Any] = {
        (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
        for field, messages in exc.errors.items()
    }
    if exc.item_errors:
        detail["keywords"] = {str(i): msgs for i, msgs in sorted(exc.item_errors.items())}
    return exceptions.ValidationError(detail)


def translate(exc: Exception) -> Exception:
    """The DRF exception for a service-layer exception (others are returned unchanged)."""
    if isinstance(exc, DjangoValidationError):
        return to_drf_validation_error(exc)
    if isinstance(exc, BulkCreateError):
        return bulk_validation_error(exc)
    if isinstance(exc, InvalidState | PublishError):
        return Conflict(str(exc))
    if isinstance(exc, ProtectedError | RestrictedError):
        return Conflict("This is still in use (links refer to it); it cannot be deleted.")
    if isinstance(exc, IntegrityError):
        return Conflict("A concurrent change conflicts with this one; reload and try again.")
    if isinstance(exc, ExternalServiceError):
        return ServiceUnavailable(str(exc))
    if isinstance(exc, OperationalError) and "database is locked" in str(exc):
        return DatabaseBusy()
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Translate service-layer exceptions, then answer with the host's configured handler."""
    exc = translate(exc)
    # DRF's settings import the dotted path they are given; the stubs type the raw setting.
    handler = cast(Callable[..., Response | None], api_settings.EXCEPTION_HANDLER)
    if handler is exception_handler:
        handler = drf_exception_handler
    response: Response | None = handler(exc, context)
    if response is not None and isinstance(exc, DatabaseBusy):
        response["Retry-After"] = str(exc.retry_after)
    return response

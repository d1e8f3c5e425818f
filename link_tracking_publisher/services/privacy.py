"""Privacy (data-subject) requests: created through the API or the admin, processed by a
pluggable processor in a Celery task, with status, result and errors recorded on the row.

The processor is ``LINK_TRACKING['PRIVACY_REQUEST_PROCESSOR']``: a dotted path to a callable
that takes the :class:`PrivacyRequest` and returns its result, a JSON-able dict (a class is
instantiated once, without arguments, and its instance called). It raises
:class:`PrivacyRequestRejected` to refuse a request (status ``rejected``); any other exception
marks the request ``failed`` with the error, and an operator may retry it. A processor may run
more than once for one request (a retry, a redelivered task), so it must be idempotent.

The default, :class:`ControlPlaneProcessor`, covers what the control plane itself stores, and
says plainly what it does not cover: click events live in the analytics store (Firehose → S3
and the warehouse), which the control plane never reads. A host with such a store plugs in a
processor that handles it, and may call the default one for the control-plane part.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import app_settings
from ..errors import LinkTrackingError
from ..models import Link, LinkVersion, PrivacyRequest
from .errors import InvalidState
from .links import enqueue_on_commit

__all__ = [
    "ControlPlaneProcessor",
    "PrivacyRequestProcessor",
    "PrivacyRequestRejected",
    "create_privacy_request",
    "get_processor",
    "process_privacy_request",
    "retry_privacy_request",
]

logger = logging.getLogger(__name__)

PrivacyRequestProcessor = Callable[[PrivacyRequest], Mapping[str, Any]]
Status = PrivacyRequest.Status
MAX_ERROR_LENGTH = 4000


class PrivacyRequestRejected(LinkTrackingError):
    """A processor refuses the request; the message says why (it is recorded)."""


@lru_cache(maxsize=8)
def _load(path: str) -> PrivacyRequestProcessor:
    target = import_string(path)
    processor: PrivacyRequestProcessor = target() if isinstance(target, type) else target
    return processor


def get_processor() -> PrivacyRequestProcessor:
    """The configured processor (imported once per dotted path)."""
    return _load(app_settings.PRIVACY_REQUEST_PROCESSOR)


def _enqueue(request: PrivacyRequest) -> None:
    from ..tasks import process_privacy_request_task

    enqueue_on_commit(process_privacy_request_task, str(request.pk))


def create_privacy_request(
    *, account: Any, request_type: str, subject_type: str, subject_value: str, user: Any = None
) -> PrivacyRequest:
    """Record a request (PENDING) and enqueue its processing after commit.

    A ``link`` subject must be the id of one of the account's links.
    """
    request = PrivacyRequest(
        account=account,
        request_type=request_type,
        subject_type=subject_type,
        subject_value=subject_value,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
    )
    request.full_clean()
    if subject_type == PrivacyRequest.SubjectType.LINK:
        try:
            link_id = uuid.UUID(str(subject_value))
        except ValueError:
            raise ValidationError({"subject_value": "Enter the id (a UUID) of a link."}) from None
        if not Link.objects.filter(pk=link_id, account=account).exists():
            raise ValidationError({"subject_value": "This account has no link with this id."})
    with transaction.atomic():
        request.save(force_insert=True)
        _enqueue(request)
    return request


def retry_privacy_request(request: PrivacyRequest) -> PrivacyRequest:
    """Process a FAILED request again. Raises :class:`InvalidState` unless it failed."""
    with transaction.atomic():
        claimed = PrivacyRequest.objects.filter(pk=request.pk, status=Status.FAILED).update(
            status=Status.PENDING, error_message="", completed_at=None, updated_at=timezone.now()
        )
        if not claimed:
            raise InvalidState("Only failed privacy requests can be retried.")
        _enqueue(request)
    request.refresh_from_db()
    return request


def process_privacy_request(request_id: Any) -> str:
    """Run the processor on one request and record the outcome; returns the new status.

    Requests already complete, rejected or failed are left alone (a redelivered task does
    nothing); a PROCESSING one is taken again (its worker died).
    """
    claimed = PrivacyRequest.objects.filter(
        pk=request_id, status__in=[Status.PENDING, Status.PROCESSING]
    ).update(status=Status.PROCESSING, updated_at=timezone.now())
    request = PrivacyRequest.objects.filter(pk=request_id).first()
    if request is None:
        return "missing"
    if not claimed:
        return str(request.status)
    fields: dict[str, Any]
    try:
        result = dict(get_processor()(request))
    except PrivacyRequestRejected as exc:
        fields = {"status": Status.REJECTED, "error_message": str(exc)[:MAX_ERROR_LENGTH]}
    except Exception as exc:  # any processor failure is recorded, never lost
        logger.exception("privacy request %s failed", request_id)
        fields = {
            "status": Status.FAILED,
            "error_message": f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH],
        }
    else:
        fields = {"status": Status.COMPLETE, "result": result, "error_message": ""}
    now = timezone.now()
    PrivacyRequest.objects.filter(pk=request_id).update(completed_at=now, updated_at=now, **fields)
    return str(fields["status"])


class ControlPlaneProcessor:
    """The default processor: the control plane's own data, and nothing else.

    The control plane stores no click data: ``sms_msg_id``, ``click_id`` and IP hashes exist
    only in click events, which the runtime streams to the analytics store. So for those
    subjects this processor searches the account's links (destination, fallback, keyword,
    UTM overrides) and their audit trail (change reasons and recorded changes) for the value
    and reports every occurrence; it changes nothing (rewriting a live link's destination
    would break it, so an erasure that finds matches needs a person). For a ``link`` subject
    an access request returns the link and its history; an erasure is rejected (a link is
    not personal data: unpublish it instead).

    The result always carries ``click_events: {"handled": false, ...}``: whoever reads it
    knows the analytics store was not processed.
    """

    CLICK_EVENTS_NOTE = (
        "Click events are stored by the analytics pipeline (Firehose to S3 and the warehouse), "
        "which the control plane does not read. Process them there, or configure "
        "LINK_TRACKING['PRIVACY_REQUEST_PROCESSOR'] with a processor that does."
    )

    def __call__(self, request: PrivacyRequest) -> dict[str, Any]:
        if request.subject_type == PrivacyRequest.SubjectType.LINK:
            return self._link(request)
        value = request.subject_value
        links = Link.objects.filter(account_id=request.account_id)
        matches: list[dict[str, str]] = []
        for field in ("destination_url", "fallback_url", "keyword"):
            for pk in links.filter(**{f"{field}__contains": value}).values_list("pk", flat=True):
                matches.append({"model": "link", "id": str(pk), "field": field})
        for pk, overrides in links.values_list("pk", "utm_overrides"):
            if value in str(overrides):
                matches.append({"model": "link", "id": str(pk), "field": "utm_overrides"})
        versions = LinkVersion.objects.filter(link__account_id=request.account_id).filter(
            Q(change_reason__contains=value) | Q(destination_url__contains=value)
        )
        for pk, link_id in versions.values_list("pk", "link_id"):
            matches.append({"model": "link_version", "id": str(pk), "link": str(link_id)})
        result: dict[str, Any] = {
            "processor": "control_plane",
            "control_plane": {"matches": matches, "count": len(matches)},
            "click_events": {"handled": False, "detail": self.CLICK_EVENTS_NOTE},
        }
        if request.request_type == PrivacyRequest.RequestType.ERASURE:
            result["control_plane"]["erased"] = 0
            if matches:
                result["control_plane"]["action_required"] = (
                    "The value occurs in links or their history; nothing was changed "
                    "automatically. Review the matches and edit or deactivate those links."
                )
        return result

    def _link(self, request: PrivacyRequest) -> dict[str, Any]:
        if request.request_type == PrivacyRequest.RequestType.ERASURE:
            raise PrivacyRequestRejected(
                "A link is not personal data; deactivate (unpublish) it instead of erasing it."
            )
        link = Link.objects.filter(pk=request.subject_value, account_id=request.account_id).first()
        if link is None:
            raise PrivacyRequestRejected("The account has no such link.")
        history = [
            {
                "version": v.version,
                "changes": v.changes,
                "change_reason": v.change_reason,
                "created_at": v.created_at.isoformat(),
            }
            for v in link.versions.order_by("version")
        ]
        return {
            "processor": "control_plane",
            "control_plane": {
                "link": {
                    "id": str(link.pk),
                    "short_url": link.get_full_url(),
                    "destination_url": link.destination_url,
                    "keyword": link.keyword,
                    "channel": link.channel,
                    "active": link.active,
                    "created_at": link.created_at.isoformat(),
                },
                "versions": history,
            },
            "click_events": {"handled": False, "detail": self.CLICK_EVENTS_NOTE},
        }

"""Outbox bookkeeping: every state change of a PublishOutbox row goes through here, so the
status, retry count, error message and completion time are recorded the same way by the
single publish task, the bulk republish and the sweepers.

A row whose domain is not verified is not written and not complete: it is parked
``WAITING_FOR_DOMAIN`` (:func:`park_until_verified`), left alone by the sweeper, and sent again
when the domain is verified (:func:`release_waiting`, from the verification's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from .conf import app_settings
from .models import Domain, Link, PublishOutbox

__all__ = [
    "WAITING_RESULT",
    "WRITTEN_RESULTS",
    "claim_stuck",
    "create_domain_entry",
    "create_entry",
    "domain_idempotency_key",
    "idempotency_key",
    "backlog",
    "delete_expired",
    "delete_past_retention",
    "entry_key",
    "mark_complete",
    "mark_complete_many",
    "mark_failed",
    "mark_processing",
    "mark_processing_many",
    "park_until_verified",
    "record_error",
    "record_retry",
    "release_waiting",
    "waiting_reason",
]

Status = PublishOutbox.Status
MAX_ERROR_LENGTH = 4000

#: The ``result`` of a row parked ``WAITING_FOR_DOMAIN`` (the publisher's outcome for it).
WAITING_RESULT = "domain_unverified"
#: The results of a COMPLETE row whose version is in the runtime table: ``already_applied``
#: means the table holds that version or a newer one. A link's published version is the
#: newest of these, never one that was not written.
WRITTEN_RESULTS = ("written", "already_applied")


def _clip(message: str) -> str:
    return message[:MAX_ERROR_LENGTH]


def entry_key(link_id: object, runtime_version: int) -> str:
    """One outbox row per published state of a link: ``{link_id}:{runtime_version}``."""
    return f"{link_id}:{runtime_version}"


def idempotency_key(link: Link) -> str:
    """The key of the outbox row of ``link``'s current version (:func:`entry_key`)."""
    return entry_key(link.pk, link.runtime_version)


def create_entry(link: Link) -> PublishOutbox:
    """The PENDING outbox row of the link's current (just saved) version."""
    return PublishOutbox.objects.create(
        link=link, idempotency_key=idempotency_key(link), runtime_version=link.runtime_version
    )


def domain_idempotency_key(domain: Domain) -> str:
    """One outbox row per published state of a domain's app-links record:
    ``applinks:{domain_id}:{app_links_version}``."""
    return f"applinks:{domain.pk}:{domain.app_links_version}"


def create_domain_entry(domain: Domain) -> PublishOutbox:
    """The PENDING outbox row of the domain's current (just saved) app-links version."""
    return PublishOutbox.objects.create(
        domain=domain,
        idempotency_key=domain_idempotency_key(domain),
        runtime_version=domain.app_links_version,
    )


def mark_processing(entry: PublishOutbox) -> None:
    now = timezone.now()
    PublishOutbox.objects.filter(pk=entry.pk).update(
        status=Status.PROCESSING, last_attempt_at=now, updated_at=now
    )
    entry.status, entry.last_attempt_at = Status.PROCESSING, now


def mark_processing_many(entry_ids: Sequence[int]) -> None:
    now = timezone.now()
    PublishOutbox.objects.filter(pk__in=entry_ids).update(
        status=Status.PROCESSING, last_attempt_at=now, updated_at=now
    )


def mark_complete(entry: PublishOutbox, result: str) -> None:
    now = timezone.now()
    PublishOutbox.objects.filter(pk=entry.pk).update(
        status=Status.COMPLETE, result=result, completed_at=now, updated_at=now
    )
    entry.status, entry.result, entry.completed_at = Status.COMPLETE, result, now


def mark_complete_many(idempotency_keys: Sequence[str], result: str) -> None:
    now = timezone.now()
    for start in range(0, len(idempotency_keys), 500):
        PublishOutbox.objects.filter(
            idempotency_key__in=idempotency_keys[start : start + 500]
        ).update(status=Status.COMPLETE, result=result, completed_at=now, updated_at=now)


def record_retry(entry: PublishOutbox, error: str) -> None:
    """A transient failure: back to PENDING with the error, one more retry counted."""
    now = timezone.now()
    PublishOutbox.objects.filter(pk=entry.pk).update(
        status=Status.PENDING,
        retry_count=F("retry_count") + 1,
        error_message=_clip(error),
        updated_at=now,
    )
    entry.refresh_from_db()


def record_error(idempotency_key: str, error: str) -> None:
    """A bulk write that did not go through: stays PENDING (the sweeper retries it)."""
    PublishOutbox.objects.filter(idempotency_key=idempotency_key).update(
        status=Status.PENDING,
        retry_count=F("retry_count") + 1,
        error_message=_clip(error),
        updated_at=timezone.now(),
    )


def mark_failed(entry: PublishOutbox, error: str, *, code: str = "") -> None:
    """A permanent failure (or retries exhausted): FAILED, with the error; an operator retries
    it from the API or the admin once the cause is fixed."""
    now = timezone.now()
    PublishOutbox.objects.filter(pk=entry.pk).update(
        status=Status.FAILED,
        result=code[:32],
        error_message=_clip(error),
        completed_at=now,
        updated_at=now,
    )
    entry.refresh_from_db()


def waiting_reason(domain: Domain) -> str:
    """Why a row of ``domain`` waits, and what to do about it (the API and the admin show it)."""
    name = domain.domain_name
    return (
        f"domain {name} is not verified yet: run manage.py verify_domain {name} once the TXT "
        f"record {domain.verification_record_name} = {domain.verification_record_value} is in "
        f"the DNS (or, locally, manage.py verify_domain {name} --by-hand --by USERNAME); its "
        "links publish as soon as it is verified."
    )


def park_until_verified(entries: Sequence[PublishOutbox], domain: Domain) -> bool:
    """Park ``entries`` (rows of ``domain``'s links or app links) ``WAITING_FOR_DOMAIN``,
    unless ``domain`` has been verified meanwhile: then nothing changes and this returns
    ``False`` (the caller publishes them now). The domain row is locked, as verification locks
    it, so a verification committing meanwhile is waited for and seen: no row is parked after
    the verification released the domain's rows."""
    with transaction.atomic():
        unverified = (
            Domain.objects.select_for_update()
            .filter(pk=domain.pk, verified_at__isnull=True)
            .values_list("pk", flat=True)
        )
        if not list(unverified):
            return False
        PublishOutbox.objects.filter(pk__in=[entry.pk for entry in entries]).update(
            status=Status.WAITING_FOR_DOMAIN,
            result=WAITING_RESULT,
            completed_at=None,
            updated_at=timezone.now(),
        )
    for entry in entries:
        entry.status, entry.result, entry.completed_at = (
            Status.WAITING_FOR_DOMAIN,
            WAITING_RESULT,
            None,
        )
    return True


def release_waiting(domain: Domain) -> list[PublishOutbox]:
    """In the caller's transaction (the one verifying ``domain``, which holds its lock): the
    domain's parked rows, its links' and its app links', back to PENDING; returned, for the
    caller to send after commit."""
    rows = list(
        PublishOutbox.objects.filter(
            Q(link__domain=domain) | Q(domain=domain), status=Status.WAITING_FOR_DOMAIN
        ).order_by("pk")
    )
    PublishOutbox.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=Status.PENDING, result="", updated_at=timezone.now()
    )
    for row in rows:
        row.status, row.result = Status.PENDING, ""
    return rows


def claim_stuck(limit: int | None = None) -> list[PublishOutbox]:
    """Rows PENDING or PROCESSING for longer than ``OUTBOX_STUCK_AFTER_SECONDS`` (not those
    WAITING_FOR_DOMAIN: their domain's verification sends them), claimed for re-enqueueing: locked with SKIP LOCKED where the database has it (so concurrent sweepers
    take different rows) and touched, so the next sweep leaves them alone for a while."""
    cutoff = timezone.now() - timedelta(seconds=app_settings.OUTBOX_STUCK_AFTER_SECONDS)
    limit = limit or app_settings.OUTBOX_SWEEP_BATCH_SIZE
    with transaction.atomic():
        rows = list(
            PublishOutbox.objects.select_for_update(skip_locked=True)
            .filter(Q(status=Status.PENDING) | Q(status=Status.PROCESSING), updated_at__lt=cutoff)
            .order_by("updated_at")[:limit]
        )
        if rows:
            PublishOutbox.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=Status.PENDING, updated_at=timezone.now()
            )
    return rows


def delete_past_retention(
    model: Any, *, done: str, done_at: str, failed: Sequence[str]
) -> tuple[int, int]:
    """The outboxes' retention, for any outbox ``model`` (the publish outbox, the click webhook
    deliveries): rows in status ``done`` whose ``done_at`` is older than
    ``OUTBOX_COMPLETED_RETENTION_DAYS`` are deleted, and rows in a ``failed`` status last
    updated longer ago than ``OUTBOX_FAILED_RETENTION_DAYS``. Returns both counts."""
    now = timezone.now()
    completed_before = now - timedelta(days=app_settings.OUTBOX_COMPLETED_RETENTION_DAYS)
    completed, _ = model.objects.filter(
        status=done, **{f"{done_at}__lt": completed_before}
    ).delete()
    failed_count, _ = model.objects.filter(
        status__in=list(failed),
        updated_at__lt=now - timedelta(days=app_settings.OUTBOX_FAILED_RETENTION_DAYS),
    ).delete()
    return completed, failed_count


def delete_expired() -> tuple[int, int]:
    """Delete COMPLETE rows past their retention, and FAILED ones past theirs."""
    return delete_past_retention(
        PublishOutbox, done=Status.COMPLETE, done_at="completed_at", failed=[Status.FAILED]
    )


def backlog() -> dict[str, float]:
    """The outbox's health: age in seconds of the oldest PENDING row (0 when none), and how
    many rows are PENDING and FAILED."""
    now = timezone.now()
    pending = PublishOutbox.objects.filter(status=Status.PENDING)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    return {
        "OutboxOldestPendingAgeSeconds": (now - oldest).total_seconds() if oldest else 0.0,
        "OutboxPendingCount": float(pending.count()),
        "OutboxFailedCount": float(PublishOutbox.objects.filter(status=Status.FAILED).count()),
    }

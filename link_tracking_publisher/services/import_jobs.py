"""CSV import jobs: a file longer than ``IMPORT_MAX_ROWS`` (up to ``IMPORT_ASYNC_MAX_ROWS``)
is stored with a :class:`~link_tracking_publisher.models.LinkImport` row and imported by a
worker through the same :func:`~.link_import.import_links` as a synchronous import.

What a run does, by the job's mode:

- **all or nothing** (the default): first every row is checked, batch by batch, each batch
  rolled back (a dry run), with the progress (``rows_checked``) committed after each batch;
  if no row failed, the links are made in one transaction that commits with the job's
  outcome (``rows_done`` jumps to ``rows_total``). Nothing is written if any row fails,
  including a row that only fails at that moment (a slug taken in between);
- **per row**: each batch commits its good rows together with the job's progress
  (``rows_done``, counts, errors), so a resumed run starts after the last committed batch;
- **dry run**: the check only.

A run is owned by the attempt that claimed the job (:func:`claim_import_job`, which counts
``attempts``). Every progress write is conditional on that attempt, and the final write of an
all-or-nothing import holds the job's row, so a job taken over by another attempt (the
sweeper's, after ``IMPORT_JOB_STUCK_AFTER_SECONDS`` without progress) can never be applied
twice: the old attempt's next write fails and its transaction is rolled back.

:func:`start_import` is what the API and the admin call: the file imported now, or stored as
a job that is sent (``link_tracking.run_link_import``, by name through
:mod:`~link_tracking_publisher.dispatch`) once the job's row is committed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import dispatch
from ..conf import app_settings
from ..models import Domain, Link, LinkImport
from .api_keys import ApiKeyPrincipal, acting_api_key, acting_user
from .link_import import ImportResult, RowError, import_links, read_import_file

__all__ = [
    "ImportJobTakenOver",
    "claim_import_job",
    "cleanup_import_jobs",
    "create_import_job",
    "enqueue_link_import",
    "fail_import_job",
    "import_or_queue",
    "run_import_job",
    "stale_import_jobs",
    "start_import",
]

logger = logging.getLogger(__name__)

Status = LinkImport.Status


class ImportJobTakenOver(Exception):
    """Another attempt claimed the job: this one must stop and write nothing more."""


def create_import_job(
    data: bytes,
    *,
    file_name: str,
    account: Any,
    rows: int,
    domain: Domain | None = None,
    user: Any = None,
    reason: str = "",
    dry_run: bool = False,
    per_row: bool = False,
) -> LinkImport:
    """Store the file and a PENDING job for it (the caller sends the task after commit)."""
    return LinkImport.objects.create(
        account=account,
        domain=domain,
        requested_by=acting_user(user),
        requested_by_api_key=acting_api_key(user),
        reason=reason,
        file_name=file_name[:255],
        file_size=len(data),
        content=data,
        mode=LinkImport.Mode.PER_ROW if per_row else LinkImport.Mode.ALL_OR_NOTHING,
        dry_run=dry_run,
        rows_total=rows,
    )


def import_or_queue(
    data: bytes,
    *,
    file_name: str,
    account: Any,
    domain: Domain | None = None,
    user: Any = None,
    reason: str = "",
    dry_run: bool = False,
    per_row: bool = False,
) -> ImportResult | LinkImport:
    """A file of at most ``IMPORT_MAX_ROWS`` data rows is imported now (its result, as
    :func:`import_links` gives it); a longer one, up to ``IMPORT_ASYNC_MAX_ROWS``, becomes a
    PENDING job (the caller sends ``link_tracking.run_link_import`` after commit). A file
    that cannot be read, or is longer still, is reported at once."""
    arguments: dict[str, Any] = {
        "account": account,
        "domain": domain,
        "user": user,
        "reason": reason,
        "dry_run": dry_run,
        "per_row": per_row,
    }
    largest = app_settings.IMPORT_ASYNC_MAX_ROWS
    parsed = read_import_file(data, max_rows=largest)
    if not parsed.errors and len(parsed.rows) > app_settings.IMPORT_MAX_ROWS:
        return create_import_job(data, file_name=file_name, rows=len(parsed.rows), **arguments)
    return import_links(data, max_rows=largest, **arguments)


def enqueue_link_import(job_id: Any) -> None:
    """Send the job to a worker once the current transaction commits. A broker that is down
    then is logged, not raised: the job is stored, and ``resume_link_imports`` sends it later."""
    dispatch.enqueue_on_commit(dispatch.RUN_LINK_IMPORT, str(job_id))


def start_import(data: bytes, **options: Any) -> ImportResult | LinkImport:
    """A CSV import as the API and the admin start it: :func:`import_or_queue` (with its
    keyword arguments, ``options``) in one transaction, and a job it stores sent to a worker
    after that transaction commits."""
    with transaction.atomic():
        outcome = import_or_queue(data, **options)
        if isinstance(outcome, LinkImport):
            enqueue_link_import(outcome.pk)
    return outcome


def claim_import_job(job_id: Any) -> LinkImport | None:
    """Start an attempt at the job if it is PENDING, or RUNNING without progress for
    ``IMPORT_JOB_STUCK_AFTER_SECONDS`` (its worker died); None if it is finished or another
    attempt is alive. What an earlier attempt left uncommitted is forgotten: checking starts
    again, and a per-row import resumes after its last committed batch."""
    now = timezone.now()
    stuck = now - timedelta(seconds=app_settings.IMPORT_JOB_STUCK_AFTER_SECONDS)
    claimed = (
        LinkImport.objects.filter(pk=job_id)
        .filter(Q(status=Status.PENDING) | Q(status=Status.RUNNING, heartbeat_at__lt=stuck))
        .update(status=Status.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now)
    )
    if not claimed:
        return None
    job = LinkImport.objects.select_related("account", "domain", "requested_by").get(pk=job_id)
    job.started_at = job.started_at or now
    job.rows_checked = job.rows_done
    if job.mode != LinkImport.Mode.PER_ROW or job.dry_run:
        # Nothing of an all-or-nothing attempt outlives it but its progress: start afresh.
        job.rows_done = job.created_count = job.failed_count = job.error_count = 0
        job.errors = []
    _save(job, "started_at", "rows_checked", "rows_done", "created_count", "failed_count")
    return job


def _save(job: LinkImport, *fields: str) -> None:
    """Write ``fields`` of the job (and its heartbeat) if this attempt still owns it."""
    job.heartbeat_at = timezone.now()
    names = {*fields, "heartbeat_at", "errors", "error_count"}
    values = {name: getattr(job, name) for name in names}
    owned = LinkImport.objects.filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts)
    if not owned.update(**values):
        raise ImportJobTakenOver(str(job.pk))


def _add_errors(job: LinkImport, errors: list[RowError]) -> None:
    room = max(0, app_settings.IMPORT_JOB_MAX_ERRORS - len(job.errors))
    job.errors = [*job.errors, *(error.as_dict() for error in errors[:room])]
    job.error_count += len(errors)
    job.failed_count += len({error.row for error in errors if error.row is not None})


def _finish(job: LinkImport, status: str) -> None:
    job.status = status
    job.finished_at = timezone.now()
    _save(
        job, "status", "finished_at", "rows_checked", "rows_done", "created_count", "failed_count"
    )


def _arguments(job: LinkImport) -> dict[str, Any]:
    return {
        "account": job.account,
        "domain": job.domain,
        "user": (
            ApiKeyPrincipal(job.requested_by_api_key)
            if job.requested_by_api_key is not None
            else job.requested_by
        ),
        "reason": job.reason or "imported from CSV (import job)",
        "max_rows": app_settings.IMPORT_ASYNC_MAX_ROWS,
        "batch_size": app_settings.IMPORT_BATCH_SIZE,
    }


def _check(job: LinkImport) -> bool:
    """Check every row (a dry run), committing the progress batch by batch; True if none
    failed."""

    def on_batch(done: int, links: list[Link], errors: list[RowError]) -> None:
        job.rows_checked = done
        _add_errors(job, errors)
        _save(job, "rows_checked", "failed_count")

    result = import_links(bytes(job.content), dry_run=True, on_batch=on_batch, **_arguments(job))
    if result.errors and not job.error_count:  # the file itself: nothing reached a batch
        _add_errors(job, result.errors)
    return not result.errors


def _write_all(job: LinkImport) -> None:
    """Make every link in one transaction that commits with the job's outcome."""
    with transaction.atomic():
        # Held to the commit: no other attempt can claim the job meanwhile.
        owned = LinkImport.objects.select_for_update().filter(
            pk=job.pk, status=Status.RUNNING, attempts=job.attempts
        )
        if not owned.exists():
            raise ImportJobTakenOver(str(job.pk))
        arguments = {**_arguments(job), "batch_size": None}
        result = import_links(bytes(job.content), **arguments)
        if result.errors:
            _add_errors(job, result.errors)
            _finish(job, Status.FAILED)
            return
        job.rows_done = job.rows_total
        job.created_count = len(result.links)
        _finish(job, Status.SUCCEEDED)


def _write_per_row(job: LinkImport) -> None:
    def on_batch(done: int, links: list[Link], errors: list[RowError]) -> None:
        job.rows_checked = job.rows_done = done
        job.created_count += len(links)
        _add_errors(job, errors)
        _save(job, "rows_checked", "rows_done", "created_count", "failed_count")

    result = import_links(
        bytes(job.content), per_row=True, start=job.rows_done, on_batch=on_batch, **_arguments(job)
    )
    if result.errors and not job.error_count:  # the file itself
        _add_errors(job, result.errors)
    if not job.error_count:
        _finish(job, Status.SUCCEEDED)
    else:
        _finish(job, Status.PARTIAL if job.created_count else Status.FAILED)


def run_import_job(job_id: Any) -> str:
    """Claim the job and run it to its end (see the module); returns its status, or why it
    was not run (``"not_claimed"``, ``"taken_over"``)."""
    job = claim_import_job(job_id)
    if job is None:
        return "not_claimed"
    try:
        if job.mode == LinkImport.Mode.PER_ROW and not job.dry_run:
            _write_per_row(job)
        elif not _check(job):
            _finish(job, Status.FAILED)
        elif job.dry_run:
            _finish(job, Status.SUCCEEDED)
        else:
            _write_all(job)
    except ImportJobTakenOver:
        logger.warning("import job %s: taken over by a later attempt; this one stops", job_id)
        return "taken_over"
    return job.status


def fail_import_job(job_id: Any, message: str) -> None:
    """End a job that cannot be run (what a per-row import committed stays)."""
    job = LinkImport.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        return
    _add_errors(job, [RowError(None, None, message)])
    # Conditional: an attempt still writing (it holds the row) finishes first and wins.
    LinkImport.objects.filter(
        pk=job.pk, status__in=[Status.PENDING, Status.RUNNING], attempts=job.attempts
    ).update(
        status=Status.PARTIAL if job.created_count else Status.FAILED,
        finished_at=timezone.now(),
        errors=job.errors,
        error_count=job.error_count,
        failed_count=job.failed_count,
    )


def stale_import_jobs() -> list[str]:
    """Jobs to send to a worker again: PENDING or RUNNING without progress for
    ``IMPORT_JOB_STUCK_AFTER_SECONDS`` (a lost message, a worker that died). A job that
    has already been started ``IMPORT_JOB_MAX_ATTEMPTS`` times is failed instead."""
    stuck = timezone.now() - timedelta(seconds=app_settings.IMPORT_JOB_STUCK_AFTER_SECONDS)
    jobs = LinkImport.objects.filter(
        Q(status=Status.PENDING, created_at__lt=stuck)
        | Q(status=Status.RUNNING, heartbeat_at__lt=stuck)
    )
    resume: list[str] = []
    for job in jobs.only("pk", "attempts"):
        if job.attempts >= app_settings.IMPORT_JOB_MAX_ATTEMPTS:
            fail_import_job(
                job.pk,
                f"The import stopped {job.attempts} times without finishing "
                "(IMPORT_JOB_MAX_ATTEMPTS); import the file again, in smaller parts.",
            )
        else:
            resume.append(str(job.pk))
    return resume


def cleanup_import_jobs() -> int:
    """Delete the jobs finished more than ``IMPORT_JOB_RETENTION_DAYS`` ago, their stored
    files with them (the links they made stay); returns how many."""
    before = timezone.now() - timedelta(days=app_settings.IMPORT_JOB_RETENTION_DAYS)
    finished = [Status.SUCCEEDED, Status.FAILED, Status.PARTIAL]
    deleted, _ = LinkImport.objects.filter(status__in=finished, finished_at__lt=before).delete()
    return deleted

"""CSV import jobs (see :mod:`link_tracking_publisher.services.import_jobs`): running one, and
the beat task that resumes the ones whose worker died or whose message was lost."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .. import dispatch
from ..services.import_jobs import (
    cleanup_import_jobs,
    enqueue_link_import,
    fail_import_job,
    run_import_job,
    stale_import_jobs,
)

__all__ = [
    "cleanup_link_imports",
    "enqueue_link_import",
    "resume_link_imports",
    "run_link_import_task",
]

logger = logging.getLogger(__name__)


@shared_task(name=dispatch.RUN_LINK_IMPORT, acks_late=True, ignore_result=True)
def run_link_import_task(job_id: str) -> str:
    """Run one import job to its end; a second delivery of the same job does nothing."""
    try:
        return run_import_job(job_id)
    except (OperationalError, InterfaceError) as exc:
        # The database failed under the job: what was not committed is rolled back, and the
        # job, left PENDING or RUNNING, is resumed by resume_link_imports.
        logger.warning("import job %s interrupted (%s: %s)", job_id, type(exc).__name__, exc)
        return "interrupted"
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        fail_import_job(job_id, f"The import stopped on an error: {type(exc).__name__}: {exc}")
        return "failed"


@shared_task(name=dispatch.RESUME_LINK_IMPORTS, ignore_result=True)
def resume_link_imports() -> list[str]:
    """Send again the jobs without progress for ``IMPORT_JOB_STUCK_AFTER_SECONDS``."""
    job_ids = stale_import_jobs()
    for job_id in job_ids:
        logger.warning("import job %s: no progress, sending it again", job_id)
        run_link_import_task.delay(job_id)
    return job_ids


@shared_task(name=dispatch.CLEANUP_LINK_IMPORTS, ignore_result=True)
def cleanup_link_imports() -> int:
    """Delete import jobs finished more than ``IMPORT_JOB_RETENTION_DAYS`` ago."""
    return cleanup_import_jobs()

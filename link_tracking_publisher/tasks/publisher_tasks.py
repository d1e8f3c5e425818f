"""Publishing tasks. Each takes primary keys, re-reads the world, and is idempotent: running
one twice (a redelivery after a worker died, a sweeper re-enqueue) writes nothing new, because
every DynamoDB write is conditional on ``runtime_version``.

Tasks are ``acks_late`` (a message is acknowledged only after the task finished, so a worker
killed mid-task leaves it on the broker), retried with exponential back-off for transient AWS
errors only (and database errors under a running publish), and record their outcome on the
outbox row.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .. import dispatch
from .. import outbox as outbox_state
from ..aws import cloudwatch_client, is_transient
from ..conf import app_settings
from ..models import Domain, Link, PublishOutbox
from ..schedule import BEAT_SCHEDULE
from ..services.publisher import PUBLISH_CHUNK, BulkPublishResult, LinkPublisher
from ..services.reconcile import reconcile

logger = logging.getLogger(__name__)

__all__ = [
    "BEAT_SCHEDULE",
    "cleanup_old_outbox_entries",
    "publish_app_links_task",
    "publish_link_task",
    "publish_outbox_metrics",
    "publish_outbox_task",
    "reconcile_runtime_task",
    "republish_all_links_task",
    "republish_campaign_task",
    "republish_domain_task",
    "republish_link_campaign_task",
    "retry_countdown",
    "retry_pending_outbox",
]


def retry_countdown(retries: int) -> float:
    """Exponential back-off with full jitter, capped."""
    base = app_settings.PUBLISH_RETRY_BACKOFF_SECONDS
    cap = app_settings.PUBLISH_RETRY_BACKOFF_MAX_SECONDS
    return random.uniform(0, min(cap, base * 2**retries))


def _retryable(exc: BaseException) -> bool:
    """Transient AWS errors, and the database failing under the task (a lost connection, a
    lock timeout): the write may already have landed, so giving up would leave a published
    link marked failed; a retry finds the record in place and completes the row."""
    return is_transient(exc) or isinstance(exc, OperationalError | InterfaceError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@shared_task(bind=True, name=dispatch.PUBLISH_LINK, acks_late=True, max_retries=None)
def publish_link_task(self: Any, link_id: str, outbox_id: int | None = None) -> str:
    """Publish the link's current state and record the outcome on its outbox row."""
    entry = PublishOutbox.objects.filter(pk=outbox_id).first() if outbox_id else None
    try:
        link = Link.objects.select_related("domain", "campaign").get(pk=link_id)
    except Link.DoesNotExist:
        if entry is not None:
            outbox_state.mark_failed(entry, f"link {link_id} no longer exists", code="link_missing")
        logger.warning("publish %s: link no longer exists", link_id)
        return "link_missing"
    publisher = LinkPublisher()
    if entry is None:
        entry = publisher.create_publish_outbox(link)
    return _publish(
        self,
        entry,
        lambda: publisher.publish_link(link, entry).outcome,
        f"{link.pk} v{link.runtime_version}",
    )


@shared_task(bind=True, name=dispatch.PUBLISH_APP_LINKS, acks_late=True, max_retries=None)
def publish_app_links_task(self: Any, domain_id: str, outbox_id: int) -> str:
    """Publish the domain's app-links record (its current state) and record the outcome on
    the outbox row."""
    entry = PublishOutbox.objects.filter(pk=outbox_id).first()
    if entry is None:
        logger.warning("publish app links of %s: outbox row %s is gone", domain_id, outbox_id)
        return "outbox_missing"
    domain = Domain.objects.filter(pk=domain_id).first()
    if domain is None:  # the row cascades with its domain; only a race gets here
        logger.warning("publish app links: domain %s no longer exists", domain_id)
        return "domain_missing"
    return _publish(
        self,
        entry,
        lambda: LinkPublisher().publish_app_links(domain, entry).outcome,
        f"app links of {domain.domain_name} v{domain.app_links_version}",
    )


def _publish(task: Any, entry: PublishOutbox, run: Callable[[], str], what: str) -> str:
    """Run one publish for ``entry``: skipped when the row is complete already, retried with
    back-off on transient errors, the row marked failed otherwise."""
    if entry.status == PublishOutbox.Status.COMPLETE:
        return entry.result or "already_complete"
    outbox_state.mark_processing(entry)
    try:
        return run()
    except Exception as exc:
        if _retryable(exc) and task.request.retries < app_settings.PUBLISH_MAX_RETRIES:
            outbox_state.record_retry(entry, _describe(exc))
            logger.warning(
                "publish %s: transient error, retry %d: %s", what, task.request.retries + 1, exc
            )
            raise task.retry(exc=exc, countdown=retry_countdown(task.request.retries)) from None
        if _retryable(exc):
            code = "retries_exhausted"
            outbox_state.record_retry(entry, _describe(exc))  # count the last attempt too
        else:
            code = "permanent_error"
        outbox_state.mark_failed(entry, _describe(exc), code=code)
        logger.error("publish %s failed: %s", what, exc)
        return code


@shared_task(name=dispatch.REPUBLISH_CAMPAIGN, acks_late=True)
def republish_campaign_task(campaign_id: str) -> dict[str, Any]:
    """Republish every active link whose ``campaign_identifier`` is ``campaign_id``."""
    return _summary(LinkPublisher().bulk_republish_campaign(campaign_id))


def _bulk(links: Any) -> dict[str, Any]:
    return _summary(LinkPublisher().bulk_republish(links))


def _summary(result: BulkPublishResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "written": result.written,
        "already_applied": result.already_applied,
        "failed": len(result.failed),
    }


@shared_task(name=dispatch.PUBLISH_OUTBOX, acks_late=True)
def publish_outbox_task(outbox_ids: list[int]) -> dict[str, Any]:
    """Publish the links of a batch of outbox rows (a campaign, domain or UTM policy change
    wrote them with the change; the sweeper sends stuck ones) through the bulk path."""
    return _summary(LinkPublisher().publish_entries(outbox_ids))


# The three republish tasks below are no longer sent by the service layer (a change writes
# its outbox rows in its own transaction, then sends ``publish_outbox``); they stay registered
# so a message an earlier release left on the broker is still carried out, and for operators.


@shared_task(name=dispatch.REPUBLISH_LINK_CAMPAIGN, acks_late=True)
def republish_link_campaign_task(link_campaign_pk: str) -> dict[str, Any]:
    """Republish every link of one LinkCampaign (by primary key; campaign_id may be null)."""
    return _bulk(Link.objects.filter(campaign_id=uuid.UUID(str(link_campaign_pk))))


@shared_task(name=dispatch.REPUBLISH_DOMAIN, acks_late=True)
def republish_domain_task(domain_pk: str) -> dict[str, Any]:
    """Republish every link on one domain."""
    return _bulk(Link.objects.filter(domain_id=domain_pk))


@shared_task(name=dispatch.REPUBLISH_ALL_LINKS, acks_late=True)
def republish_all_links_task() -> dict[str, Any]:
    """Republish every link."""
    return _bulk(Link.objects.all())


@shared_task(name=dispatch.RETRY_PENDING_OUTBOX, acks_late=True)
def retry_pending_outbox() -> int:
    """Send again the outbox rows that have been PENDING (or PROCESSING: a worker died) for
    longer than ``OUTBOX_STUCK_AFTER_SECONDS``, as ``publish_outbox`` batches (one message per
    ``PUBLISH_CHUNK`` rows, not one per row). Returns how many rows were sent."""
    rows = outbox_state.claim_stuck()
    link_ids = []
    for row in rows:
        if row.domain_id is not None:
            publish_app_links_task.delay(str(row.domain_id), row.pk)
        else:
            link_ids.append(row.pk)
    for start in range(0, len(link_ids), PUBLISH_CHUNK):
        publish_outbox_task.delay(link_ids[start : start + PUBLISH_CHUNK])
    if rows:
        logger.info("re-enqueued %d stuck outbox entries", len(rows))
    return len(rows)


@shared_task(name=dispatch.RECONCILE_RUNTIME, acks_late=True)
def reconcile_runtime_task(fix: bool = True) -> dict[str, int]:
    """Periodic drift check (off by default: add ``RECONCILE_SCHEDULE`` to the beat schedule)."""
    report = reconcile(fix=fix)
    return {"checked": report.checked, "fixed": report.fixed, **report.counts()}


@shared_task(name=dispatch.PUBLISH_OUTBOX_METRICS)
def publish_outbox_metrics() -> dict[str, float]:
    """Send the outbox backlog to CloudWatch (the alarms of terraform/monitoring.tf watch it).
    One PutMetricData a minute from beat, never on a request path. Sent only when
    ``METRICS_ENVIRONMENT`` is set; always logged."""
    values = outbox_state.backlog()
    logger.info("outbox backlog %s", values, extra={"outbox": values})
    environment = app_settings.METRICS_ENVIRONMENT
    if environment:
        cloudwatch_client().put_metric_data(
            Namespace=app_settings.METRICS_NAMESPACE,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "Environment", "Value": environment}],
                    "Value": value,
                    "Unit": "Seconds" if name.endswith("Seconds") else "Count",
                }
                for name, value in values.items()
            ],
        )
    return values


@shared_task(name=dispatch.CLEANUP_OLD_OUTBOX_ENTRIES, acks_late=True)
def cleanup_old_outbox_entries() -> dict[str, int]:
    """Delete COMPLETE rows older than 7 days and FAILED rows older than 30 (configurable)."""
    completed, failed = outbox_state.delete_expired()
    return {"completed_deleted": completed, "failed_deleted": failed}

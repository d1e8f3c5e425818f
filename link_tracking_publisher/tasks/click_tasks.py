"""Click statistics tasks: ingest new click events (beat), deliver click webhooks."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from .. import dispatch
from ..clicks import dedupe, queue, webhooks

logger = logging.getLogger(__name__)

__all__ = [
    "cleanup_click_webhook_deliveries",
    "deliver_click_webhooks",
    "ingest_click_events",
    "prune_click_event_keys",
]


@shared_task(name=dispatch.INGEST_CLICK_EVENTS, acks_late=True, ignore_result=True)
def ingest_click_events() -> dict[str, Any]:
    """Ingest what is new: from the SQS queue of S3 notifications when
    ``CLICK_EVENTS_QUEUE_URL`` is set, else from the local ``CLICK_EVENTS_SOURCE``."""
    report = queue.ingest_new_click_events()
    if report is None:
        return {}
    logger.info("click events ingested: %s", report.as_dict())
    return report.as_dict()


@shared_task(name=dispatch.PRUNE_CLICK_EVENT_KEYS, ignore_result=True)
def prune_click_event_keys() -> dict[str, int]:
    """Delete click dedupe keys older than ``CLICK_DEDUPE_HORIZON_DAYS`` (events that old are
    skipped as ``too_old``, so their keys are never looked up again)."""
    deleted = dedupe.prune_event_keys()
    logger.info("click dedupe keys pruned: %d", deleted)
    return {"deleted": deleted}


@shared_task(name=dispatch.DELIVER_CLICK_WEBHOOKS, acks_late=True, ignore_result=True)
def deliver_click_webhooks() -> dict[str, int]:
    """Send the click webhook deliveries that are due (also on the beat schedule, which
    picks up retries whose backoff has passed)."""
    return webhooks.deliver_due()


@shared_task(name=dispatch.CLEANUP_CLICK_WEBHOOK_DELIVERIES, ignore_result=True)
def cleanup_click_webhook_deliveries() -> dict[str, int]:
    """Trim the click webhook outbox as the publish outbox is trimmed: delivered rows after
    ``OUTBOX_COMPLETED_RETENTION_DAYS``, failed and cancelled ones (their payloads redacted by
    an erasure) after ``OUTBOX_FAILED_RETENTION_DAYS``."""
    return webhooks.delete_expired_deliveries()

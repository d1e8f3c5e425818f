"""The beat schedule of the control plane's sweepers. Importable from settings (it touches no
model): ``CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE, ...}``."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from . import dispatch

__all__ = ["BEAT_SCHEDULE", "RECONCILE_SCHEDULE"]

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Re-enqueue publishes stuck PENDING/PROCESSING (broker hiccup, worker killed).
    "link-tracking-retry-pending-outbox": {
        "task": dispatch.RETRY_PENDING_OUTBOX,
        "schedule": 60.0,
    },
    # The outbox backlog for the CloudWatch alarms (sent when METRICS_ENVIRONMENT is set).
    "link-tracking-publish-outbox-metrics": {
        "task": dispatch.PUBLISH_OUTBOX_METRICS,
        "schedule": 60.0,
    },
    # Count new click events (the SQS queue of S3 notifications, or the local NDJSON file).
    "link-tracking-ingest-click-events": {
        "task": dispatch.INGEST_CLICK_EVENTS,
        "schedule": 30.0,
    },
    # Click webhook deliveries whose backoff has passed (new ones are also sent at once).
    "link-tracking-deliver-click-webhooks": {
        "task": dispatch.DELIVER_CLICK_WEBHOOKS,
        "schedule": 30.0,
    },
    # Trim the click webhook outbox (same retention as the publish outbox).
    "link-tracking-cleanup-click-webhook-deliveries": {
        "task": dispatch.CLEANUP_CLICK_WEBHOOK_DELIVERIES,
        "schedule": crontab(minute=23, hour=3),
    },
    # Drop click dedupe keys past CLICK_DEDUPE_HORIZON_DAYS (one DELETE; a scan of the key table).
    "link-tracking-prune-click-event-keys": {
        "task": dispatch.PRUNE_CLICK_EVENT_KEYS,
        "schedule": crontab(minute=29, hour=3),
    },
    # Trim the outbox: COMPLETE after 7 days, FAILED after 30.
    "link-tracking-cleanup-old-outbox-entries": {
        "task": dispatch.CLEANUP_OLD_OUTBOX_ENTRIES,
        "schedule": crontab(minute=17, hour=3),
    },
    # CSV import jobs whose worker died or whose message was lost (IMPORT_JOB_STUCK_AFTER_SECONDS).
    "link-tracking-resume-link-imports": {
        "task": dispatch.RESUME_LINK_IMPORTS,
        "schedule": 60.0,
    },
    # Import jobs finished more than IMPORT_JOB_RETENTION_DAYS ago, and their stored files.
    "link-tracking-cleanup-link-imports": {
        "task": dispatch.CLEANUP_LINK_IMPORTS,
        "schedule": crontab(minute=29, hour=3),
    },
    # Domain ownership: look for the TXT record of every unverified claim; release lapsed ones.
    "link-tracking-verify-pending-domains": {
        "task": dispatch.VERIFY_PENDING_DOMAINS,
        "schedule": 600.0,
    },
    "link-tracking-expire-domain-claims": {
        "task": dispatch.EXPIRE_DOMAIN_CLAIMS,
        "schedule": crontab(minute=23),
    },
}

#: Off by default (a drift check reads every record): merge it in to enable, e.g.
#: ``CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE, **RECONCILE_SCHEDULE}``.
RECONCILE_SCHEDULE: dict[str, dict[str, Any]] = {
    "link-tracking-reconcile-runtime": {
        "task": dispatch.RECONCILE_RUNTIME,
        "schedule": crontab(minute=41, hour="*/6"),
    },
}

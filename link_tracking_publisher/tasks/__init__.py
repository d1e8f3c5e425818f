"""Celery tasks of the control plane (``link_tracking.tasks.publisher_tasks`` in the spec)."""

from .click_tasks import (
    cleanup_click_webhook_deliveries,
    deliver_click_webhooks,
    ingest_click_events,
    prune_click_event_keys,
)
from .domain_tasks import expire_domain_claims_task, verify_domain_task, verify_pending_domains
from .import_tasks import cleanup_link_imports, resume_link_imports, run_link_import_task
from .privacy_tasks import process_privacy_request_task
from .publisher_tasks import (
    BEAT_SCHEDULE,
    cleanup_old_outbox_entries,
    publish_app_links_task,
    publish_link_task,
    publish_outbox_metrics,
    publish_outbox_task,
    reconcile_runtime_task,
    republish_all_links_task,
    republish_campaign_task,
    republish_domain_task,
    republish_link_campaign_task,
    retry_pending_outbox,
)

__all__ = [
    "BEAT_SCHEDULE",
    "cleanup_click_webhook_deliveries",
    "cleanup_link_imports",
    "cleanup_old_outbox_entries",
    "expire_domain_claims_task",
    "deliver_click_webhooks",
    "ingest_click_events",
    "process_privacy_request_task",
    "prune_click_event_keys",
    "publish_app_links_task",
    "publish_link_task",
    "publish_outbox_metrics",
    "publish_outbox_task",
    "reconcile_runtime_task",
    "republish_all_links_task",
    "republish_campaign_task",
    "republish_domain_task",
    "republish_link_campaign_task",
    "resume_link_imports",
    "retry_pending_outbox",
    "run_link_import_task",
    "verify_domain_task",
    "verify_pending_domains",
]

"""Sending Celery tasks after commit, by name.

The service layer records work in the database (a :class:`~.models.PublishOutbox` row, a
:class:`~.models.PrivacyRequest`, a click webhook delivery, an import job) and then asks for it
to be done now. It names the task rather than importing it, so ``services/``, ``clicks/``, the
API and the admin never depend on ``tasks/`` (the tasks call the services, not the other way
round; ``tests/test_layering.py`` checks it). Every task's name is declared here once
(:data:`TASK_NAMES`), and the tasks and the beat schedule use these constants.

A send looks the name up in the Celery app's task registry (the app registers the tasks when
Django starts, :meth:`~.apps.LinkTrackingConfig.ready`) and sends it with the task's own
options, so ``task_always_eager`` and routing apply as they do to ``task.delay()``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

__all__ = [
    "CLEANUP_CLICK_WEBHOOK_DELIVERIES",
    "CLEANUP_LINK_IMPORTS",
    "CLEANUP_OLD_OUTBOX_ENTRIES",
    "DELIVER_CLICK_WEBHOOKS",
    "EXPIRE_DOMAIN_CLAIMS",
    "INGEST_CLICK_EVENTS",
    "PROCESS_PRIVACY_REQUEST",
    "PRUNE_CLICK_EVENT_KEYS",
    "PUBLISH_APP_LINKS",
    "PUBLISH_LINK",
    "PUBLISH_OUTBOX",
    "PUBLISH_OUTBOX_METRICS",
    "RECONCILE_RUNTIME",
    "REPUBLISH_ALL_LINKS",
    "REPUBLISH_CAMPAIGN",
    "REPUBLISH_DOMAIN",
    "REPUBLISH_LINK_CAMPAIGN",
    "RESUME_LINK_IMPORTS",
    "RETRY_PENDING_OUTBOX",
    "RUN_LINK_IMPORT",
    "TASK_NAMES",
    "VERIFY_DOMAIN",
    "VERIFY_PENDING_DOMAINS",
    "enqueue_on_commit",
]

logger = logging.getLogger(__name__)

#: Publish one link's current state and record the outcome on its outbox row.
PUBLISH_LINK = "link_tracking.publish_link"
#: Publish one domain's app-links record and record the outcome on its outbox row.
PUBLISH_APP_LINKS = "link_tracking.publish_app_links"
#: Publish the links of a batch of outbox rows through the bulk path.
PUBLISH_OUTBOX = "link_tracking.publish_outbox"
#: Republish every link of one CRM campaign.
REPUBLISH_CAMPAIGN = "link_tracking.republish_campaign"
#: Republish every link of one link campaign.
REPUBLISH_LINK_CAMPAIGN = "link_tracking.republish_link_campaign"
#: Republish every link on one domain.
REPUBLISH_DOMAIN = "link_tracking.republish_domain"
#: Republish every link.
REPUBLISH_ALL_LINKS = "link_tracking.republish_all_links"
#: Send again the outbox rows stuck pending or processing (beat).
RETRY_PENDING_OUTBOX = "link_tracking.retry_pending_outbox"
#: Compare the runtime's records with the database and repair drift (beat, opt-in).
RECONCILE_RUNTIME = "link_tracking.reconcile_runtime"
#: Send the outbox backlog to CloudWatch (beat).
PUBLISH_OUTBOX_METRICS = "link_tracking.publish_outbox_metrics"
#: Delete finished outbox rows past their retention (beat).
CLEANUP_OLD_OUTBOX_ENTRIES = "link_tracking.cleanup_old_outbox_entries"
#: Look for one domain's ownership TXT record now.
VERIFY_DOMAIN = "link_tracking.verify_domain"
#: Look for the TXT record of every unverified claim (beat).
VERIFY_PENDING_DOMAINS = "link_tracking.verify_pending_domains"
#: Release unverified claims past ``DOMAIN_CLAIM_TTL_SECONDS`` (beat).
EXPIRE_DOMAIN_CLAIMS = "link_tracking.expire_domain_claims"
#: Run one CSV import job to its end.
RUN_LINK_IMPORT = "link_tracking.run_link_import"
#: Send again the import jobs without progress (beat).
RESUME_LINK_IMPORTS = "link_tracking.resume_link_imports"
#: Delete import jobs past ``IMPORT_JOB_RETENTION_DAYS`` (beat).
CLEANUP_LINK_IMPORTS = "link_tracking.cleanup_link_imports"
#: Run the configured processor on one privacy request.
PROCESS_PRIVACY_REQUEST = "link_tracking.process_privacy_request"
#: Count the click events that are new (beat).
INGEST_CLICK_EVENTS = "link_tracking.ingest_click_events"
#: Delete click dedupe keys past ``CLICK_DEDUPE_HORIZON_DAYS`` (beat).
PRUNE_CLICK_EVENT_KEYS = "link_tracking.prune_click_event_keys"
#: Send the click webhook deliveries that are due.
DELIVER_CLICK_WEBHOOKS = "link_tracking.deliver_click_webhooks"
#: Delete click webhook deliveries past their retention (beat).
CLEANUP_CLICK_WEBHOOK_DELIVERIES = "link_tracking.cleanup_click_webhook_deliveries"

#: Every task the app registers, by name (``tests/test_dispatch.py`` holds the registry to it).
TASK_NAMES = frozenset(
    {
        PUBLISH_LINK,
        PUBLISH_APP_LINKS,
        PUBLISH_OUTBOX,
        REPUBLISH_CAMPAIGN,
        REPUBLISH_LINK_CAMPAIGN,
        REPUBLISH_DOMAIN,
        REPUBLISH_ALL_LINKS,
        RETRY_PENDING_OUTBOX,
        RECONCILE_RUNTIME,
        PUBLISH_OUTBOX_METRICS,
        CLEANUP_OLD_OUTBOX_ENTRIES,
        VERIFY_DOMAIN,
        VERIFY_PENDING_DOMAINS,
        EXPIRE_DOMAIN_CLAIMS,
        RUN_LINK_IMPORT,
        RESUME_LINK_IMPORTS,
        CLEANUP_LINK_IMPORTS,
        PROCESS_PRIVACY_REQUEST,
        INGEST_CLICK_EVENTS,
        PRUNE_CLICK_EVENT_KEYS,
        DELIVER_CLICK_WEBHOOKS,
        CLEANUP_CLICK_WEBHOOK_DELIVERIES,
    }
)


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """Send ``task`` (a task name, or a task) with ``args`` after the current transaction
    commits (nothing on rollback).

    A broker that is down at that moment must not turn a committed change into an error: the
    change and its durable record are safe in the database (an outbox row is re-sent by the
    ``retry_pending_outbox`` sweeper), so a failed send is logged, not raised.
    """
    name: str = task if isinstance(task, str) else task.name

    def send() -> None:
        try:
            current_app.tasks[name].delay(*args)
        except Exception as exc:
            logger.warning(
                "could not enqueue %s%r (%s: %s); the work stays recorded in the database, for "
                "the outbox sweeper (or an operator's retry) to send again",
                name,
                args,
                type(exc).__name__,
                exc,
            )

    transaction.on_commit(send, robust=True)

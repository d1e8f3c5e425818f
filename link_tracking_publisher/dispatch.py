"""Sending Celery tasks after commit, by name.

The service layer records work in the database (a :class:`~.models.PublishOutbox` row, a
:class:`~.models.PrivacyRequest`) and then asks for it to be done now. It names the task
rather than importing it, so ``services/`` never depends on ``tasks/`` (the tasks call the
services, not the other way round; ``tests/test_layering.py`` checks it). The names are
declared here once and the tasks are registered under them.

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
    "DELIVER_CLICK_WEBHOOKS",
    "PROCESS_PRIVACY_REQUEST",
    "PUBLISH_APP_LINKS",
    "PUBLISH_LINK",
    "PUBLISH_OUTBOX",
    "enqueue_on_commit",
]

logger = logging.getLogger(__name__)

#: Publish one link's current state and record the outcome on its outbox row.
PUBLISH_LINK = "link_tracking.publish_link"
#: Publish one domain's app-links record and record the outcome on its outbox row.
PUBLISH_APP_LINKS = "link_tracking.publish_app_links"
#: Publish the links of a batch of outbox rows through the bulk path.
PUBLISH_OUTBOX = "link_tracking.publish_outbox"
#: Run the configured processor on one privacy request.
PROCESS_PRIVACY_REQUEST = "link_tracking.process_privacy_request"
#: Send the click webhook deliveries that are due.
DELIVER_CLICK_WEBHOOKS = "link_tracking.deliver_click_webhooks"


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

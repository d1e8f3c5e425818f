"""Click webhooks switched off and on again: what the admin action and the API share.

A webhook is switched off by the delivery worker after ``WEBHOOK_DISABLE_AFTER_FAILURES``
consecutive failed deliveries (:mod:`..clicks.webhooks`); its deliveries are held meanwhile.
:func:`enable_webhook` switches it on again (the admin's "Switch on again" action,
``POST webhooks/{id}/enable/``) and replays what was held.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..clicks.webhooks import replay_held_deliveries
from ..models import ClickWebhook
from .audit import log_change

__all__ = ["ENABLED_MESSAGE", "enable_webhook"]

logger = logging.getLogger(__name__)

#: The admin log's change message of a webhook switched on again.
ENABLED_MESSAGE = "Switched on again; its held deliveries replayed."


def enable_webhook(webhook: ClickWebhook, *, actor: Any) -> int:
    """Switch ``webhook`` on again: its failure count, ``disabled_at`` and
    ``disabled_reason`` cleared, recorded by ``actor`` in the audit trail, and its held
    deliveries sent from their first attempt (after commit). Returns how many were replayed;
    a webhook that is not switched off is left as it is (0). ``webhook`` is refreshed."""
    with transaction.atomic():
        switched_on = ClickWebhook.objects.filter(pk=webhook.pk, disabled_at__isnull=False).update(
            consecutive_failures=0, disabled_at=None, disabled_reason="", updated_at=timezone.now()
        )
        replayed = replay_held_deliveries(webhook) if switched_on else 0
        if switched_on:
            log_change(webhook, actor, ENABLED_MESSAGE)
    webhook.refresh_from_db()
    if switched_on:
        logger.info(
            "click webhook %s switched on again by %s: %d held deliveries replayed",
            webhook.url,
            getattr(actor, "get_username", lambda: str(actor))(),
            replayed,
        )
    return replayed

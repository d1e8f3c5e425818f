"""Click webhooks: signed HTTPS POSTs from the :class:`~..models.ClickWebhookDelivery` outbox.

Signing follows the Standard Webhooks scheme (standardwebhooks.com), so receivers can verify
with its libraries or a few lines of code. Each POST carries:

- ``webhook-id``: the click's ``event_id`` (the same on every retry: deduplicate on it);
- ``webhook-timestamp``: Unix seconds when this attempt was signed (reject if too old);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``, where
  the key is the base64-decoded part of the secret after ``whsec_``.

Delivery: 2xx is delivered; anything else (a redirect is not followed), a timeout or a
connection error is retried with exponential backoff, up to ``CLICK_WEBHOOK_MAX_ATTEMPTS``
attempts, then the delivery is FAILED with the reason. A delivery is claimed (PENDING →
SENDING) by one conditional UPDATE, so two workers never send the same one; a worker killed
mid-request leaves it SENDING, and it is sent again after ``CLICK_WEBHOOK_STUCK_AFTER_SECONDS``
with the same ``webhook-id``.

A CANCELLED delivery (an erasure request reached it, docs/PRIVACY.md) is never claimed, sent
or retried: the sweeper selects PENDING and SENDING rows only, and :func:`retry_deliveries`
refuses it with :data:`CANCELLED_REASON`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import dispatch
from ..conf import app_settings
from ..dispatch import enqueue_on_commit
from ..models import ClickWebhookDelivery

logger = logging.getLogger(__name__)

__all__ = [
    "CANCELLED_REASON",
    "RetryOutcome",
    "deliver_due",
    "new_secret",
    "retry_deliveries",
    "send_delivery",
    "sign",
    "verify",
]

SECRET_PREFIX = "whsec_"
Status = ClickWebhookDelivery.Status

#: Why a cancelled delivery is not sent again (the API's 409, the admin's message).
CANCELLED_REASON = "This delivery was cancelled by an erasure request: it is never sent or retried."


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str, headers: Any, body: bytes, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (documented; used by the tests): the timestamp is recent and one
    of the space-separated signatures matches."""
    try:
        message_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    current = now if now is not None else datetime.now(UTC).timestamp()
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, message_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split()
    )


def backoff(attempts: int) -> timedelta:
    base = app_settings.CLICK_WEBHOOK_BACKOFF_SECONDS
    return timedelta(
        seconds=min(app_settings.CLICK_WEBHOOK_BACKOFF_MAX_SECONDS, base * 2 ** (attempts - 1))
    )


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    stuck = now - timedelta(seconds=app_settings.CLICK_WEBHOOK_STUCK_AFTER_SECONDS)
    return bool(
        ClickWebhookDelivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.SENDING, updated_at__lte=stuck)
        )
        .update(status=Status.SENDING, updated_at=now)
    )


def send_delivery(delivery: ClickWebhookDelivery, client: httpx.Client) -> str:
    """One attempt at one claimed delivery; returns its new status."""
    webhook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "link-tracking-webhooks/1",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(webhook.secret, delivery.event_id, timestamp, body),
    }
    code: int | None = None
    try:
        response = client.post(webhook.url, content=body, headers=headers)
        code = response.status_code
        error = "" if 200 <= code < 300 else f"HTTP {code}"
        if response.is_redirect:
            error += f" redirect to {response.headers.get('location', '?')[:200]} (not followed)"
    except httpx.TimeoutException as exc:
        error = f"timeout: {type(exc).__name__}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = delivery.attempts + 1
    now = timezone.now()
    changes: dict[str, Any] = {"attempts": attempts, "last_status_code": code, "updated_at": now}
    if not error:
        changes.update(status=Status.DELIVERED, delivered_at=now, last_error="")
    elif attempts >= app_settings.CLICK_WEBHOOK_MAX_ATTEMPTS:
        changes.update(
            status=Status.FAILED, last_error=f"gave up after {attempts} attempts: {error}"
        )
    else:
        changes.update(
            status=Status.PENDING, last_error=error, next_attempt_at=now + backoff(attempts)
        )
    ClickWebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(**changes)
    if error:
        logger.info("click webhook %s: attempt %d failed: %s", webhook.url, attempts, error)
    return str(changes["status"])


def deliver_due(
    *, transport: httpx.BaseTransport | None = None, limit: int | None = None
) -> dict[str, int]:
    """Send every delivery that is due (at most ``limit``); returns counts by new status.
    ``transport`` is the seam the tests use (an ``httpx.MockTransport``)."""
    now = timezone.now()
    stuck = now - timedelta(seconds=app_settings.CLICK_WEBHOOK_STUCK_AFTER_SECONDS)
    due = list(
        ClickWebhookDelivery.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.SENDING, updated_at__lte=stuck),
            webhook__active=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[: limit or app_settings.CLICK_WEBHOOK_BATCH_SIZE]
    )
    counts: dict[str, int] = {}
    timeout = httpx.Timeout(app_settings.CLICK_WEBHOOK_TIMEOUT_SECONDS)
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False) as client:
        for pk in due:
            if not _claim(pk):
                continue  # another worker has it
            delivery = ClickWebhookDelivery.objects.select_related("webhook").get(pk=pk)
            status = send_delivery(delivery, client)
            counts[status] = counts.get(status, 0) + 1
    return counts


@dataclasses.dataclass(frozen=True)
class RetryOutcome:
    """What :func:`retry_deliveries` did: ``queued`` failed deliveries made due again,
    ``cancelled`` ones refused (:data:`CANCELLED_REASON`), ``other`` ones left alone (not
    failed: pending, sending or delivered)."""

    queued: int
    cancelled: int
    other: int


def retry_deliveries(deliveries: QuerySet[ClickWebhookDelivery]) -> RetryOutcome:
    """Send FAILED deliveries again from their first attempt (the API's and the admin's retry);
    the send task is enqueued after commit. Cancelled deliveries are never retried."""
    now = timezone.now()
    selected = deliveries.count()
    cancelled = deliveries.filter(status=Status.CANCELLED).count()
    queued = deliveries.filter(status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )
    if queued:
        enqueue_on_commit(dispatch.DELIVER_CLICK_WEBHOOKS)
    return RetryOutcome(queued=queued, cancelled=cancelled, other=selected - queued - cancelled)

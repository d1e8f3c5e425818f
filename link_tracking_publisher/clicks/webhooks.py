"""Click webhooks: signed HTTPS POSTs from the :class:`~..models.ClickWebhookDelivery` outbox.

Signing follows the Standard Webhooks scheme (standardwebhooks.com), so receivers can verify
with its libraries or a few lines of code. Each POST carries:

- ``webhook-id``: the click's ``event_id`` (the same on every retry: deduplicate on it);
- ``webhook-timestamp``: Unix seconds when this attempt was signed (reject if too old);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``, where
  the key is the base64-decoded part of the secret after ``whsec_``. For
  ``CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS`` after a rotation the header carries two
  space-separated signatures, by the new secret and by the previous one, so a receiver still
  holding the previous secret keeps verifying while it switches.

A secret is shown once, when it is made (:func:`new_secret`, :func:`rotate_secret`); the API
and the admin show only its :func:`secret_hint` afterwards.

Before each attempt the URL's host name is resolved (``CLICK_WEBHOOK_RESOLVER``) and the
attempt refused when any address is private, loopback or link-local
(:func:`~..validators.is_internal_address`, the URL validator's rule): a name that pointed at a
public address when the webhook was saved may not any more. The attempt then connects to the
address that was checked, with the URL's host name in ``Host`` and TLS's SNI (so the
certificate is still checked against the name), never to whatever a second lookup answers. ``CLICK_WEBHOOK_ALLOW_HTTP`` (a
local receiver in development) lifts this as it lifts the validator's host rule.

Delivery: 2xx is delivered; anything else (a redirect is not followed), a timeout or a
connection error is retried with exponential backoff, up to ``CLICK_WEBHOOK_MAX_ATTEMPTS``
attempts, then the delivery is FAILED with the reason. A delivery is claimed (PENDING →
SENDING) by one conditional UPDATE, so two workers never send the same one; a worker killed
mid-request leaves it SENDING, and it is sent again after ``CLICK_WEBHOOK_STUCK_AFTER_SECONDS``
with the same ``webhook-id``.

Switching off: a delivery given up (FAILED) counts one more consecutive failure on its webhook
(an atomic ``F()`` increment), a delivered one resets the count. At
``WEBHOOK_DISABLE_AFTER_FAILURES`` the webhook is switched off (``disabled_at``, and
``disabled_reason``: the count and the last error) and :data:`~..signals.webhook_disabled` is
sent, once. A switched-off webhook's deliveries are held: never claimed, kept PENDING (new
clicks still add theirs), until :func:`~..services.webhooks.enable_webhook` switches it on
and :func:`replay_held_deliveries` makes them due again.

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
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import dispatch, outbox
from ..conf import app_settings
from ..dispatch import enqueue_on_commit
from ..models import ClickWebhook, ClickWebhookDelivery
from ..signals import webhook_disabled
from ..validators import is_internal_address

logger = logging.getLogger(__name__)

__all__ = [
    "CANCELLED_REASON",
    "DestinationRefused",
    "RetryOutcome",
    "delete_expired_deliveries",
    "deliver_due",
    "new_secret",
    "replay_held_deliveries",
    "resolve_host",
    "retry_deliveries",
    "rotate_secret",
    "secret_hint",
    "send_delivery",
    "sign",
    "signature_header",
    "signing_secrets",
    "verify",
]

SECRET_PREFIX = "whsec_"
Status = ClickWebhookDelivery.Status

#: Why a cancelled delivery is not sent again (the API's 409, the admin's message).
CANCELLED_REASON = "This delivery was cancelled by an erasure request: it is never sent or retried."


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_hint(secret: str) -> str:
    """What may be shown of a secret after it was made: enough to tell two apart."""
    return f"{SECRET_PREFIX}…{secret.rstrip('=')[-4:]}" if secret else ""


def rotate_secret(webhook: ClickWebhook) -> str:
    """Give ``webhook`` a new secret and return it; the one it replaces keeps signing too for
    ``CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS``."""
    overlap = timedelta(seconds=app_settings.CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS)
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = timezone.now() + overlap
    webhook.secret = new_secret()
    webhook.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return webhook.secret


def signing_secrets(webhook: ClickWebhook, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while its overlap lasts."""
    now = now or timezone.now()
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and now < expires:
        return [webhook.secret, webhook.previous_secret]
    return [webhook.secret]


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


class DestinationRefused(Exception):
    """A webhook's host resolves to an address webhooks are never sent to."""


Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the default ``CLICK_WEBHOOK_RESOLVER``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_destination(url: str) -> str | None:
    """The address to send to: the first the URL's host resolves to now, or ``None`` to leave
    resolving to the HTTP client (``CLICK_WEBHOOK_ALLOW_HTTP``, or a name that resolves to
    nothing, which then fails to connect). Refuses (:class:`DestinationRefused`) a host any of
    whose addresses is private, loopback or link-local."""
    if app_settings.CLICK_WEBHOOK_ALLOW_HTTP:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    resolver: Resolver = app_settings.imported("CLICK_WEBHOOK_RESOLVER")
    try:
        addresses = [host] if is_internal_address(host) else resolver(host, parts.port or 443)
    except OSError:
        return None
    internal = [address for address in addresses if is_internal_address(address)]
    if internal:
        raise DestinationRefused(f"{host} resolves to {internal[0]}, a private address")
    return addresses[0] if addresses else None


def _pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request to ``url`` sent to ``address``, the one just checked: so a name cannot
    resolve to another address between the check and the connection (DNS rebinding). The
    ``Host`` header and TLS (SNI and the certificate's name) keep the URL's host name."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc += f":{parts.port}"
    host = parts.netloc.rsplit("@", 1)[-1]
    return (
        parts._replace(netloc=netloc).geturl(),
        {"host": host},
        {"sni_hostname": parts.hostname or ""},
    )


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
        ClickWebhookDelivery.objects.filter(pk=delivery_id, webhook__disabled_at__isnull=True)
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
        "webhook-signature": signature_header(
            signing_secrets(webhook), delivery.event_id, timestamp, body
        ),
    }
    code: int | None = None
    try:
        url, host, extensions = _pinned(webhook.url, check_destination(webhook.url))
        response = client.post(
            url, content=body, headers={**headers, **host}, extensions=extensions
        )
        code = response.status_code
        error = "" if 200 <= code < 300 else f"HTTP {code}"
        if response.is_redirect:
            error += f" redirect to {response.headers.get('location', '?')[:200]} (not followed)"
    except httpx.TimeoutException as exc:
        error = f"timeout: {type(exc).__name__}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    except DestinationRefused as exc:
        error = f"refused: {exc}"[:500]
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
    recorded = ClickWebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        **changes
    )
    if error:
        logger.info("click webhook %s: attempt %d failed: %s", webhook.url, attempts, error)
    if recorded and changes["status"] == Status.DELIVERED:
        _count_success(webhook)
    elif recorded and changes["status"] == Status.FAILED:
        _count_failure(webhook, changes["last_error"])
    return str(changes["status"])


def _count_success(webhook: ClickWebhook) -> None:
    # Conditional: a healthy endpoint's deliveries write nothing more.
    ClickWebhook.objects.filter(pk=webhook.pk, consecutive_failures__gt=0).update(
        consecutive_failures=0
    )


def _count_failure(webhook: ClickWebhook, error: str) -> None:
    """Count a delivery given up; at ``WEBHOOK_DISABLE_AFTER_FAILURES`` in a row, switch the
    endpoint off and send :data:`~..signals.webhook_disabled`, once: only the UPDATE that
    finds it still on switches it off, however many workers fail at once."""
    hooks = ClickWebhook.objects.filter(pk=webhook.pk)
    hooks.update(consecutive_failures=F("consecutive_failures") + 1)
    failures = hooks.values_list("consecutive_failures", flat=True).first() or 0
    if failures < app_settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        return
    now = timezone.now()
    reason = f"Switched off after {failures} consecutive failed deliveries; the last: {error}"
    if not hooks.filter(disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason, updated_at=now
    ):
        return  # switched off already: told then
    webhook.refresh_from_db()
    logger.warning("click webhook %s switched off: %s", webhook.url, reason)
    for receiver, result in webhook_disabled.send_robust(
        ClickWebhook, webhook=webhook, reason=reason
    ):
        if isinstance(result, Exception):
            logger.error("webhook_disabled receiver %r raised", receiver, exc_info=result)


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
            webhook__disabled_at__isnull=True,  # held while switched off
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


def replay_held_deliveries(webhook: ClickWebhook) -> int:
    """Make ``webhook``'s held (pending) deliveries due now, from their first attempt, and
    enqueue the send task after commit; returns how many. One left sending (its worker died)
    is sent again by the stuck rule; failed and cancelled ones are left alone
    (:func:`retry_deliveries` sends a failed one again)."""
    now = timezone.now()
    replayed = ClickWebhookDelivery.objects.filter(webhook=webhook, status=Status.PENDING).update(
        attempts=0, next_attempt_at=now, updated_at=now
    )
    if replayed:
        enqueue_on_commit(dispatch.DELIVER_CLICK_WEBHOOKS)
    return replayed


def delete_expired_deliveries() -> dict[str, int]:
    """Trim the click webhook outbox as the publish outbox is trimmed
    (:func:`~..outbox.delete_past_retention`): delivered rows after
    ``OUTBOX_COMPLETED_RETENTION_DAYS``, failed and cancelled ones (their payloads redacted by
    an erasure) after ``OUTBOX_FAILED_RETENTION_DAYS``."""
    delivered, failed = outbox.delete_past_retention(
        ClickWebhookDelivery,
        done=Status.DELIVERED,
        done_at="updated_at",
        failed=[Status.FAILED, Status.CANCELLED],
    )
    return {"delivered": delivered, "failed": failed}

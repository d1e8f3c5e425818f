"""Domain ownership tasks (see :mod:`link_tracking_publisher.services.domains`)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.utils import timezone

from .. import dispatch
from ..models import Domain
from ..services.domains import DnsLookupError, check_domain_ownership, expire_domain_claims

__all__ = ["expire_domain_claims_task", "verify_domain_task", "verify_pending_domains"]

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name=dispatch.VERIFY_DOMAIN,
    acks_late=True,
    autoretry_for=(DnsLookupError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def verify_domain_task(self: Any, domain_pk: str) -> bool:
    """Look for one domain's ownership TXT record now; returns whether it is verified."""
    return check_domain_ownership(domain_pk)


@shared_task(name=dispatch.VERIFY_PENDING_DOMAINS, acks_late=True)
def verify_pending_domains() -> dict[str, int]:
    """Check every unverified claim that has not lapsed (beat, every few minutes)."""
    counts = {"checked": 0, "verified": 0, "errors": 0}
    pending = Domain.objects.filter(verified_at__isnull=True).values_list("pk", flat=True)
    for pk in pending:
        counts["checked"] += 1
        try:
            counts["verified"] += check_domain_ownership(pk)
        except DnsLookupError as exc:
            counts["errors"] += 1
            logger.warning("DNS lookup for domain %s failed: %s", pk, exc)
    return counts


@shared_task(name=dispatch.EXPIRE_DOMAIN_CLAIMS, acks_late=True)
def expire_domain_claims_task() -> int:
    """Release unverified claims older than ``DOMAIN_CLAIM_TTL_SECONDS``."""
    return expire_domain_claims(now=timezone.now())

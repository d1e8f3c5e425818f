"""Lapsed domain claims: a domain left unverified for ``DOMAIN_CLAIM_TTL_SECONDS`` is released
(deleted, with its never-published links), so nobody can hold a name hostage.

Apart from :mod:`.domains` (which re-exports both functions): it needs only the models, and
claiming a domain (:func:`.domains.create_domain`) releases a lapsed claim on the same name
first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..conf import app_settings
from ..models import Domain, Link

__all__ = ["expire_domain_claims", "release_lapsed_claim"]

logger = logging.getLogger(__name__)


def _lapsed(now: datetime) -> Any:
    cutoff = now - timedelta(seconds=app_settings.DOMAIN_CLAIM_TTL_SECONDS)
    return Domain.objects.filter(verified_at__isnull=True, created_at__lte=cutoff)


def _delete_claims(domains: Any) -> int:
    count = 0
    for domain in domains.select_for_update():
        # Links on an unverified domain were never published: nothing to remove from DynamoDB.
        Link.objects.filter(domain=domain).delete()
        domain.delete()
        logger.info("unverified claim on %s lapsed and was released", domain.domain_name)
        count += 1
    return count


def expire_domain_claims(*, now: datetime | None = None) -> int:
    """Delete domains left unverified longer than ``DOMAIN_CLAIM_TTL_SECONDS``, with their
    links. Returns how many claims were released."""
    with transaction.atomic():
        return _delete_claims(_lapsed(now or timezone.now()))


def release_lapsed_claim(domain_name: str) -> bool:
    """Release a lapsed unverified claim on ``domain_name`` (before a new claim on the name)."""
    with transaction.atomic():
        return bool(_delete_claims(_lapsed(timezone.now()).filter(domain_name=domain_name)))

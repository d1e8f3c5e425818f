"""Domain ownership: a domain publishes links only once its owner has proved control of it.

A new domain is ``pending``. Its owner adds a DNS TXT record
``<DOMAIN_VERIFICATION_RECORD_PREFIX>.<domain_name>`` whose value is
``link-tracking-verification=<token>`` (the API and the admin show both);
:func:`check_domain_ownership` (the Celery task ``link_tracking.verify_domain``, the beat task
``link_tracking.verify_pending_domains`` and ``POST domains/{id}/verify/``) looks it up and,
when found, marks the domain verified and publishes its links. Staff may verify by hand
(:func:`verify_domain_by_hand`: the admin action, ``manage.py verify_domain NAME --by-hand
--by USERNAME``), which records who did it, on the domain and in the admin's log.

Links on an unverified domain are **not published at all**: their outbox rows are parked
``waiting_for_domain`` (not complete, with the reason shown in the API and the admin), and
nothing about a name the tenant has not proved reaches DynamoDB. Verifying the domain, by any
path, sends the parked rows after commit (:func:`~.publishing.publish_waiting_entries`). A claim
left unverified for ``DOMAIN_CLAIM_TTL_SECONDS`` lapses: :func:`expire_domain_claims` deletes
the domain and its (never published) links, and a new claim on the same name releases a lapsed
one at once, so nobody can hold a name hostage.

DNS is reached through one seam, ``LINK_TRACKING['DOMAIN_VERIFICATION_RESOLVER']``: a callable
taking a DNS name and returning its TXT strings (:func:`dns_txt_records`, dnspython, by
default), which the tests replace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import dispatch
from ..conf import app_settings
from ..errors import LinkTrackingError
from ..models import Domain
from .api_keys import acting_user
from .audit import log_change
from .domain_claims import expire_domain_claims, release_lapsed_claim
from .publishing import new_app_links_version, publish_waiting_entries, republish_links_on_commit

__all__ = [
    "BY_HAND_MESSAGE",
    "create_domain",
    "update_domain",
    "DnsLookupError",
    "TxtResolver",
    "check_domain_ownership",
    "dns_txt_records",
    "expire_domain_claims",
    "get_resolver",
    "release_lapsed_claim",
    "request_ownership_check",
    "verify_domain_by_hand",
]

logger = logging.getLogger(__name__)

#: A DNS name → the strings of its TXT records (empty when there are none).
TxtResolver = Callable[[str], list[str]]


class DnsLookupError(LinkTrackingError):
    """The DNS could not be asked (timeout, no nameserver answered): try again later."""


def dns_txt_records(name: str) -> list[str]:
    """The TXT strings at ``name``, through the system's resolvers (dnspython). A name without
    TXT records, or that does not exist, has none; a lookup that could not be made raises
    :class:`DnsLookupError`."""
    # Imported here: dnspython takes about 0.1 s to import, and only a DNS check needs it.
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver()
    resolver.lifetime = float(app_settings.DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS)
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"{type(exc).__name__}: {exc}") from exc
    # A TXT record is one or more character strings; a long value is split across them.
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def get_resolver() -> TxtResolver:
    """The configured TXT resolver."""
    resolver: TxtResolver = app_settings.imported("DOMAIN_VERIFICATION_RESOLVER")
    return resolver


def _publish_links(domain: Domain) -> None:
    publish_waiting_entries(domain)


def _mark_verified(domain: Domain, method: str, user: Any, now: datetime) -> None:
    domain.verified_at = now
    domain.verification_method = method
    domain.verified_by = acting_user(user)
    domain.verification_error = ""
    if domain.status == Domain.Status.PENDING:
        domain.status = Domain.Status.ACTIVE
    domain.save()
    _publish_links(domain)


def check_domain_ownership(domain_pk: Any, *, resolver: TxtResolver | None = None) -> bool:
    """Look for the domain's TXT record; when it is there, mark the domain verified and publish
    its links. Returns whether the domain is verified. A lapsed claim is not checked (it is
    about to be released). :class:`DnsLookupError` propagates (the task retries it)."""
    domain = Domain.objects.filter(pk=domain_pk).first()
    if domain is None:
        return False
    if domain.is_verified:
        return True
    now = timezone.now()
    expires = domain.claim_expires_at
    if expires is not None and expires <= now:
        return False
    records = (resolver or get_resolver())(domain.verification_record_name)
    found = domain.verification_record_value in (r.strip().strip('"') for r in records)
    with transaction.atomic():
        current = Domain.objects.select_for_update().get(pk=domain.pk)
        if current.is_verified:
            return True
        current.verification_checked_at = now
        if found:
            _mark_verified(current, Domain.VerificationMethod.DNS, None, now)
            logger.info("domain %s verified by DNS", current.domain_name)
            return True
        current.verification_error = (
            f"No TXT record {current.verification_record_name} with the value "
            f"{current.verification_record_value} was found."
        )
        current.save(update_fields=["verification_checked_at", "verification_error", "updated_at"])
    return False


#: The admin log's change message of a verification by hand (the audit trail of who vouched).
BY_HAND_MESSAGE = "Verified ownership by hand."


def verify_domain_by_hand(domain: Domain, *, user: Any) -> Domain:
    """Staff vouch for the domain's owner: verified now, by ``user`` (recorded on the row and
    in the admin's log, :data:`BY_HAND_MESSAGE`). Its links are published after commit. A
    domain verified already is left as it is."""
    with transaction.atomic():
        current = Domain.objects.select_for_update().get(pk=domain.pk)
        if not current.is_verified:
            _mark_verified(current, Domain.VerificationMethod.MANUAL, user, timezone.now())
            log_change(current, user, BY_HAND_MESSAGE)
            logger.info(
                "domain %s verified by hand by %s",
                current.domain_name,
                getattr(user, "get_username", lambda: "?")(),
            )
    return current


def request_ownership_check(domain: Domain) -> bool:
    """Ask for a look at ``domain``'s TXT record now (``link_tracking.verify_domain``, sent
    after commit), as the admin action and ``POST domains/{id}/verify/`` do. A domain verified
    already needs none: returns whether a check was asked for."""
    if domain.is_verified:
        return False
    dispatch.enqueue_on_commit(dispatch.VERIFY_DOMAIN, str(domain.pk))
    return True


def create_domain(*, user: Any = None, **fields: Any) -> Domain:
    """Claim a short-link domain: it is ``pending`` until its owner proves control of the name
    (this module). A lapsed unverified claim on the same name is released first."""
    if fields.get("domain_name"):
        release_lapsed_claim(fields["domain_name"])
    domain = Domain(**fields)
    domain.full_clean()
    with transaction.atomic():
        domain.save(force_insert=True)
        if domain.has_app_links:
            new_app_links_version(domain)
    return domain


def update_domain(domain: Any, *, user: Any = None, **changes: Any) -> Any:
    """Change a domain; when whether it serves links changes (``active``, or ``status`` set by
    staff) or its ``message_keyring`` does, every link on it is republished (a record is active
    only while both its link and its domain are, and carries the domain's message keyring),
    with :func:`republish_links_on_commit`. When its app-link documents change, or its serving
    state does while it has app links, its app-links record is published under a new
    version."""
    with transaction.atomic():
        current = Domain.objects.select_for_update().get(pk=domain.pk)
        was_serving = current.serves_links
        keyring = current.message_keyring
        documents = [getattr(current, name) for name in Domain.DOMAIN_RECORD_FIELDS]
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        serving_changed = current.serves_links != was_serving
        if serving_changed or current.message_keyring != keyring:
            republish_links_on_commit(current.links.all())
        documents_changed = documents != [getattr(current, n) for n in Domain.DOMAIN_RECORD_FIELDS]
        if documents_changed or (serving_changed and current.has_app_links):
            new_app_links_version(current)
    return current

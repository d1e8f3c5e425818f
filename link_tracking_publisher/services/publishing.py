"""Publishing after commit: every publish the service layer schedules goes through here.

A change writes its outbox rows in the caller's transaction; the publish task is enqueued only
after the transaction commits (:func:`~..dispatch.enqueue_on_commit`, by task name: services
never import the tasks), so a rolled-back change publishes nothing, and a committed one always
has its outbox row for the sweeper even if the broker was unreachable at that moment. A change
that republishes many links (a campaign, a domain, the UTM policy) writes their outbox rows in
bulk, in the same transaction (:func:`republish_links_on_commit`).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from .. import dispatch, outbox
from ..models import Domain, Link, PublishOutbox
from .errors import InvalidState
from .publisher import PUBLISH_CHUNK, stage_republish

__all__ = [
    "OPEN_STATUSES",
    "enqueue_entry",
    "enqueue_link_publish",
    "new_app_links_version",
    "publish_waiting_entries",
    "republish_app_links",
    "republish_links_on_commit",
    "retry_failed_publish",
]

#: Rows still to be published: a link with one of these needs no new one to be published.
OPEN_STATUSES = (
    PublishOutbox.Status.PENDING,
    PublishOutbox.Status.PROCESSING,
    PublishOutbox.Status.WAITING_FOR_DOMAIN,
)


def enqueue_link_publish(link: Link, entry: PublishOutbox) -> None:
    """Enqueue, after commit, the publish of ``entry``: the link's new version."""
    dispatch.enqueue_on_commit(dispatch.PUBLISH_LINK, str(link.pk), entry.pk)


def enqueue_entry(entry: PublishOutbox) -> None:
    """Enqueue the publish an outbox row stands for: its link's, or its domain's app links."""
    if entry.domain_id is not None:
        dispatch.enqueue_on_commit(dispatch.PUBLISH_APP_LINKS, str(entry.domain_id), entry.pk)
    else:
        dispatch.enqueue_on_commit(dispatch.PUBLISH_LINK, str(entry.link_id), entry.pk)


def republish_links_on_commit(links: QuerySet[Link]) -> int:
    """Republish many links (after a campaign, domain or UTM policy change), in the caller's
    transaction: every link gets a new version and an outbox row (bulk), and after commit the
    rows are sent to the bulk publish path, ``PUBLISH_CHUNK`` rows a message. A broker that is
    down at commit loses nothing: the sweeper sends the rows later. Returns how many links."""
    entry_ids = stage_republish(links)
    for start in range(0, len(entry_ids), PUBLISH_CHUNK):
        dispatch.enqueue_on_commit(
            dispatch.PUBLISH_OUTBOX, entry_ids[start : start + PUBLISH_CHUNK]
        )
    return len(entry_ids)


def publish_waiting_entries(domain: Domain) -> int:
    """Once ``domain`` is verified, in the verifying transaction (the domain locked): its rows
    parked ``WAITING_FOR_DOMAIN`` go back to PENDING and are sent after commit, link rows to
    the bulk publish path (``PUBLISH_CHUNK`` a message), app-links rows to their task; each
    is written under its own version, so no link is lost and none gets a version it did not
    need. A link (or the app links) with no row left open, such as one whose row an earlier
    release completed as ``domain_unverified`` and the cleanup then deleted, is republished
    under a new version. Returns how many rows were sent."""
    rows = outbox.release_waiting(domain)
    link_rows = [row.pk for row in rows if row.link_id is not None]
    for start in range(0, len(link_rows), PUBLISH_CHUNK):
        dispatch.enqueue_on_commit(
            dispatch.PUBLISH_OUTBOX, link_rows[start : start + PUBLISH_CHUNK]
        )
    for row in rows:
        if row.domain_id is not None:
            enqueue_entry(row)
    sent = len(rows)
    sent += republish_links_on_commit(
        domain.links.exclude(publish_outbox__status__in=OPEN_STATUSES)
    )
    app_links_open = PublishOutbox.objects.filter(domain=domain, status__in=OPEN_STATUSES)
    if domain.has_app_links and not app_links_open.exists():
        sent += republish_app_links(domain) is not None
    return sent


def new_app_links_version(domain: Domain) -> PublishOutbox:
    """Inside a transaction, with ``domain`` locked: the next app-links version, its outbox
    row, and its publish enqueued after commit."""
    domain.app_links_version += 1
    domain.save(update_fields=["app_links_version"])
    entry = outbox.create_domain_entry(domain)
    enqueue_entry(entry)
    return entry


def republish_app_links(domain: Domain) -> PublishOutbox | None:
    """Publish the domain's app-links record again under a new version (after its ownership
    was verified, or to repair drift); ``None`` for a domain that never had app links."""
    with transaction.atomic():
        current = Domain.objects.select_for_update().get(pk=domain.pk)
        if not current.has_app_links:
            return None
        return new_app_links_version(current)


def retry_failed_publish(entry: PublishOutbox) -> PublishOutbox:
    """Send a FAILED outbox entry round again (once its cause is fixed): back to PENDING and
    its publish enqueued after commit. The task publishes the link's current state, under the
    usual version condition. Raises :class:`InvalidState` unless the entry has failed."""
    with transaction.atomic():
        claimed = PublishOutbox.objects.filter(
            pk=entry.pk, status=PublishOutbox.Status.FAILED
        ).update(status=PublishOutbox.Status.PENDING, result="", completed_at=None)
        if not claimed:
            raise InvalidState("Only failed publishes can be retried; this one has not failed.")
        current = PublishOutbox.objects.get(pk=entry.pk)
        enqueue_entry(current)
    return current

"""LinkPublisher: builds each link's runtime record and writes it to DynamoDB.

Every write is conditional: it succeeds only when the table has no record for the key, or a
record with a lower ``runtime_version``. A stored version equal or higher means this state (or
a newer one) is already there: that is ``already_applied``, not an error, so publishing is
idempotent and an old version delivered late can never overwrite a newer one.

Writes go to the primary replica. With ``PUBLISH_TO_SECONDARY`` (and ``SECONDARY_REGION``), a
write the primary replica cannot take because it is unreachable (:func:`~..aws.is_unreachable`)
is made to the secondary replica instead, under the same condition, and the global table
replicates it back; otherwise the error propagates and the outbox keeps the work, as with one
region.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Literal, TypeVar

from botocore.exceptions import ClientError
from django.db import transaction
from django.db.models import F, QuerySet

from link_tracking_runtime import wire
from link_tracking_runtime.applinks import AppLinksRecord, document_text, to_app_links_item
from link_tracking_runtime.record import RuntimeRecord, canonical_host, item_key, to_item

from .. import outbox as outbox_state
from ..aws import (
    dynamodb_client,
    is_transient,
    is_unreachable,
    runtime_table,
    secondary_runtime_table,
)
from ..conf import app_settings
from ..models import Domain, GlobalUTMPolicy, Link, PublishOutbox
from .utm_resolver import UTMResolver

__all__ = [
    "BulkPublishResult",
    "LinkPublisher",
    "PublishOutcome",
    "PublishResult",
    "stage_republish",
]

logger = logging.getLogger(__name__)

PublishOutcome = Literal["written", "already_applied", "not_published", "domain_unverified"]

PUT_CONDITION = "attribute_not_exists(PK) OR runtime_version < :v"

T = TypeVar("T")
#: "Not given": the secondary replica is then the configured one (``PUBLISH_TO_SECONDARY``).
_CONFIGURED: Any = object()


@dataclasses.dataclass(frozen=True)
class PublishResult:
    link_id: str
    runtime_version: int
    outcome: PublishOutcome


@dataclasses.dataclass
class BulkPublishResult:
    """What a bulk republish did. ``failed`` maps link id → error; those links' outbox rows
    stay PENDING with the error recorded, so ``retry_pending_outbox`` picks them up."""

    total: int = 0
    written: int = 0
    already_applied: int = 0
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _epoch(value: Any) -> int | None:
    return int(value.timestamp()) if value else None


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


class LinkPublisher:
    """Publishes links to the runtime table.

    ``table`` is a boto3 resource ``Table`` (default: the configured runtime table's primary
    replica); ``secondary`` the ``Table`` written when the primary is unreachable (default:
    the secondary replica when ``PUBLISH_TO_SECONDARY`` is on, else none); ``clock`` returns
    Unix seconds (``published_at_epoch``).
    """

    def __init__(
        self,
        table: Any = None,
        *,
        secondary: Any = _CONFIGURED,
        clock: Callable[[], float] = time.time,
        resolver: UTMResolver | None = None,
    ) -> None:
        self._table = table
        self._secondary = secondary
        self._client: Any = None
        self.clock = clock
        self.resolver = resolver or UTMResolver()

    @property
    def secondary(self) -> Any:
        """The secondary replica's ``Table`` writes fail over to, or ``None``."""
        if self._secondary is _CONFIGURED:
            self._secondary = (
                secondary_runtime_table() if app_settings.PUBLISH_TO_SECONDARY else None
            )
        return self._secondary

    def _on_replicas(self, write: Callable[[Any], T], primary: Any, secondary: Any) -> T:
        """``write(primary)``; when the primary replica is unreachable and ``secondary`` is
        given, ``write(secondary)`` instead (the same conditional write: the newest version
        wins on either replica). Any other error, or no secondary, propagates (the outbox
        keeps the work)."""
        try:
            return write(primary)
        except Exception as exc:
            if secondary is None or not is_unreachable(exc):
                raise
            logger.warning(
                "primary replica unreachable (%s): writing to the secondary replica",
                _describe(exc),
                extra={"replica": "secondary"},
            )
            return write(secondary)

    @property
    def table(self) -> Any:
        if self._table is None:
            self._table = runtime_table()
        return self._table

    @property
    def client(self) -> Any:
        """A low-level DynamoDB client (bulk writes send items the contract encoded)."""
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    # -- records -------------------------------------------------------------------------

    def build_record(self, link: Link, *, now: float | None = None) -> RuntimeRecord:
        published = int(self.clock() if now is None else now)
        return RuntimeRecord(
            domain=canonical_host(link.domain.domain_name),
            slug=link.slug_canonical,
            link_id=str(link.id),
            destination_url=link.destination_url,
            fallback_url=link.effective_fallback_url(),
            active=bool(link.active and link.domain.serves_links),
            runtime_version=int(link.runtime_version),
            append_query_params=link.append_query_params,
            resolved_query_params=self.resolver.resolve(link),
            dynamic_param_allowlist=tuple(link.dynamic_param_allowlist or ()),
            signature_required=link.signature_required,
            signature_key_id=(link.signature_secret_ref or None)
            if link.signature_required
            else None,
            routing_rules=link.routing_rules or None,
            expires_at_epoch=_epoch(link.expires_at),
            max_clicks=link.max_clicks,
            campaign_id=link.campaign_identifier or None,
            keyword=link.keyword or None,
            channel=link.channel or None,
            published_at_epoch=published,
            updated_at_epoch=_epoch(link.updated_at),
            message_keyring=link.domain.message_keyring or None,
            query_message_id=link.query_message_id,
        )

    def build_runtime_record(self, link: Link, *, now: float | None = None) -> dict[str, Any]:
        """The DynamoDB item for ``link`` (numbers as Decimal, ``None`` omitted)."""
        return to_item(self.build_record(link, now=now))

    def build_app_links_record(self, domain: Domain, *, now: float | None = None) -> AppLinksRecord:
        """The domain's app-links record: its documents while it serves links, none otherwise
        (a domain that stops serving withdraws its files as it deactivates its links)."""
        serving = domain.serves_links
        aasa, assetlinks = domain.apple_app_site_association, domain.assetlinks
        return AppLinksRecord(
            domain=canonical_host(domain.domain_name),
            runtime_version=int(domain.app_links_version),
            apple_app_site_association=document_text(aasa)
            if serving and aasa is not None
            else None,
            assetlinks=document_text(assetlinks) if serving and assetlinks is not None else None,
            published_at_epoch=int(self.clock() if now is None else now),
            not_found_url=(domain.not_found_url or None) if serving else None,
        )

    # -- outbox --------------------------------------------------------------------------

    @staticmethod
    def idempotency_key(link: Link) -> str:
        return outbox_state.idempotency_key(link)

    def create_publish_outbox(self, link: Link) -> PublishOutbox:
        """The outbox row for the link's current version (created once per version)."""
        entry, _ = PublishOutbox.objects.get_or_create(
            idempotency_key=self.idempotency_key(link),
            defaults={"link": link, "runtime_version": link.runtime_version},
        )
        return entry

    # -- single writes -------------------------------------------------------------------

    def publish_link(self, link: Link, outbox: PublishOutbox | None = None) -> PublishResult:
        """Write the link's record, conditionally. Records the outcome on ``outbox`` when
        given; errors propagate (the task decides whether to retry).

        A link on a domain whose ownership is not verified is not written at all (outcome
        ``domain_unverified``): its outbox row is parked ``WAITING_FOR_DOMAIN``, not
        completed, and verifying the domain sends it again."""
        if not link.domain.is_verified:
            if outbox is None or outbox_state.park_until_verified([outbox], link.domain):
                logger.info("publish %s: domain %s is not verified", link.id, link.domain)
                return PublishResult(str(link.id), int(link.runtime_version), "domain_unverified")
            link.domain.refresh_from_db()  # verified while this publish ran: write it now
        outcome = self._conditional_put(self.build_runtime_record(link), link.runtime_version)
        if outbox is not None:
            outbox_state.mark_complete(outbox, outcome)
        logger.info(
            "publish %s v%s: %s",
            link.id,
            link.runtime_version,
            outcome,
            extra={"link_id": str(link.id), "runtime_version": link.runtime_version},
        )
        return PublishResult(str(link.id), int(link.runtime_version), outcome)

    def _conditional_put(self, item: dict[str, Any], version: int) -> PublishOutcome:
        """Write ``item`` unless the table holds its key at ``version`` or later:
        ``written``, or ``already_applied`` when the condition fails."""

        def put(table: Any) -> PublishOutcome:
            try:
                table.put_item(
                    Item=item,
                    ConditionExpression=PUT_CONDITION,
                    ExpressionAttributeValues={":v": Decimal(version)},
                )
            except ClientError as exc:
                if _error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return "already_applied"
            return "written"

        return self._on_replicas(put, self.table, self.secondary)

    def publish_app_links(
        self, domain: Domain, outbox: PublishOutbox | None = None
    ) -> PublishResult:
        """Write the domain's app-links record, under the same version condition as a link's
        record. A domain whose ownership is not verified is not written (``domain_unverified``,
        the outbox row parked ``WAITING_FOR_DOMAIN``): verifying it publishes the record."""
        version = int(domain.app_links_version)
        if not domain.is_verified and (
            outbox is None or outbox_state.park_until_verified([outbox], domain)
        ):
            outcome: PublishOutcome = "domain_unverified"
        else:
            if not domain.is_verified:
                domain.refresh_from_db()  # verified while this publish ran: write it now
            outcome = self._conditional_put(
                to_app_links_item(self.build_app_links_record(domain)), version
            )
            if outbox is not None:
                outbox_state.mark_complete(outbox, outcome)
        logger.info(
            "publish app links of %s v%s: %s",
            domain.domain_name,
            version,
            outcome,
            extra={"domain": domain.domain_name, "runtime_version": version},
        )
        return PublishResult(str(domain.pk), version, outcome)

    def unpublish_link(self, link: Link) -> PublishResult:
        """Set ``active = false`` on the stored record at once (an emergency stop that does
        not wait for a new version). The link should also be deactivated through the service
        layer, or its next publish makes it active again."""
        key = item_key(link.domain.domain_name, link.slug_canonical)

        def switch_off(table: Any) -> PublishOutcome:
            try:
                table.update_item(
                    Key=key,
                    UpdateExpression="SET active = :false",
                    ConditionExpression="attribute_exists(PK)",
                    ExpressionAttributeValues={":false": False},
                )
            except ClientError as exc:
                if _error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return "not_published"
            return "written"

        outcome = self._on_replicas(switch_off, self.table, self.secondary)
        return PublishResult(str(link.id), int(link.runtime_version), outcome)

    # -- bulk ----------------------------------------------------------------------------

    def bulk_republish_campaign(
        self, campaign_id: str, *, concurrency: int | None = None
    ) -> BulkPublishResult:
        """Republish every active link whose ``campaign_identifier`` is ``campaign_id``."""
        links = Link.objects.filter(campaign_identifier=campaign_id, active=True)
        return self.bulk_republish(links, concurrency=concurrency)

    def bulk_republish(
        self, links: QuerySet[Link], *, concurrency: int | None = None
    ) -> BulkPublishResult:
        """Republish every link of ``links`` here and now: :func:`stage_republish` in its own
        transaction, then :meth:`publish_entries` on the rows it made."""
        with transaction.atomic():
            entry_ids = stage_republish(links)
        return self.publish_entries(entry_ids, concurrency=concurrency)

    def publish_entries(
        self, entry_ids: Sequence[int], *, concurrency: int | None = None
    ) -> BulkPublishResult:
        """Publish the links of the outbox rows ``entry_ids`` (those not already COMPLETE or
        FAILED), ``concurrency`` conditional puts in flight at a time, and record each row's
        outcome as the single-link task does: ``written`` / ``already_applied`` complete it,
        a link whose domain is not verified is parked ``WAITING_FOR_DOMAIN``; a transient
        error leaves it PENDING with the error and one more retry counted
        (``retry_pending_outbox`` sends it again), until ``PUBLISH_MAX_RETRIES``; any other
        error fails it (an operator retries it).

        Each link is written in its current state under its current version, once however
        many of its rows are in the batch, with the single-link guarantee (absent, or a lower
        stored version). Individual puts rather than transactions: a DynamoDB transaction is
        all or nothing and costs twice the write capacity, and batch writes cannot carry a
        condition. Database work stays on this thread; the threads only talk to DynamoDB.
        """
        result = BulkPublishResult()
        for start in range(0, len(entry_ids), PUBLISH_CHUNK):
            self._publish_chunk(entry_ids[start : start + PUBLISH_CHUNK], concurrency, result)
        logger.info(
            "bulk publish: %d links, %d written, %d already applied, %d failed",
            result.total,
            result.written,
            result.already_applied,
            len(result.failed),
        )
        return result

    def _publish_chunk(
        self, entry_ids: Sequence[int], concurrency: int | None, result: BulkPublishResult
    ) -> None:
        rows = list(
            PublishOutbox.objects.filter(
                pk__in=entry_ids,
                link__isnull=False,  # a domain's app-links row has its own task
                status__in=(PublishOutbox.Status.PENDING, PublishOutbox.Status.PROCESSING),
            ).select_related("link__domain", "link__campaign")
        )
        if not rows:
            return
        outbox_state.mark_processing_many([row.pk for row in rows])
        by_link: dict[Any, list[PublishOutbox]] = {}
        link_of: dict[Any, Link] = {}
        for row in rows:
            assert row.link is not None  # the query keeps link rows only
            by_link.setdefault(row.link_id, []).append(row)
            link_of[row.link_id] = row.link
        links = self._park_unverified(by_link, link_of)
        result.total += len(links)
        if not links:
            return

        publisher = LinkPublisher(
            self.table,
            secondary=self.secondary,
            clock=self.clock,
            resolver=UTMResolver(GlobalUTMPolicy.load()),
        )
        published = self.clock()
        # Encoded here, once, with the contract's codec: a low-level client spends less CPU per
        # put than the resource layer, and on a small machine that CPU is DynamoDB's too.
        encoded = [
            wire.encode_item(publisher.build_runtime_record(link, now=published)) for link in links
        ]
        client, table_name = self.client, self.table.name
        # The secondary replica's low-level client (the table has one name in every region).
        secondary_client = dynamodb_client(secondary=True) if self.secondary is not None else None
        workers = max(1, concurrency or app_settings.BULK_PUBLISH_CONCURRENCY)

        def put(item: dict[str, Any]) -> str | Exception:
            try:
                return self._on_replicas(
                    lambda replica: self._put(replica, table_name, item), client, secondary_client
                )
            except Exception as exc:
                return exc

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="republish") as pool:
            outcomes = list(pool.map(put, encoded))

        done: dict[str, list[str]] = {"written": [], "already_applied": []}
        for link, outcome in zip(links, outcomes, strict=True):
            link_rows = by_link[link.pk]
            if isinstance(outcome, str):
                done[outcome].extend(row.idempotency_key for row in link_rows)
                result.written += outcome == "written"
                result.already_applied += outcome == "already_applied"
            else:
                result.failed[str(link.pk)] = _describe(outcome)
                for row in link_rows:
                    _record_failure(row, outcome)
        for outcome, keys in done.items():
            outbox_state.mark_complete_many(keys, outcome)

    @staticmethod
    def _park_unverified(
        by_link: dict[Any, list[PublishOutbox]], link_of: dict[Any, Link]
    ) -> list[Link]:
        """Park the rows of links whose domain is not verified (one lock per domain, as
        :func:`~..outbox.park_until_verified` does for one row); the links to write now are the
        others, and those whose domain was verified meanwhile (with the domain re-read)."""
        unverified: dict[Any, list[Link]] = {}
        for link in link_of.values():
            if not link.domain.is_verified:
                unverified.setdefault(link.domain_id, []).append(link)
        parked: set[Any] = set()
        for domain_id, domain_links in unverified.items():
            rows = [row for link in domain_links for row in by_link[link.pk]]
            if outbox_state.park_until_verified(rows, domain_links[0].domain):
                parked.add(domain_id)
                continue
            fresh = Domain.objects.get(pk=domain_id)
            for link in domain_links:
                link.domain = fresh
        return [link for link in link_of.values() if link.domain_id not in parked]

    @staticmethod
    def _put(client: Any, table_name: str, item: dict[str, Any], attempts: int = 5) -> str:
        """One conditional put of a wire-encoded item: ``written`` or ``already_applied``;
        transient errors are retried here with back-off, then raised like any other."""
        for attempt in range(attempts):
            try:
                client.put_item(
                    TableName=table_name,
                    Item=item,
                    ConditionExpression=PUT_CONDITION,
                    ExpressionAttributeValues={":v": item["runtime_version"]},
                )
                return "written"
            except Exception as exc:
                if _error_code(exc) == "ConditionalCheckFailedException":
                    return "already_applied"
                if not is_transient(exc) or attempt == attempts - 1:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")


#: Outbox rows read, published and recorded at a time by :meth:`LinkPublisher.publish_entries`
#: (and ids per ``publish_outbox`` task message, well under a broker's message size limit).
PUBLISH_CHUNK = 500


def _describe(exc: BaseException) -> str:
    return f"{_error_code(exc)}: {exc}"


def _record_failure(row: PublishOutbox, exc: BaseException) -> None:
    """As ``publish_link_task`` does: a transient error is counted and retried (by the
    sweeper) until ``PUBLISH_MAX_RETRIES``; any other error, or the last retry, fails the row."""
    transient = is_transient(exc)
    if transient:
        outbox_state.record_error(row.idempotency_key, _describe(exc))
        if row.retry_count + 1 < app_settings.PUBLISH_MAX_RETRIES:
            return
    code = "retries_exhausted" if transient else "permanent_error"
    outbox_state.mark_failed(row, _describe(exc), code=code)


def stage_republish(links: QuerySet[Link]) -> list[int]:
    """Give every link of ``links`` a new ``runtime_version`` and a PENDING outbox row for it,
    in the caller's transaction (a change that republishes many links commits together with
    their rows, so the sweeper publishes them even if nothing else does). Returns the rows'
    ids, for :meth:`LinkPublisher.publish_entries`. Links on domains whose ownership is not
    verified are left out (they are not published at all: their rows wait for the domain)."""
    ids = list(
        links.filter(domain__verified_at__isnull=False).order_by().values_list("pk", flat=True)
    )
    entry_ids: list[int] = []
    with transaction.atomic():
        for start in range(0, len(ids), PUBLISH_CHUNK):
            batch = ids[start : start + PUBLISH_CHUNK]
            Link.objects.filter(pk__in=batch).update(runtime_version=F("runtime_version") + 1)
            versions = Link.objects.filter(pk__in=batch).values_list("pk", "runtime_version")
            rows = [
                PublishOutbox(
                    link_id=pk,
                    idempotency_key=outbox_state.entry_key(pk, version),
                    runtime_version=version,
                )
                for pk, version in versions
            ]
            PublishOutbox.objects.bulk_create(rows)
            entry_ids.extend(
                PublishOutbox.objects.filter(
                    idempotency_key__in=[row.idempotency_key for row in rows]
                ).values_list("pk", flat=True)
            )
    return entry_ids

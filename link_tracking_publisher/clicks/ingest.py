"""Ingestion: click events counted once each into the rollups, in bulk, with checkpoints.

Per chunk of raw records (``LINK_TRACKING['CLICK_INGEST_BATCH_SIZE']``), in one transaction:

1. each record is parsed and validated; bad ones are counted by reason, logged once per run
   with a sample, and skipped;
2. the chunk's ``event_id`` keys (64-bit hashes, :func:`.dedupe.event_key`) are inserted into
   :class:`~..models.ClickEventKey` with ``ON CONFLICT DO NOTHING RETURNING``: only events whose key this transaction inserted are
   counted, so a rerun, a redelivered object or a concurrent ingester never counts twice;
3. the new events are rolled up in memory and upserted (``ON CONFLICT DO UPDATE``) into the
   statistics tables (:func:`write_rollups`: per link and hour, per link, day and breakdown
   value, the same per campaign, all-time totals per link and campaign),
   :class:`~..models.ClickVisitor` and :class:`~..models.MessageClick`, one statement per
   table and chunk, never a row per event;
4. webhook deliveries are written to their outbox, ``link_clicked`` is sent;
5. the object's :class:`~..models.ClickIngestCheckpoint` moves past the chunk.

A crash anywhere rolls back the whole chunk, keys included, and the next run resumes at the
checkpoint. Throughput: ``benchmarks/ingest_bench.py``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import itertools
import logging
import math
import operator
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import getitem
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from django.db import connection, transaction
from django.db.models import Q
from msgspec.structs import astuple

from link_tracking_runtime.bots import BOT_REASONS
from link_tracking_runtime.events import OUTCOMES
from link_tracking_runtime.scan import SCAN_CHANNEL as _SCAN_CHANNEL

from .. import dispatch
from ..conf import app_settings
from ..models import (
    CampaignClickTotals,
    CampaignDayBreakdown,
    CampaignHourClicks,
    ClickIngestCheckpoint,
    ClickVisitor,
    ClickWebhook,
    ClickWebhookDelivery,
    Link,
    LinkCampaign,
    LinkClickTotals,
    LinkDayBreakdown,
    LinkHourClicks,
    MessageClick,
    MessageToken,
)
from ..services.privacy import delivery_subject_hashes
from ..signals import link_clicked
from .bulk_sql import (
    SQL_CHUNK,
    hash_64,
    max_update,
    min_update,
    sum_update,
    upsert,
)
from .dedupe import event_keys, insert_keys, oldest_accepted
from .devices import device_of
from .orphans import count_orphans, is_orphan
from .sources import Chunk, SourceObject, read_chunks
from .stats import UNKNOWN_BOT_REASON

logger = logging.getLogger(__name__)

__all__ = [
    "SKIP_REASONS",
    "IngestReport",
    "ingest_chunk",
    "ingest_objects",
    "rollup_context",
    "write_rollups",
]

#: Why a record was skipped (the counters of :class:`IngestReport`).
SKIP_REASONS = (
    "malformed",  # not JSON, not an object, a required field missing or of the wrong type
    "unknown_link",  # no link with this link_id (never existed, or deleted)
    "future",  # timestamp later than now + CLICK_MAX_FUTURE_SECONDS
    "too_old",  # timestamp older than the dedupe horizon (CLICK_DEDUPE_HORIZON_DAYS)
    "oversized_field",  # a field longer than the rollups store (or a line over 64 KiB)
    "truncated_object",  # an object that ends mid-record or cannot be read as Parquet
)


@dataclasses.dataclass
class IngestReport:
    """What one run did. ``skipped`` counts records by reason (:data:`SKIP_REASONS`)."""

    objects: int = 0
    read: int = 0
    counted: int = 0
    duplicates: int = 0
    skipped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    #: Clicks on no link of a known domain, counted as orphan clicks (:mod:`.orphans`).
    orphans: int = 0
    new_deliveries: int = 0
    #: The regions whose click-object queue could not be reached in this run (their backlog
    #: waits on the queue, which SQS keeps 14 days, for a later run).
    unreachable: list[str] = dataclasses.field(default_factory=list)

    def skip(self, reason: str, sample: object, source: str = "") -> None:
        if not self.skipped[reason]:  # once per reason and run, with the first sample
            logger.warning(
                "click events skipped (%s), first in %s: %.300r", reason, source or "-", sample
            )
        self.skipped[reason] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "read": self.read,
            "counted": self.counted,
            "duplicates": self.duplicates,
            "skipped": dict(self.skipped),
            "orphans": self.orphans,
            "webhook_deliveries": self.new_deliveries,
            "unreachable": list(self.unreachable),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class _LinkInfo:
    db_pk: Any
    pk: uuid.UUID
    account_id: Any
    campaign_pk: uuid.UUID | None
    campaign_db_pk: Any


class _Click(NamedTuple):
    event_id: str
    ts: float
    link: _LinkInfo
    is_bot: bool
    outcome: str
    channel: str
    country: str
    variant: str
    device: str
    sms_msg_id: str | None
    ip_hash: str
    click_session_id: str
    #: One of the contract's ``BOT_REASONS``, ``None`` when the event does not say one.
    bot_reason: str | None


_KNOWN_BOT_REASONS = frozenset((*BOT_REASONS, None))


class _Context:
    """Caches that live for one run: links by id, webhooks by account, hour timestamps."""

    def __init__(self, report: IngestReport, now: float | None) -> None:
        self.report = report
        self.now = now
        self.links: dict[str, _LinkInfo | None] = {}
        self.webhooks: dict[Any, list[tuple[Any, bool]]] | None = None
        self.max_timestamp = math.inf
        self.min_timestamp = 0.0
        self.db_zone: Any = UTC
        self.db_text = False
        #: The chunk's records of clicks on no link (:func:`.orphans.is_orphan`), and the
        #: run's canonical hosts → Domain pk (``None``: unknown).
        self.orphans: list[Any] = []
        self.domains: dict[str, Any] = {}

    def start_chunk(self) -> None:
        now = self.now if self.now is not None else time.time()
        self.max_timestamp = now + app_settings.CLICK_MAX_FUTURE_SECONDS
        self.min_timestamp = oldest_accepted(now)
        # What connection.ops.adapt_datetimefield_value does, without its per-call overhead
        # (hundreds of thousands of calls a minute): aware datetimes for databases that store
        # time zones, naive ones in the connection's zone for the others (SQLite, MySQL).
        self.db_zone = None if connection.features.supports_timezones else connection.timezone
        self.db_text = connection.vendor == "sqlite"

    def resolve_links(self, ids: Iterable[str]) -> None:
        missing: dict[uuid.UUID, str] = {}
        for raw in ids:
            if raw in self.links:
                continue
            try:
                missing[uuid.UUID(raw)] = raw
            except ValueError:
                self.links[raw] = None
        if not missing:
            return
        field, campaign_field = Link._meta.pk, LinkCampaign._meta.pk
        found = Link.objects.filter(pk__in=list(missing)).values_list(
            "pk", "account_id", "campaign_id"
        )
        for pk, account_id, campaign_pk in found:
            db_pk = field.get_db_prep_value(pk, connection)
            campaign_db_pk = (
                None
                if campaign_pk is None
                else campaign_field.get_db_prep_value(campaign_pk, connection)
            )
            self.links[missing.pop(pk)] = _LinkInfo(
                db_pk, pk, account_id, campaign_pk, campaign_db_pk
            )
        for raw in missing.values():
            self.links[raw] = None

    def account_webhooks(self) -> dict[Any, list[tuple[Any, bool]]]:
        if self.webhooks is None:
            self.webhooks = collections.defaultdict(list)
            for pk, account_id, include_bots in ClickWebhook.objects.filter(
                active=True
            ).values_list("pk", "account_id", "include_bots"):
                self.webhooks[account_id].append((pk, include_bots))
        return self.webhooks

    def db_datetimes(self, stamps: Iterable[float]) -> dict[float, Any]:
        """Each distinct timestamp as the database driver takes a DateTimeField value (what
        ``connection.ops.adapt_datetimefield_value`` returns, without its per-call cost): an
        aware datetime where the database stores time zones; on SQLite the text Django
        writes, ``str`` of the naive datetime in the connection's zone, so the driver's
        Python adapter is not called either. Mapped in C."""
        distinct = list(set(stamps))
        if self.db_zone is None:
            return dict(
                zip(distinct, map(datetime.fromtimestamp, distinct, repeat(UTC)), strict=True)
            )
        aware = map(datetime.fromtimestamp, distinct, repeat(self.db_zone))
        if self.db_text and self.db_zone is UTC:  # str() of the aware value less its "+00:00"
            return dict(
                zip(distinct, map(getitem, map(str, aware), repeat(_NO_OFFSET)), strict=True)
            )
        values = map(_naive, aware)
        return dict(zip(distinct, map(str, values) if self.db_text else values, strict=True))


_naive = operator.methodcaller("replace", tzinfo=None)
_NO_OFFSET = slice(None, -6)


#: Optional text fields and the longest value their columns store.
_TEXT_LIMITS = {
    "event_id": 64,
    "link_id": 64,
    "ip_hash": 128,
    "channel": 16,
    "geo_country": 8,
    "ab_variant": 64,
    "sms_msg_id": 128,
    "user_agent": 4096,
    "bot_reason": 64,
}


def _reject(raw: Any, error: Exception, report: IngestReport, source: str) -> None:
    """Count a record :data:`_Record` would not take: ``oversized_field`` when a text field is
    longer than its column (msgspec's length check), ``malformed`` for anything else (not JSON,
    not an object, a missing field, a wrong type)."""
    message = str(error)
    reason = "oversized_field" if "of length <=" in message else "malformed"
    report.skip(reason, f"{message}: {str(raw)[:200]}", source)


def _text(limit: int) -> Any:
    return Annotated[str, msgspec.Meta(max_length=limit)] | None


#: What a record must hold to be counted, as a msgspec type: the required fields' types and
#: every text field's column limit (:data:`_TEXT_LIMITS`), checked in C while decoding only
#: these fields (the record's others are skipped, never built as Python objects). A record it
#: rejects is counted by :func:`_reject`.
_Record = msgspec.defstruct(
    "_Record",
    [
        ("event_id", Annotated[str, msgspec.Meta(max_length=_TEXT_LIMITS["event_id"])]),
        ("timestamp", Annotated[float, msgspec.Meta(gt=0)]),
        ("is_bot", bool),
        ("outcome", Literal[OUTCOMES]),
        # In the order _merge unpacks them.
        *(
            (name, _text(_TEXT_LIMITS[name]), None)
            for name in (
                "link_id",
                "ip_hash",
                "channel",
                "geo_country",
                "ab_variant",
                "sms_msg_id",
                "user_agent",
            )
        ),
        # Not stored in a column (no length limit): a webhook delivery keeps only its keyed
        # hash, for privacy requests by click id.
        ("click_session_id", str | None, None),
        # A per-message link's message: mapped to the host's message id (_message_ids).
        ("message_seq", Annotated[int, msgspec.Meta(ge=0)] | None, None),
        # Why a bot's click is a bot's: the bot_reason breakdown (an unknown value is None).
        ("bot_reason", _text(_TEXT_LIMITS["bot_reason"]), None),
    ],
    gc=False,
)
_decode_json = msgspec.json.Decoder(_Record).decode
_REJECTED = (msgspec.MsgspecError, TypeError, ValueError)


def _decode(raw: Any) -> Any:
    """One raw record (a ``bytes`` line, or a ``dict`` from Parquet) as a :data:`_Record`."""
    return msgspec.convert(raw, _Record) if type(raw) is dict else _decode_json(raw)


def _columns(records: Sequence[Any], context: _Context, source: str) -> list[list[Any]]:
    """The chunk's valid records as columns in :class:`_Click` order; every other record is
    counted by reason and skipped. Decoding and the type and length checks run in msgspec, the
    time window and link checks once per chunk on the column's min/max and distinct values,
    the normalisations once per distinct value: a per-record step in Python only to count a
    record that fails a check."""
    try:
        events = list(map(_decode, records))
        kept = records
    except _REJECTED:
        events, kept = [], []
        for raw in records:
            try:
                events.append(_decode(raw))
                kept.append(raw)
            except _REJECTED as error:
                _reject(raw, error, context.report, source)
    columns: list[list[Any]] = [[] for _ in _Click._fields]
    if not events:
        return columns
    ids, stamps, bots, outcomes, *texts = zip(*map(astuple, events), strict=True)
    link_ids, ips, channels, countries, variants, sms, agents, sessions, sequences, reasons = texts
    distinct_links = set(link_ids)
    context.resolve_links(filter(None, distinct_links))
    links = context.links
    low, high = context.min_timestamp, context.max_timestamp
    if not (
        low <= min(stamps)
        and max(stamps) <= high
        and all(links.get(link_id) is not None for link_id in distinct_links)
    ):  # some records outside the time window or for unknown links: count them, drop them
        inside = [
            low <= ts <= high and links.get(link_id) is not None
            for ts, link_id in zip(stamps, link_ids, strict=True)
        ]
        report = context.report
        outside = zip(kept, stamps, link_ids, outcomes, strict=True)
        for raw, ts, link_id, outcome in compress(outside, map(operator.not_, inside)):
            reason = "future" if ts > high else "too_old" if ts < low else "unknown_link"
            if reason == "unknown_link" and is_orphan(link_id, outcome):
                context.orphans.append(raw)  # counted per domain and slug (_ingest_chunk)
            else:
                report.skip(reason, raw, source)
        if not any(inside):
            return columns
        (
            ids,
            stamps,
            bots,
            outcomes,
            link_ids,
            ips,
            channels,
            countries,
            variants,
            sms,
            agents,
            sessions,
            sequences,
            reasons,
        ) = (tuple(compress(column, inside)) for column in (ids, stamps, bots, outcomes, *texts))
    if sequences.count(None) != len(sequences):
        sms = _message_ids(link_ids, sms, sequences, links)
    # Normalised once per distinct value (a campaign has few), then mapped in C.
    country_of = {c: c.upper() if c else "" for c in set(countries)}
    device = {ua: device_of(ua) for ua in set(agents)}
    return [
        list(ids),
        list(stamps),
        list(map(links.__getitem__, link_ids)),
        list(bots),
        list(outcomes),
        [c or "" for c in channels] if None in channels or "" in channels else list(channels),
        list(map(country_of.__getitem__, countries)),
        [v or "" for v in variants] if None in variants else list(variants),
        list(map(device.__getitem__, agents)),
        [m or None for m in sms] if "" in sms else list(sms),
        [ip or "" for ip in ips] if None in ips else list(ips),
        [s or "" for s in sessions] if None in sessions else list(sessions),
        (
            list(reasons)
            if set(reasons) <= _KNOWN_BOT_REASONS
            else [r if r in _KNOWN_BOT_REASONS else None for r in reasons]
        ),
    ]


def _message_ids(
    link_ids: Sequence[str],
    sms: Sequence[str | None],
    sequences: Sequence[int | None],
    links: dict[str, _LinkInfo | None],
) -> tuple[str | None, ...]:
    """The clicks' message ids: a per-message link's click (its ``message_seq``) gets the host's
    message id its sequence number was issued for (:class:`~..models.MessageToken`), one query
    per chunk; a sequence number the link never issued (a key leaked, a row erased) names no
    message."""
    wanted: dict[Any, set[int]] = {}
    for link_id, sequence in zip(link_ids, sequences, strict=True):
        if sequence is not None:
            info = links[link_id]
            assert info is not None
            wanted.setdefault(info.pk, set()).add(sequence)
    condition = Q()
    for link_pk, numbers in wanted.items():
        condition |= Q(link_id=link_pk, sequence__in=sorted(numbers))
    issued = {
        (str(link_pk), sequence): message_id
        for link_pk, sequence, message_id in MessageToken.objects.filter(condition).values_list(
            "link_id", "sequence", "sms_msg_id"
        )
    }
    return tuple(
        message if sequence is None else issued.get((str(links[link_id].pk), sequence))  # type: ignore[union-attr]
        for link_id, message, sequence in zip(link_ids, sms, sequences, strict=True)
    )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while one chunk is counted, then restored as
    it was. A chunk allocates a few hundred thousand tuples, lists and dicts that hold no
    cycles (reference counting frees every one of them when the chunk ends, so memory stays
    flat), and the collections those allocations trigger would each walk every live object:
    measured at 10-20% of a run's CPU time (benchmarks/README.md)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ingest_chunk(
    records: Sequence[Any], context: _Context, *, source: str = "", after: Any = None
) -> int:
    """Count one chunk of raw records (``bytes`` lines or dicts) in one transaction; returns
    how many were new. ``after()`` runs inside the transaction (the checkpoint update)."""
    with _gc_paused():
        return _ingest_chunk(records, context, source, after)


def _ingest_chunk(records: Sequence[Any], context: _Context, source: str, after: Any) -> int:
    report = context.report
    report.read += len(records)
    context.start_chunk()
    columns = _columns(records, context, source)
    keys = event_keys(columns[0])
    # The first record of each key in the chunk: a dict filled from the end keeps the first.
    first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
    orphans, context.orphans = context.orphans, []
    with transaction.atomic():
        if orphans:
            new_orphans, unknown = count_orphans(orphans, context.domains)
            report.orphans += new_orphans
            if unknown:  # a domain the control plane does not know: as before
                report.skip("unknown_link", orphans[0], source)
                report.skipped["unknown_link"] += unknown - 1
        new_keys = insert_keys(first, columns[1])
        chosen = sorted(map(first.__getitem__, new_keys))  # arrival order
        new = [list(map(column.__getitem__, chosen)) for column in columns]
        if chosen:
            _roll_up(new, context)
            if context.account_webhooks() or link_clicked.has_listeners(Link):
                clicks = [_Click(*row) for row in zip(*new, strict=True)]
                report.new_deliveries += _write_deliveries(clicks, context)
                _send_signals(clicks)
        if after is not None:
            after()
    report.counted += len(chosen)
    valid = report.read - sum(report.skipped.values())
    report.duplicates = valid - report.counted - report.orphans
    return len(chosen)


def ingest_objects(
    objects: Iterable[SourceObject],
    *,
    report: IngestReport | None = None,
    batch_size: int | None = None,
    now: float | None = None,
) -> IngestReport:
    """Ingest each object from its checkpoint on; an object that cannot be read is counted
    (``truncated_object``) and the rest go on."""
    report = report or IngestReport()
    context = _Context(report, now)
    if connection.vendor == "sqlite":
        # SQLite's default page cache (2 MiB) is far smaller than the indexes a large
        # backfill walks; this connection-level setting changes nothing else.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -65536")
    size = batch_size or app_settings.CLICK_INGEST_BATCH_SIZE
    for obj in objects:
        checkpoint, _ = ClickIngestCheckpoint.objects.get_or_create(source=obj.key[:1024])
        if checkpoint.completed:
            continue
        report.objects += 1
        try:
            with obj.local_path() as path:
                for chunk in read_chunks(path, checkpoint.position, size, growing=obj.growing):
                    _ingest_object_chunk(chunk, checkpoint, obj, context)
        except OSError as exc:  # a local file gone, an S3 object deleted under us
            report.skip("truncated_object", f"{type(exc).__name__}: {exc}", obj.key)
            ClickIngestCheckpoint.objects.filter(pk=checkpoint.pk).update(error=str(exc)[:2000])
            continue
        if not obj.growing:  # S3 objects are immutable: done once read to the end
            ClickIngestCheckpoint.objects.filter(pk=checkpoint.pk).update(completed=True)
    if report.new_deliveries:
        dispatch.enqueue_on_commit(dispatch.DELIVER_CLICK_WEBHOOKS)
    return report


def _ingest_object_chunk(
    chunk: Chunk, checkpoint: ClickIngestCheckpoint, obj: SourceObject, context: _Context
) -> None:
    context.report.read += len(chunk.errors)
    for reason, sample in chunk.errors:
        context.report.skip(reason, sample, obj.key)
    error = "; ".join(sample for reason, sample in chunk.errors if reason == "truncated_object")

    def move_checkpoint() -> None:
        ClickIngestCheckpoint.objects.filter(pk=checkpoint.pk).update(
            position=chunk.position, error=error[:2000]
        )

    ingest_chunk(chunk.records, context, source=obj.key, after=move_checkpoint)
    checkpoint.position = chunk.position


def visitor_number(ip_hash: str) -> int:
    """The 64-bit visitor number of an ``ip_hash`` (:attr:`~..models.ClickVisitor.visitor`);
    not the contract's :func:`link_tracking_runtime.click.visitor_key`, the string that keeps
    a visitor's A/B variant."""
    return hash_64((ip_hash,))[0]


#: A cell's counts while a chunk is rolled up: human clicks, bot clicks, human scans, bot
#: scans, first and last click (Unix seconds).
Counts = list[Any]


def _add_counts(into: dict[Any, Counts], key: Any, counts: Counts) -> None:
    cell = into.get(key)
    if cell is None:
        into[key] = list(counts)
        return
    for i in range(4):
        cell[i] += counts[i]
    if counts[4] < cell[4]:
        cell[4] = counts[4]
    if counts[5] > cell[5]:
        cell[5] = counts[5]


def _add_clicks(into: dict[Any, list[int]], key: Any, human: int, bot: int) -> None:
    cell = into.get(key)
    if cell is None:
        into[key] = [human, bot]
    else:
        cell[0] += human
        cell[1] += bot


_COUNT_FIELDS = (
    "human_clicks",
    "bot_clicks",
    "human_scans",
    "bot_scans",
    "first_click_at",
    "last_click_at",
)


def _counts_update(model: Any) -> str:
    return ", ".join(
        (
            *(sum_update(model, f) for f in _COUNT_FIELDS[:4]),
            min_update(model, "first_click_at"),
            max_update(model, "last_click_at"),
        )
    )


def _breakdown_update(model: Any) -> str:
    return f"{sum_update(model, 'human_clicks')}, {sum_update(model, 'bot_clicks')}"


def rollup_context() -> _Context:
    """A context for :func:`write_rollups` outside an ingestion run (its datetime adapter
    for this connection)."""
    context = _Context(IngestReport(), None)
    context.start_chunk()
    return context


def write_rollups(
    hours: dict[tuple[Any, Any, float], Counts],
    days: dict[tuple[Any, Any, float, str, str], list[int]],
    context: _Context,
) -> None:
    """Add counts to the statistics tables, one multi-row upsert per table: ``hours`` maps
    (link, campaign or ``None``, hour start) to :data:`Counts`, ``days`` maps (link, campaign
    or ``None``, day start, dimension, value) to human and bot clicks; keys hold database
    values of the primary keys and Unix seconds. The campaign rows, the link totals and the
    campaign totals are summed from these here, a step per cell, never per click: ingestion
    and ``rebuild_click_rollups`` both count through this one function."""
    campaign_hours: dict[Any, Counts] = {}
    link_totals: dict[Any, Counts] = {}
    campaign_totals: dict[Any, Counts] = {}
    for (link, campaign, hour), counts in hours.items():
        _add_counts(link_totals, link, counts)
        if campaign is not None:
            _add_counts(campaign_hours, (campaign, hour), counts)
            _add_counts(campaign_totals, campaign, counts)
    if campaign_totals and connection.features.has_select_for_update:
        # Each campaign's row locked before its counts are added: a rebuild of the campaign
        # (clicks.rollups.rebuild_campaigns, which locks it too) runs wholly before or after.
        list(
            LinkCampaign.objects.select_for_update()
            .filter(pk__in=sorted(campaign_totals, key=str))
            .order_by("pk")
            .values_list("pk")
        )
    campaign_days: dict[Any, list[int]] = {}
    for (_, campaign, day, dimension, value), (human, bot) in days.items():
        if campaign is not None:
            _add_clicks(campaign_days, (campaign, day, dimension, value), human, bot)
    db = context.db_datetimes(
        itertools.chain(
            (key[2] for key in hours),
            (key[2] for key in days),
            itertools.chain.from_iterable(c[4:] for c in hours.values()),
        )
    )

    def count_row(counts: Counts) -> tuple[Any, ...]:
        return (*counts[:4], db[counts[4]], db[counts[5]])

    upsert(
        LinkHourClicks,
        ("link", "hour", *_COUNT_FIELDS),
        ("link", "hour"),
        _counts_update(LinkHourClicks),
        [(link, db[hour], *count_row(c)) for (link, _, hour), c in hours.items()],
    )
    upsert(
        CampaignHourClicks,
        ("campaign", "hour", *_COUNT_FIELDS),
        ("campaign", "hour"),
        _counts_update(CampaignHourClicks),
        [(campaign, db[hour], *count_row(c)) for (campaign, hour), c in campaign_hours.items()],
    )
    upsert(
        LinkClickTotals,
        ("link", *_COUNT_FIELDS),
        ("link",),
        _counts_update(LinkClickTotals),
        [(link, *count_row(c)) for link, c in link_totals.items()],
    )
    upsert(
        CampaignClickTotals,
        ("campaign", *_COUNT_FIELDS),
        ("campaign",),
        _counts_update(CampaignClickTotals),
        [(campaign, *count_row(c)) for campaign, c in campaign_totals.items()],
    )
    breakdown = ("day", "dimension", "value", "human_clicks", "bot_clicks")
    upsert(
        LinkDayBreakdown,
        ("link", *breakdown),
        ("link", "day", "dimension", "value"),
        _breakdown_update(LinkDayBreakdown),
        [
            (link, db[day], dimension, value, human, bot)
            for (link, _, day, dimension, value), (human, bot) in days.items()
        ],
    )
    upsert(
        CampaignDayBreakdown,
        ("campaign", *breakdown),
        ("campaign", "day", "dimension", "value"),
        _breakdown_update(CampaignDayBreakdown),
        [
            (campaign, db[day], dimension, value, human, bot)
            for (campaign, day, dimension, value), (human, bot) in campaign_days.items()
        ],
    )


def _roll_up(new: list[list[Any]], context: _Context) -> None:
    """Count the new clicks (columns in :class:`_Click` order) into the statistics tables
    (:func:`write_rollups`), the visitors and the message clicks. Written column-wise:
    counting, masking and first/last are map/zip/compress/Counter/dict calls that run in C,
    with a Python step per distinct cell, never per click."""
    (
        _,
        stamps,
        infos,
        bots,
        outcomes,
        channels,
        countries,
        variants,
        devices,
        sms,
        ips,
        _,
        reasons,
    ) = new
    links = list(map(operator.attrgetter("db_pk"), infos))
    hours = list(map(operator.sub, stamps, map(operator.mod, stamps, repeat(3600.0))))
    humans = list(map(operator.not_, bots))
    scanned = list(map(_SCAN_CHANNEL.__eq__, channels))
    # Each click's (link, hour) as a small integer: the Counters hash ints, not tuples. A
    # link is its cached _LinkInfo's id() (one object per link and run): hashed in C.
    info_of = {id(info): info for info in infos}
    refs = list(map(id, infos))
    hour_keys = list(zip(refs, hours, strict=True))
    hour_of = {key: i for i, key in enumerate(dict.fromkeys(hour_keys))}
    hour_ids = list(map(hour_of.__getitem__, hour_keys))
    human_clicks = collections.Counter(compress(hour_ids, humans))
    bot_clicks = collections.Counter(compress(hour_ids, bots))
    human_scans = collections.Counter(compress(hour_ids, map(operator.and_, humans, scanned)))
    bot_scans = collections.Counter(compress(hour_ids, map(operator.and_, bots, scanned)))
    # First and last click times: a dict filled in time order keeps the last value per
    # key, in reverse the first.
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    in_time = list(map(stamps.__getitem__, order))
    hours_in_time = list(map(hour_ids.__getitem__, order))
    last = dict(zip(hours_in_time, in_time, strict=True))
    first = dict(zip(reversed(hours_in_time), reversed(in_time), strict=True))
    hour_cells = {
        (info.db_pk, info.campaign_db_pk, hour): [
            human_clicks[i],
            bot_clicks[i],
            human_scans[i],
            bot_scans[i],
            first[i],
            last[i],
        ]
        for (ref, hour), i in hour_of.items()
        for info in (info_of[ref],)
    }
    # Each click's (link, day, is_bot) as a small integer, then a Counter per dimension.
    days = map(operator.sub, hours, map(operator.mod, hours, repeat(86400.0)))
    day_keys = list(zip(refs, days, bots, strict=True))
    day_of = {key: i for i, key in enumerate(dict.fromkeys(day_keys))}
    day_ids = list(map(day_of.__getitem__, day_keys))
    day_list = list(day_of)
    day_cells: dict[Any, list[int]] = {}
    for dimension, values in (
        ("outcome", outcomes),
        ("channel", channels),
        ("country", countries),
        ("device", devices),
        ("variant", variants),
    ):
        for (cell, value), n in collections.Counter(zip(day_ids, values, strict=True)).items():
            ref, day, is_bot = day_list[cell]
            info = info_of[ref]
            key = (info.db_pk, info.campaign_db_pk, day, dimension, value)
            _add_clicks(day_cells, key, 0 if is_bot else n, n if is_bot else 0)
    # Why the bots are bots: only bot clicks have a row.
    bot_reasons = zip(compress(day_ids, bots), compress(reasons, bots), strict=True)
    for (cell, reason), n in collections.Counter(bot_reasons).items():
        ref, day, _ = day_list[cell]
        info = info_of[ref]
        key = (info.db_pk, info.campaign_db_pk, day, "bot_reason", reason or UNKNOWN_BOT_REASON)
        _add_clicks(day_cells, key, 0, n)
    write_rollups(hour_cells, day_cells, context)

    humans = list(map(operator.not_, bots))
    seen = list(map(operator.and_, humans, map(bool, ips)))  # humans with an ip_hash
    visitors = set(
        zip(
            compress(links, seen),
            compress(hours, seen),
            hash_64(compress(ips, seen)),
            strict=True,
        )
    )

    with_message = list(map(bool, sms))
    messages = list(zip(links, sms, strict=True))
    human_message = list(map(operator.and_, with_message, humans))
    human_counts = collections.Counter(compress(messages, human_message))
    bot_counts = collections.Counter(compress(messages, map(operator.and_, with_message, bots)))
    messages_in_time = list(map(messages.__getitem__, order))
    last_message = dict(
        compress(zip(messages_in_time, in_time, strict=True), map(with_message.__getitem__, order))
    )
    first_human = dict(
        compress(
            zip(reversed(messages_in_time), reversed(in_time), strict=True),
            map(human_message.__getitem__, reversed(order)),
        )
    )

    db_hour = context.db_datetimes(hours).__getitem__
    upsert(
        ClickVisitor,
        ("link", "hour", "visitor"),
        ("link", "hour", "visitor"),
        "",
        [(link, db_hour(hour), visitor) for link, hour, visitor in visitors],
    )
    keys = list(last_message)
    db_message: dict[Any, Any] = context.db_datetimes(
        itertools.chain(first_human.values(), last_message.values())
    )
    upsert(
        MessageClick,
        (
            "link",
            "sms_msg_id",
            "human_clicks",
            "bot_clicks",
            "first_human_click_at",
            "last_click_at",
        ),
        ("link", "sms_msg_id"),
        ", ".join(
            (
                sum_update(MessageClick, "human_clicks"),
                sum_update(MessageClick, "bot_clicks"),
                min_update(MessageClick, "first_human_click_at"),
                max_update(MessageClick, "last_click_at"),
            )
        ),
        list(
            zip(
                map(operator.itemgetter(0), keys),
                map(operator.itemgetter(1), keys),
                map(human_counts.get, keys, repeat(0)),
                map(bot_counts.get, keys, repeat(0)),
                map(db_message.get, map(first_human.get, keys)),
                map(db_message.__getitem__, map(last_message.__getitem__, keys)),
                strict=True,
            )
        ),
    )


def click_payload(click: _Click) -> dict[str, Any]:
    """The JSON body of a click notification (docs/CONFIGURATION.md, "Click webhooks")."""
    return {
        "type": "link.clicked",
        "event_id": click.event_id,
        "clicked_at": datetime.fromtimestamp(click.ts, UTC).isoformat().replace("+00:00", "Z"),
        "link_id": str(click.link.pk),
        "campaign_id": None if click.link.campaign_pk is None else str(click.link.campaign_pk),
        "sms_msg_id": click.sms_msg_id,
        "is_bot": click.is_bot,
        "variant": click.variant or None,
        "country": click.country or None,
        "device": click.device,
        "outcome": click.outcome,
        "channel": click.channel or None,
    }


def _write_deliveries(clicks: list[_Click], context: _Context) -> int:
    webhooks = context.account_webhooks()
    if not webhooks:
        return 0
    now = datetime.now(UTC)
    rows = []
    for click in clicks:
        for webhook_pk, include_bots in webhooks.get(click.link.account_id, ()):
            if click.is_bot and not include_bots:
                continue
            rows.append(
                ClickWebhookDelivery(
                    webhook_id=webhook_pk,
                    event_id=click.event_id,
                    payload=click_payload(click),
                    subject_hashes=delivery_subject_hashes(
                        ip_hash=click.ip_hash, click_id=click.click_session_id
                    ),
                    next_attempt_at=now,
                )
            )
    ClickWebhookDelivery.objects.bulk_create(rows, batch_size=SQL_CHUNK, ignore_conflicts=True)
    return len(rows)


def _send_signals(clicks: list[_Click]) -> None:
    if not link_clicked.has_listeners(Link):
        return
    links = Link.objects.select_related("campaign").in_bulk({c.link.pk for c in clicks})
    for click in clicks:
        link = links[click.link.pk]
        link_clicked.send(
            sender=Link,
            link=link,
            campaign=link.campaign,
            event_id=click.event_id,
            sms_msg_id=click.sms_msg_id,
            clicked_at=datetime.fromtimestamp(click.ts, UTC),
            is_bot=click.is_bot,
            variant=click.variant or None,
            country=click.country or None,
            device=click.device,
            outcome=click.outcome,
            channel=click.channel or None,
        )

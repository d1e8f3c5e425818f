"""Reconciliation: does DynamoDB hold what the database says it should?

Compares every link with its runtime record (present, ``runtime_version``, ``active``) and
reports drift by kind. Repairs go through the outbox like any other publish, so a repair is
versioned, retried and recorded; nothing is written to DynamoDB behind the outbox's back,
except for orphans (records whose link no longer exists), which are switched off.

With ``SECONDARY_REGION`` set, both replicas of the global table are compared with the
database, each on its own: drift on one replica only is replication that has not caught up (or
a write that went to the secondary during an outage and has not come back), and each
``Drift`` says which replica (``primary`` or ``secondary``) it was found on. A repair is one
republish per link however many replicas drifted: the newer version reaches both.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from django.db.models import QuerySet

from link_tracking_runtime.record import SK_PREFIX, item_key

from ..aws import runtime_table, secondary_runtime_table
from ..models import Link
from .links import republish_link

__all__ = ["DRIFT_KINDS", "REPLICAS", "Drift", "ReconcileReport", "reconcile"]

logger = logging.getLogger(__name__)

DriftKind = Literal["missing", "stale_version", "ahead_version", "active_mismatch", "orphan"]
#: missing: the link has no record. stale_version: the record is an older version than the
#: database (a publish has not landed yet, or was lost). ahead_version: the record is newer
#: than the database (the database was restored from a backup). active_mismatch: same version,
#: different ``active`` (written around the outbox). orphan: a record with no link.
DRIFT_KINDS: tuple[DriftKind, ...] = (
    "missing",
    "stale_version",
    "ahead_version",
    "active_mismatch",
    "orphan",
)
Replica = Literal["primary", "secondary"]
REPLICAS: tuple[Replica, ...] = ("primary", "secondary")
#: "Not given": the secondary replica is then the configured one (``SECONDARY_REGION``).
_CONFIGURED: Any = object()
_PROJECTION = {"#pk": "PK", "#sk": "SK", "#v": "runtime_version", "#a": "active", "#l": "link_id"}


@dataclasses.dataclass(frozen=True)
class Drift:
    kind: DriftKind
    key: tuple[str, str]
    link_id: str | None
    database_version: int | None
    stored_version: int | None
    replica: Replica = "primary"


@dataclasses.dataclass
class ReconcileReport:
    checked: int = 0
    drift: list[Drift] = dataclasses.field(default_factory=list)
    fixed: int = 0
    #: The replicas compared: ``("primary",)``, or both.
    replicas: tuple[Replica, ...] = ("primary",)

    def counts(self, replica: Replica | None = None) -> dict[str, int]:
        """Drift by kind, on ``replica`` or (``None``) on every replica compared."""
        counts: dict[str, int] = dict.fromkeys(DRIFT_KINDS, 0)
        for item in self.drift:
            if replica is None or item.replica == replica:
                counts[item.kind] += 1
        return counts

    @property
    def clean(self) -> bool:
        return not self.drift


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _batch_get(table: Any, keys: Sequence[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Consistent BatchGetItem of ``keys`` (100 a call), following UnprocessedKeys."""
    client = table.meta.client
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for chunk in _chunks(list(keys), 100):
        request: dict[str, Any] = {
            table.name: {
                "Keys": list(chunk),
                "ConsistentRead": True,
                "ProjectionExpression": ", ".join(_PROJECTION),
                "ExpressionAttributeNames": _PROJECTION,
            }
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table.name, []):
                found[(item["PK"], item["SK"])] = item
            request = response.get("UnprocessedKeys") or {}
    return found


def _stored_keys(table: Any) -> Iterable[dict[str, Any]]:
    """Every record of the table (a paginated scan; counter items skipped)."""
    kwargs: dict[str, Any] = {
        "ProjectionExpression": ", ".join(_PROJECTION),
        "ExpressionAttributeNames": _PROJECTION,
    }
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            if str(item.get("SK", "")).startswith(SK_PREFIX):
                yield item
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reconcile(
    links: QuerySet[Link] | None = None,
    *,
    table: Any = None,
    secondary: Any = _CONFIGURED,
    fix: bool = False,
    orphans: bool = False,
) -> ReconcileReport:
    """Compare ``links`` (default: all) with the runtime table's primary replica (``table``)
    and, when there is one, its secondary replica (``secondary``; default: the configured
    one, or none); with ``fix``, repair.

    ``orphans`` also scans each replica for records without a link (a full scan: costly on
    a big table, so off by default).
    """
    tables: dict[Replica, Any] = {"primary": table or runtime_table()}
    other = secondary_runtime_table() if secondary is _CONFIGURED else secondary
    if other is not None:
        tables["secondary"] = other
    report = ReconcileReport(replicas=tuple(tables))
    links = (links if links is not None else Link.objects.all()).select_related("domain")
    # Links on unverified domains are never published: they expect no record (a record under
    # such a domain is an orphan, found with ``orphans``).
    links = links.filter(domain__verified_at__isnull=False)
    expected: dict[tuple[str, str], Link] = {}
    for link in links.iterator(chunk_size=1000):
        record_key = item_key(link.domain.domain_name, link.slug_canonical)
        expected[(record_key["PK"], record_key["SK"])] = link
    report.checked = len(expected)
    for replica, replica_table in tables.items():
        report.drift.extend(_compare(replica, replica_table, expected, orphans=orphans))

    if fix:
        report.fixed = _repair(tables, report.drift, expected)
    logger.info(
        "reconcile: %d links checked on %s, drift %s, %d repairs",
        report.checked,
        " and ".join(tables),
        report.counts(),
        report.fixed,
    )
    return report


def _compare(
    replica: Replica, table: Any, expected: dict[tuple[str, str], Link], *, orphans: bool
) -> list[Drift]:
    """The drift of one replica from the database."""
    drift: list[Drift] = []
    stored = _batch_get(table, [{"PK": pk, "SK": sk} for pk, sk in expected])
    for key, link in expected.items():
        item = stored.get(key)
        version = int(link.runtime_version)
        if item is None:
            drift.append(Drift("missing", key, str(link.pk), version, None, replica))
            continue
        stored_version = int(item.get("runtime_version", 0))
        active = bool(link.active and link.domain.serves_links)
        kind: DriftKind | None = None
        if stored_version < version:
            kind = "stale_version"
        elif stored_version > version:
            kind = "ahead_version"
        elif bool(item.get("active")) != active:
            kind = "active_mismatch"
        if kind:
            drift.append(Drift(kind, key, str(link.pk), version, stored_version, replica))

    if orphans:
        for item in _stored_keys(table):
            key = (item["PK"], item["SK"])
            if key not in expected:
                drift.append(
                    Drift(
                        "orphan",
                        key,
                        item.get("link_id"),
                        None,
                        int(item.get("runtime_version", 0)),
                        replica,
                    )
                )
    return drift


def _repair(
    tables: dict[Replica, Any], drift: Sequence[Drift], expected: dict[tuple[str, str], Link]
) -> int:
    """Switch orphans off on the replica that holds them; republish each drifted link once,
    above the highest version any replica holds."""
    fixed = 0
    floors: dict[tuple[str, str], int | None] = {}
    for item in drift:
        if item.kind == "orphan":
            tables[item.replica].update_item(
                Key={"PK": item.key[0], "SK": item.key[1]},
                UpdateExpression="SET active = :false",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":false": False},
            )
            fixed += 1
            continue
        # A record ahead of the database needs a version above it, or the conditional
        # write would call the repair "already applied".
        floor = (item.stored_version or 0) + 1 if item.kind == "ahead_version" else None
        previous = floors.get(item.key)
        floors[item.key] = max(previous or 0, floor or 0) or None
    for key, floor in floors.items():
        republish_link(expected[key], at_least=floor)
        fixed += 1
    return fixed

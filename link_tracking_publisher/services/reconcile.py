"""Reconciliation: does DynamoDB hold what the database says it should?

Compares every link with its runtime record (present, ``runtime_version``, ``active``) and
reports drift by kind. Repairs go through the outbox like any other publish, so a repair is
versioned, retried and recorded; nothing is written to DynamoDB behind the outbox's back,
except for orphans (records whose link no longer exists), which are switched off.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from django.db.models import QuerySet

from link_tracking_runtime.record import SK_PREFIX, item_key

from ..aws import runtime_table
from ..models import Link
from .links import republish_link

__all__ = ["DRIFT_KINDS", "Drift", "ReconcileReport", "reconcile"]

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
_PROJECTION = {"#pk": "PK", "#sk": "SK", "#v": "runtime_version", "#a": "active", "#l": "link_id"}


@dataclasses.dataclass(frozen=True)
class Drift:
    kind: DriftKind
    key: tuple[str, str]
    link_id: str | None
    database_version: int | None
    stored_version: int | None


@dataclasses.dataclass
class ReconcileReport:
    checked: int = 0
    drift: list[Drift] = dataclasses.field(default_factory=list)
    fixed: int = 0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(DRIFT_KINDS, 0)
        for item in self.drift:
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
    fix: bool = False,
    orphans: bool = False,
) -> ReconcileReport:
    """Compare ``links`` (default: all) with the runtime table; with ``fix``, repair.

    ``orphans`` also scans the whole table for records without a link (a full scan: costly on
    a big table, so off by default).
    """
    table = table or runtime_table()
    report = ReconcileReport()
    links = (links if links is not None else Link.objects.all()).select_related("domain")
    # Links on unverified domains are never published: they expect no record (a record under
    # such a domain is an orphan, found with ``orphans``).
    links = links.filter(domain__verified_at__isnull=False)
    expected: dict[tuple[str, str], Link] = {}
    for link in links.iterator(chunk_size=1000):
        record_key = item_key(link.domain.domain_name, link.slug_canonical)
        expected[(record_key["PK"], record_key["SK"])] = link
    report.checked = len(expected)

    stored = _batch_get(table, [{"PK": pk, "SK": sk} for pk, sk in expected])
    for key, link in expected.items():
        item = stored.get(key)
        version = int(link.runtime_version)
        if item is None:
            report.drift.append(Drift("missing", key, str(link.pk), version, None))
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
            report.drift.append(Drift(kind, key, str(link.pk), version, stored_version))

    if orphans:
        for item in _stored_keys(table):
            key = (item["PK"], item["SK"])
            if key not in expected:
                report.drift.append(
                    Drift(
                        "orphan",
                        key,
                        item.get("link_id"),
                        None,
                        int(item.get("runtime_version", 0)),
                    )
                )

    if fix:
        report.fixed = _repair(table, report.drift, expected)
    logger.info(
        "reconcile: %d links checked, drift %s, %d repairs",
        report.checked,
        report.counts(),
        report.fixed,
    )
    return report


def _repair(table: Any, drift: Sequence[Drift], expected: dict[tuple[str, str], Link]) -> int:
    fixed = 0
    for item in drift:
        if item.kind == "orphan":
            table.update_item(
                Key={"PK": item.key[0], "SK": item.key[1]},
                UpdateExpression="SET active = :false",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":false": False},
            )
        else:
            link = expected[item.key]
            # A record ahead of the database needs a version above it, or the conditional
            # write would call the repair "already applied".
            floor = (item.stored_version or 0) + 1 if item.kind == "ahead_version" else None
            republish_link(link, at_least=floor)
        fixed += 1
    return fixed

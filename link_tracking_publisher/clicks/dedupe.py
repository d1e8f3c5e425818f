"""Counting each click event once: its ``event_id``'s 64-bit key inserted into
:class:`~..models.ClickEventKey` (``ON CONFLICT DO NOTHING RETURNING``: only the keys a
transaction inserted are new events), and the keys pruned past the dedupe horizon."""

from __future__ import annotations

import operator
import time
from collections.abc import Iterable
from itertools import repeat
from typing import Any

from ..conf import app_settings
from ..models import ClickEventKey
from .bulk_sql import SQL_CHUNK, bulk_cursor, column, hash_64, table

__all__ = ["event_key", "event_keys", "insert_keys", "oldest_accepted", "prune_event_keys"]


def event_key(event_id: str) -> int:
    """The 64-bit dedupe key of an ``event_id`` (see :class:`~..models.ClickEventKey`)."""
    return hash_64((event_id,))[0]


def event_keys(event_ids: Iterable[str]) -> list[int]:
    """:func:`event_key` of each ``event_id``, in order."""
    return hash_64(event_ids)


def oldest_accepted(now: float) -> float:
    """The oldest event timestamp ingested at ``now``: older events might have had their
    dedupe key pruned already, so they are skipped as ``too_old`` rather than risk counting
    one twice. ``0`` when ``CLICK_DEDUPE_HORIZON_DAYS`` is ``None`` (keys kept forever)."""
    days = app_settings.CLICK_DEDUPE_HORIZON_DAYS
    return 0.0 if days is None else now - days * 86400


def prune_event_keys(now: float | None = None) -> int:
    """Delete the dedupe keys of whole UTC days that end before :func:`oldest_accepted`:
    events of those days are skipped as ``too_old`` from now on, so their keys are never
    needed again. Returns how many keys were deleted."""
    if app_settings.CLICK_DEDUPE_HORIZON_DAYS is None:
        return 0
    now = time.time() if now is None else now
    first_kept_day = int(oldest_accepted(now) // 86400)
    deleted, _ = ClickEventKey.objects.filter(day__lt=first_kept_day).delete()
    return deleted


def insert_keys(first: dict[int, int], stamps: list[float]) -> list[int]:
    """The keys of ``first`` (key → index of its event) this transaction inserted (events
    not already ingested). They are inserted in key order, so each statement walks the key's
    B-tree in one direction."""
    new: list[int] = []
    keys_table = table(ClickEventKey)
    key, day = column(ClickEventKey, "key"), column(ClickEventKey, "day")
    keys = sorted(first)
    days = map(
        operator.floordiv, map(stamps.__getitem__, map(first.__getitem__, keys)), repeat(86400)
    )
    values: list[Any] = [None] * (2 * len(keys))  # key, day, key, day, …
    values[0::2] = keys
    values[1::2] = map(int, days)
    with bulk_cursor() as (cursor, p):
        for start in range(0, len(keys), SQL_CHUNK):
            part = values[2 * start : 2 * (start + SQL_CHUNK)]
            cursor.execute(
                f"INSERT INTO {keys_table} ({key}, {day}) VALUES "
                + ",".join([f"({p},{p})"] * (len(part) // 2))
                + f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}",
                part,
            )
            new.extend(row[0] for row in cursor.fetchall())
    return new

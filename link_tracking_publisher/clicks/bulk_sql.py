"""The bulk statements ingestion and the roll-up rebuilds write with: multi-row
``INSERT … ON CONFLICT`` (the same text on SQLite 3.35+ and PostgreSQL), on the DB-API
cursor, :data:`SQL_CHUNK` rows per statement, and the 64-bit hashes the keys are made of."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection

__all__ = [
    "SQL_CHUNK",
    "bulk_cursor",
    "column",
    "hash_64",
    "max_update",
    "min_update",
    "sum_update",
    "table",
    "upsert",
]

SQL_CHUNK = 500  # keys per multi-row INSERT … RETURNING (well under either database's limits)


def table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: Any, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def hash_64(texts: Iterable[str]) -> list[int]:
    """The first 64 bits of each text's BLAKE2b hash, as signed integers (the dedupe and
    visitor keys)."""
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    return [
        from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
        for text in texts
    ]


@contextlib.contextmanager
def bulk_cursor() -> Iterator[tuple[Any, str]]:
    """A cursor for the bulk statements and its placeholder: the DB-API connection's own
    cursor with the driver's native paramstyle (no per-statement placeholder rewriting and
    wrapper calls; same connection, so inside Django's transaction, errors translated to
    Django's), or Django's cursor while anything watches those (a query log under DEBUG or
    CaptureQueriesContext, an ``execute_wrapper``), so they still see every statement."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            yield cursor, "%s"
        return
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            yield cursor, "?" if connection.vendor == "sqlite" else "%s"
        finally:
            cursor.close()


def upsert(
    model: Any,
    fields: Sequence[str],
    keys: Sequence[str],
    updates: str,
    rows: list[tuple[Any, ...]],
) -> None:
    """INSERT … ON CONFLICT for all rows, :data:`SQL_CHUNK` rows per statement (one round
    trip and one statement to plan per chunk, on PostgreSQL as on SQLite). Rows go in the
    order of the conflict key's index, so the statements walk its B-tree in one direction
    instead of jumping to a random page per row."""
    if not rows:
        return
    assert tuple(fields[: len(keys)]) == tuple(keys), "rows start with their conflict key"
    rows.sort()  # by the conflict key (unique, so the columns after it never decide)
    columns = ", ".join(column(model, f) for f in fields)
    conflict = ", ".join(column(model, f) for f in keys)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    with bulk_cursor() as (cursor, p):
        placeholder = "(" + ", ".join([p] * len(fields)) + ")"
        for start in range(0, len(rows), SQL_CHUNK):
            part = rows[start : start + SQL_CHUNK]
            cursor.execute(
                f"INSERT INTO {table(model)} ({columns}) VALUES "
                + ", ".join([placeholder] * len(part))
                + f" ON CONFLICT ({conflict}) {action}",
                list(itertools.chain.from_iterable(part)),
            )


def min_update(model: Any, field: str) -> str:
    t, c = table(model), column(model, field)
    return (
        f"{c} = CASE WHEN excluded.{c} IS NULL THEN {t}.{c} "
        f"WHEN {t}.{c} IS NULL OR excluded.{c} < {t}.{c} THEN excluded.{c} ELSE {t}.{c} END"
    )


def max_update(model: Any, field: str) -> str:
    t, c = table(model), column(model, field)
    return (
        f"{c} = CASE WHEN excluded.{c} IS NULL THEN {t}.{c} "
        f"WHEN {t}.{c} IS NULL OR excluded.{c} > {t}.{c} THEN excluded.{c} ELSE {t}.{c} END"
    )


def sum_update(model: Any, field: str) -> str:
    t, c = table(model), column(model, field)
    return f"{c} = {t}.{c} + excluded.{c}"

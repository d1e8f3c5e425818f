"""Where click events are read from: local NDJSON files and folders, and S3 objects (NDJSON,
or the Parquet that Firehose writes through the Glue table's schema).

Each source is a list of :class:`SourceObject`; each object is read from a position (a byte
offset for NDJSON, a row number for Parquet) in chunks of raw records, so ingestion can
checkpoint after every chunk and memory stays flat whatever the object's size.

Parquet is read with DuckDB, which the statistics' SQL (:mod:`.queries`) needs anyway: one
engine for both, no pyarrow (a second, larger native dependency) for the same files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from link_tracking_runtime.events import CLICK_EVENT_COLUMNS

__all__ = [
    "MAX_LINE_BYTES",
    "READ_BLOCK_BYTES",
    "Chunk",
    "SourceError",
    "SourceObject",
    "local_objects",
    "parse_s3_url",
    "read_chunks",
    "s3_object",
    "s3_objects",
]

PARQUET_MAGIC = b"PAR1"
#: A line longer than this is not a click event (the runtime's are well under 4 KiB).
MAX_LINE_BYTES = 64 * 1024
#: How much of an NDJSON file is read at a time.
READ_BLOCK_BYTES = 1024 * 1024
#: The event columns ingestion reads from Parquet (forwarded_params is not counted).
_PARQUET_COLUMNS = tuple(name for name, _ in CLICK_EVENT_COLUMNS if name != "forwarded_params")


class SourceError(Exception):
    """A source that cannot be read at all (missing path, bucket, permission)."""


@dataclasses.dataclass(frozen=True)
class SourceObject:
    """One file or S3 object. ``key`` names it in checkpoints; ``growing`` is true for the
    local file the runtime appends to, whose unterminated last line is not read yet."""

    key: str
    path: Path | None = None
    bucket: str | None = None
    s3_key: str | None = None
    s3_client: Any = None
    growing: bool = False

    @contextlib.contextmanager
    def local_path(self) -> Iterator[Path]:
        """A local file with the object's bytes (S3 objects are downloaded to a temp file)."""
        if self.path is not None:
            yield self.path
            return
        handle, name = tempfile.mkstemp(prefix="click-events-")
        try:
            with os.fdopen(handle, "wb") as out:
                self.s3_client.download_fileobj(self.bucket, self.s3_key, out)
            yield Path(name)
        finally:
            os.unlink(name)


@dataclasses.dataclass
class Chunk:
    """Raw records (``dict`` per event, or ``bytes`` for a line that is not JSON yet) and the
    position just past them. ``errors`` are problems of the object itself (a truncated file)."""

    records: list[Any]
    position: int
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def parse_s3_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise SourceError(f"{url!r} is not an s3://bucket/prefix URL.")
    return parts.netloc, parts.path.lstrip("/")


def local_objects(path: Path) -> list[SourceObject]:
    """A file, or every file under a folder (sorted, hidden files skipped)."""
    if path.is_file():
        return [SourceObject(key=f"file:{path.resolve()}", path=path, growing=True)]
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        return [SourceObject(key=f"file:{p.resolve()}", path=p, growing=True) for p in files]
    raise SourceError(f"{path} is neither a file nor a folder.")


def s3_object(client: Any, bucket: str, key: str) -> SourceObject:
    return SourceObject(key=f"s3://{bucket}/{key}", bucket=bucket, s3_key=key, s3_client=client)


def s3_objects(client: Any, bucket: str, prefix: str) -> list[SourceObject]:
    """Every object under the prefix (a backfill; production finds new objects through SQS)."""
    objects = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                objects.append(s3_object(client, bucket, item["Key"]))
    return objects


def read_chunks(
    path: Path, position: int, chunk_size: int, *, growing: bool = False
) -> Iterator[Chunk]:
    """The records of one local file from ``position`` on, NDJSON or Parquet by content."""
    with path.open("rb") as handle:
        magic = handle.read(4)
        # A Parquet file starts and ends with the magic around at least a 4-byte footer length
        # (12 bytes); a short text that merely begins with it is an NDJSON line.
        size = handle.seek(0, 2)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if magic == PARQUET_MAGIC and tail == PARQUET_MAGIC and size >= 12:
        yield from _parquet_chunks(path, position, chunk_size)
    else:
        yield from _ndjson_chunks(path, position, chunk_size, growing=growing)


def _ndjson_chunks(path: Path, position: int, chunk_size: int, *, growing: bool) -> Iterator[Chunk]:
    """Lines in blocks of :data:`READ_BLOCK_BYTES`, split in C (a ``readline`` and ``tell``
    per line cost more than parsing it); memory holds a block and at most one line start,
    whatever the file (a line over :data:`MAX_LINE_BYTES` is skipped to its end unread)."""
    size = path.stat().st_size
    if position > size:  # the file was replaced by a shorter one: read it again (dedupe holds)
        position = 0
    oversized = ("oversized_field", f"a line over {MAX_LINE_BYTES} bytes")
    records: list[Any] = []
    errors: list[tuple[str, str]] = []
    with path.open("rb") as handle:
        handle.seek(position)
        tail = b""  # the start of a line whose end is not read yet
        skipping = False  # inside a line over MAX_LINE_BYTES: read on to its end
        while block := handle.read(READ_BLOCK_BYTES):
            if skipping:
                end = block.find(b"\n")
                if end < 0:
                    position += len(block)
                    continue
                position += end + 1
                block = block[end + 1 :]
                skipping = False
                errors.append(oversized)
            lines = (tail + block).split(b"\n")
            tail = lines.pop()  # not ended in what was read
            start = 0
            while start < len(lines):
                part = lines[start : start + chunk_size - len(records)]
                start += len(part)
                position += sum(map(len, part)) + len(part)  # each with its newline
                if max(map(len, part)) > MAX_LINE_BYTES:
                    errors.extend(oversized for line in part if len(line) > MAX_LINE_BYTES)
                    part = [line for line in part if len(line) <= MAX_LINE_BYTES]
                records.extend(itertools.compress(part, map(bytes.strip, part)))  # no blanks
                if len(records) >= chunk_size:
                    yield Chunk(records, position, errors)
                    records, errors = [], []
            if len(tail) > MAX_LINE_BYTES:  # an oversized line: skip to its end
                position += len(tail)
                tail, skipping = b"", True
        if skipping:  # an oversized line that runs to the end of the file
            errors.append(oversized)
        elif tail and not growing:  # a growing file's last line is still being written
            errors.append(("truncated_object", tail[:200].decode("utf-8", "replace")))
            position += len(tail)
        if records or errors:
            yield Chunk(records, position, errors)


def _parquet_chunks(path: Path, position: int, chunk_size: int) -> Iterator[Chunk]:
    # Imported here: DuckDB takes about 0.1 s to import, and only a Parquet object needs it.
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        try:
            present = {
                row[0]
                for row in con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
                ).fetchall()
            }
            columns = [name for name in _PARQUET_COLUMNS if name in present]
            if not columns:
                raise duckdb.Error("no click event columns")
            select = ", ".join(f'"{name}"' for name in columns)
            cursor = con.execute(
                f"SELECT {select} FROM read_parquet(?) OFFSET {int(position)}", [str(path)]
            )
            while True:
                rows = cursor.fetchmany(chunk_size)
                if not rows:
                    break
                position += len(rows)
                yield Chunk([dict(zip(columns, row, strict=True)) for row in rows], position)
        except duckdb.Error as exc:
            yield Chunk([], position, [("truncated_object", f"unreadable Parquet: {exc}")])
    finally:
        con.close()

"""The NDJSON reader: block reads split in C give the lines, positions and errors that reading
line by line gives, wherever the blocks end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis.strategies as st
from hypothesis import given, settings

from link_tracking_publisher.clicks import sources
from link_tracking_publisher.clicks.sources import read_chunks

LIMIT = 8  # MAX_LINE_BYTES in these tests, so oversized lines are short to generate


def line_by_line(path: Path, position: int, size: int, growing: bool) -> Iterator[Any]:
    """The reader's contract, written the obvious way: one ``readline`` per line."""
    with path.open("rb") as handle:
        handle.seek(position)
        records: list[bytes] = []
        errors: list[tuple[str, str]] = []
        while line := handle.readline(LIMIT + 1):
            if not line.endswith(b"\n"):
                if len(line) > LIMIT:
                    while line and not line.endswith(b"\n"):
                        line = handle.readline(LIMIT)
                    errors.append(("oversized_field", f"a line over {LIMIT} bytes"))
                    position = handle.tell()
                    continue
                if growing:
                    break
                errors.append(("truncated_object", line[:200].decode("utf-8", "replace")))
                position = handle.tell()
                break
            position = handle.tell()
            if line.strip():
                records.append(line[:-1])
            if len(records) >= size:
                yield records, position, errors
                records, errors = [], []
        if records or errors:
            yield records, position, errors


_LINE = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x")) | st.sampled_from(
    [b"", b"  ", b'{"a":1}', b"y" * 30]
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    lines=st.lists(_LINE, max_size=12),
    unterminated=_LINE,
    block=st.integers(1, 40),
    size=st.integers(1, 5),
    growing=st.booleans(),
    start=st.integers(0, 3),
)
def test_blocks_read_as_lines_do(
    tmp_path_factory: Any,
    lines: list[bytes],
    unterminated: bytes,
    block: int,
    size: int,
    growing: bool,
    start: int,
) -> None:
    path = tmp_path_factory.mktemp("ndjson") / "e.ndjson"
    path.write_bytes(b"".join(line + b"\n" for line in lines) + unterminated)
    position = min(start, path.stat().st_size)
    expected = list(line_by_line(path, position, size, growing))
    with (
        mock.patch.object(sources, "READ_BLOCK_BYTES", block),
        mock.patch.object(sources, "MAX_LINE_BYTES", LIMIT),
    ):
        got = [
            (c.records, c.position, c.errors)
            for c in read_chunks(path, position, size, growing=growing)
        ]
    assert got == expected


def test_a_short_text_that_begins_like_parquet_is_an_ndjson_line(tmp_path: Any) -> None:
    # Parquet is told by its magic at both ends (12 bytes at least), not by the first four.
    path = tmp_path / "e.ndjson"
    path.write_bytes(b"PAR1")
    expected = list(line_by_line(path, 0, 1, False))
    got = [(c.records, c.position, c.errors) for c in read_chunks(path, 0, 1, growing=False)]
    assert got == expected and got[0][1] == 4

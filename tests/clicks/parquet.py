"""Click events written as Firehose writes them through the Glue table: Parquet, Snappy."""

from __future__ import annotations

from pathlib import Path

import duckdb

from link_tracking_publisher.clicks.queries import duckdb_columns
from link_tracking_runtime.events import ClickEvent, encode_event


def write_parquet(path: Path, events: list[ClickEvent]) -> Path:
    ndjson = path.with_suffix(".ndjson")
    ndjson.write_bytes(b"".join(encode_event(e) for e in events))
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            f"COPY (SELECT * FROM read_json(?, format='newline_delimited', "
            f"columns={duckdb_columns()})) TO '{path}' (FORMAT PARQUET, COMPRESSION SNAPPY)",
            [str(ndjson)],
        )
    finally:
        con.close()
    ndjson.unlink()
    return path

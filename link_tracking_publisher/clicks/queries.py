"""The click statistics as SQL over the raw click events (the Glue table's columns): one
definition, generated for Athena (at scale) and for DuckDB (local files, and the tests).
Filled in below."""

from __future__ import annotations

from link_tracking_runtime.events import CLICK_EVENT_COLUMNS

__all__ = ["duckdb_columns"]

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
}


def duckdb_columns() -> str:
    """The event columns as a DuckDB ``columns={…}`` struct literal (``read_json``)."""
    body = ", ".join(f"'{name}': '{_DUCKDB_TYPES[kind]}'" for name, kind in CLICK_EVENT_COLUMNS)
    return "{" + body + "}"

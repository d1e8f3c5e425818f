"""The device class of a click, from its User-Agent (a breakdown dimension, not a bot test:
bot classification is the runtime's, carried in the event's ``is_bot``).

The rules are data, so the same classification runs in Python at ingestion
(:func:`device_of`) and in SQL over the raw events (:func:`device_sql`, for Athena/DuckDB).
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["DEVICES", "DEVICE_RULES", "device_of", "device_sql"]

#: Every value :func:`device_of` returns.
DEVICES = ("mobile", "tablet", "desktop", "other", "unknown")

#: (device, substrings that must all be in the lower-cased UA, substrings that must not be),
#: first match wins; no match is ``other`` (scripts, crawlers, previews), no UA ``unknown``.
DEVICE_RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("tablet", ("ipad",), ()),
    ("tablet", ("tablet",), ()),
    ("tablet", ("android",), ("mobile",)),
    ("mobile", ("mobi",), ()),
    ("mobile", ("iphone",), ()),
    ("mobile", ("ipod",), ()),
    ("desktop", ("windows nt",), ()),
    ("desktop", ("macintosh",), ()),
    ("desktop", ("x11",), ()),
    ("desktop", ("cros",), ()),
    ("desktop", ("linux",), ()),
)


@lru_cache(maxsize=8192)  # a campaign's clicks come from few distinct User-Agents
def device_of(user_agent: str | None) -> str:
    if not user_agent:
        return "unknown"
    ua = user_agent.lower()
    for device, present, absent in DEVICE_RULES:
        if all(s in ua for s in present) and not any(s in ua for s in absent):
            return device
    return "other"


def device_sql(column: str = "user_agent") -> str:
    """:func:`device_of` as a SQL expression (``strpos``: Trino/Athena and DuckDB)."""
    ua = f"lower({column})"
    whens = []
    for device, present, absent in DEVICE_RULES:
        conditions = [f"strpos({ua}, '{s}') > 0" for s in present]
        conditions += [f"strpos({ua}, '{s}') = 0" for s in absent]
        whens.append(f"WHEN {' AND '.join(conditions)} THEN '{device}'")
    return (
        f"CASE WHEN {column} IS NULL OR {column} = '' THEN 'unknown' "
        + " ".join(whens)
        + " ELSE 'other' END"
    )

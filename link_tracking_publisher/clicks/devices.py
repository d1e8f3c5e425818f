"""The device class of a click, from its User-Agent (a breakdown dimension, not a bot test:
bot classification is the runtime's, carried in the event's ``is_bot``)."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["DEVICES", "device_of"]

#: Every value :func:`device_of` returns.
DEVICES = ("mobile", "tablet", "desktop", "other", "unknown")


@lru_cache(maxsize=8192)  # a campaign's clicks come from few distinct User-Agents
def device_of(user_agent: str | None) -> str:
    """``mobile``, ``tablet``, ``desktop``, ``other`` (a UA naming no platform: scripts,
    crawlers, previews) or ``unknown`` (no UA)."""
    if not user_agent:
        return "unknown"
    ua = user_agent.lower()
    if "ipad" in ua or "tablet" in ua or ("android" in ua and "mobile" not in ua):
        return "tablet"
    if "mobi" in ua or "iphone" in ua or "ipod" in ua or "android" in ua:
        return "mobile"
    if any(platform in ua for platform in ("windows nt", "macintosh", "x11", "cros", "linux")):
        return "desktop"
    return "other"

"""The cache-hit fast path: a click on a plain link answered from a precomputed decision.

Most clicks are on a link whose record is in the cache, active, not expired, unsigned, without
``max_clicks`` and without routing rules. For such a link everything but a handful of values
is the same from one click to the next, so it is worked out once per record version
(:class:`HotLink`) and reused:

* the canonical host and slug of the request's ``Host`` and path;
* the policy (``active``, and ``expires_at_epoch`` as a time bound checked per click);
* the ``Location`` as a format string: the contract's :func:`build_redirect_url` run with
  placeholders for the click id and ``sms_msg_id``, each checked to occur exactly once, whose
  places are then filled per click with the values ``urlencode`` would write (the click id
  when ``quote`` leaves it alone, else its ``quote``; ``quote(value, safe="")`` for the SMS id).
  A link with ``click_ts`` gets a new one each second;
* the click event's constant columns (:class:`EventTemplate`).

Per click only the click id, the time, the visitor's headers and ``sms_msg_id`` are read, and
the click is handed to the emitter as a small tuple (:data:`~.emitter.DeferredClick`): the IP
hash, the final URL's hash and the JSON are made by the background drain, in the same bytes
:func:`~.emitter.encode_click_event` gives the slow path's event.

Anything else (a cache miss or a stale entry, a signed link, ``max_clicks``, routing rules, a
``geo`` param with a viewer country, a URL that is not a plain header value) goes to
:meth:`.redirect.Redirector.redirect`, which does everything step by step. The tests check that
both give the same ``Location`` and the same event (``tests/runtime/test_fastpath.py``).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Final

import orjson

from link_tracking_runtime import build_redirect_url, parse_request_query
from link_tracking_runtime.events import ClickEvent, encode_event

from .emitter import DeferredClick, event_values
from .store import CachedLink
from .visitor import IpHasher

__all__ = ["EventTemplate", "HotLink", "location_format", "request_param"]

# Letters and digits only (``quote`` leaves them alone), and neither is a border of itself or
# of the other, so an occurrence can only be the one the URL builder put there.
_P_ID: Final = "ltQclickidQ7b5e3c7a91f04d2e8f6aQ"
_P_SMS: Final = "ltQsmsmsgidQ0c9d8e7f6a5b4c3d2eQ"
_SMS: Final = "sms_msg_id"


def request_param(query_string: str, name: str) -> str | None:
    """``parse_request_query(query_string).get(name)``, without parsing the whole query when
    it holds no ``%`` or ``+`` (nothing to decode: names and values are as written)."""
    if "%" in query_string or "+" in query_string:
        return parse_request_query(query_string).get(name)
    if name not in query_string:
        return None
    for piece in query_string.split("&"):
        if piece.startswith(name):
            key, _, value = piece.partition("=")
            if key == name:
                return value
    return None


def location_format(record: Any, with_sms: bool, now: float) -> str:
    """The ``Location`` of a click on ``record`` (no routing, no geo country) as a
    ``str.format`` string: ``{0}`` the click id, ``{1}`` the SMS id, both as ``urlencode``
    writes them. ``""`` when the URL cannot be made that way (then the slow path builds it)."""
    template = build_redirect_url(
        record,
        click_id=_P_ID,
        now=now,
        request_params={_SMS: _P_SMS} if with_sms else None,
    )
    append = record.append_query_params
    allowlist = record.dynamic_param_allowlist
    ids = 1 if append and "click_id" in allowlist else 0
    sms = 1 if append and with_sms and _SMS in allowlist else 0
    if template.count(_P_ID) != ids or template.count(_P_SMS) != sms:
        return ""
    # What the slow path sends as it is (ASCII, printable, no space): values put in place of
    # the placeholders are ``quote`` output or a click id of letters, digits and "_.~-".
    if not template.isascii() or not template.isprintable() or " " in template:
        return ""
    return (
        template.replace("{", "{{").replace("}", "}}").replace(_P_ID, "{0}").replace(_P_SMS, "{1}")
    )


def _plain_float(value: float) -> bool:
    return value == 0.0 or 1e-4 <= abs(value) < 1e16


class EventTemplate:
    """The click event of one record version, but for the per-click values.

    A deferred click is ``(encode, click_id, now, ip, user_agent, referer, geo_country, is_bot,
    redirect_latency_ms, sms_msg_id, location)``, the strings already as the event holds them.
    """

    __slots__ = ("_base", "_hasher", "_link", "_reason", "_host", "_slug", "encode")

    def __init__(self, link: CachedLink, host: str, slug: str, hasher: IpHasher) -> None:
        self._link = link
        self._host = host
        self._slug = slug
        self._hasher = hasher
        self._reason = "invalid_rules" if link.routing_invalid else "default"
        self._base = event_values(self._event("", 0.0, "", "", False, 0, None, None, None, None))
        self.encode = self._encode

    def event(self, click: DeferredClick) -> ClickEvent:
        """The :class:`ClickEvent` of a deferred click (what the slow path would emit)."""
        _, click_id, now, ip, user_agent, referer, country, is_bot, latency, sms, location = click
        return self._event(
            click_id,
            now,
            self._hasher(ip),
            hashlib.sha256(location.encode()).hexdigest(),
            is_bot,
            latency,
            user_agent,
            referer,
            country,
            sms,
        )

    def _event(
        self,
        click_id: str,
        now: float,
        ip_hash: str,
        url_hash: str,
        is_bot: bool,
        latency: int,
        user_agent: str | None,
        referer: str | None,
        country: str | None,
        sms: str | None,
    ) -> ClickEvent:
        record = self._link.record
        return ClickEvent(
            event_id=click_id,
            timestamp=now,
            domain=self._host,
            slug=self._slug,
            click_session_id=click_id,
            ip_hash=ip_hash,
            final_url_hash=url_hash,
            is_bot=is_bot,
            redirect_latency_ms=latency,
            outcome="ok",
            link_id=record.link_id,
            campaign_id=record.campaign_id,
            keyword=record.keyword,
            channel=record.channel,
            user_agent=user_agent,
            referer=referer,
            geo_country=country,
            routing_reason=self._reason,
            sms_msg_id=sms,
            ab_variant=None,
            forwarded_params={_SMS: sms} if sms is not None else {},
        )

    def _encode(self, click: DeferredClick) -> bytes:
        _, click_id, now, ip, user_agent, referer, country, is_bot, latency, sms, location = click
        if not _plain_float(now):
            return encode_event(self.event(click))
        values = self._base.copy()
        values["event_id"] = click_id
        values["timestamp"] = now
        values["click_session_id"] = click_id
        values["user_agent"] = user_agent
        values["referer"] = referer
        values["ip_hash"] = self._hasher(ip)
        values["geo_country"] = country
        values["final_url_hash"] = hashlib.sha256(location.encode()).hexdigest()
        values["is_bot"] = is_bot
        values["redirect_latency_ms"] = latency
        if sms is not None:
            values["sms_msg_id"] = sms
            values["forwarded_params"] = {_SMS: sms}
        return orjson.dumps(values, option=orjson.OPT_APPEND_NEWLINE)


class HotLink:
    """What the fast path keeps for one request host and path (see the module docstring)."""

    __slots__ = (
        "key",
        "link",
        "usable",
        "expires",
        "geo",
        "encode",
        "_hasher",
        "_ts",
        "_second",
        "_plain",
        "_sms",
    )

    def __init__(self, host: str, slug: str, hasher: IpHasher) -> None:
        #: The canonical (host, slug): the record store's key.
        self.key = (host, slug)
        self.link: CachedLink | None = None
        self.usable = False
        self.expires = math.inf
        self.geo = False
        self.encode: Any = None
        self._hasher = hasher
        self._ts = False
        self._second = 0
        self._plain: str | None = None
        self._sms: str | None = None

    def load(self, link: CachedLink) -> None:
        """Work out the decision for a (new version of the) record."""
        record = link.record
        self.link = link
        self.usable = (
            record.active
            and not record.signature_required
            and record.max_clicks is None
            and link.routing is None
        )
        expires = record.expires_at_epoch
        self.expires = math.inf if expires is None else expires
        allowlist = record.dynamic_param_allowlist
        self.geo = record.append_query_params and "geo" in allowlist
        self._ts = record.append_query_params and "click_ts" in allowlist
        self._plain = self._sms = None
        self.encode = EventTemplate(link, self.key[0], self.key[1], self._hasher).encode

    def location_format(self, with_sms: bool, now: float) -> str:
        """The ``Location`` format for this click (see :func:`location_format`)."""
        if self._ts and int(now) != self._second:
            self._second = int(now)
            self._plain = self._sms = None
        fmt = self._sms if with_sms else self._plain
        if fmt is None:
            assert self.link is not None
            fmt = location_format(self.link.record, with_sms, now)
            if with_sms:
                self._sms = fmt
            else:
                self._plain = fmt
        return fmt


#: What ``quote(value, safe="")`` returns unchanged.
QUOTE_SAFE: Final = re.compile(r"[A-Za-z0-9_.~-]+")

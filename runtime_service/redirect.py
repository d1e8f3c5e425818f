"""The redirect itself, as a plain async function of the request: no ASGI, no framework.

host + slug → record (cache, then DynamoDB) → policy → signature → ``max_clicks`` →
routing → URL builder → click event → the ``Location``. Every outcome is a redirect: to the
destination, to the record's ``fallback_url``, or to ``DEFAULT_FALLBACK_URL``, and every
redirect emits exactly one click event saying which (``outcome``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import parse_qsl, quote

from link_tracking_runtime import (
    GEO_COUNTRY_HEADER,
    RuntimeRecord,
    build_redirect_url,
    canonical_host,
    canonical_slug,
    check_policy,
    counter_key,
    is_valid_slug,
    parse_request_query,
)
from link_tracking_runtime.events import ClickEvent
from link_tracking_runtime.record import FORWARDED_FROM_REQUEST_PARAMS
from link_tracking_runtime.routing import RoutingContext, RoutingDecision, decide
from link_tracking_runtime.urls import FORWARDED_VALUE_MAX_LENGTH, forwarded_params

from .aws import ClickCounter
from .bots import agent_kind, classify, is_prefetch
from .emitter import ClickEmitter
from .fastpath import QUOTE_SAFE, HotLink, request_param
from .metrics import Metrics
from .signatures import SignatureVerifier
from .store import CachedLink, RecordStore
from .visitor import IpHasher, client_ip, visitor_key

__all__ = ["RedirectRequest", "Redirector"]

logger = logging.getLogger(__name__)

GEO_COUNTRY_HEADER_BYTES: Final = GEO_COUNTRY_HEADER.encode()
_USER_AGENT_MAX: Final = 512
_REFERER_MAX: Final = 1024
# Characters a Location header may carry as they are; anything else is percent-encoded.
_URL_SAFE: Final = ":/?#[]@!$&'()*+,;=%-._~"
# What urllib's quote() never changes: a click id made of these is the same on the URL.
_QUOTE_SAFE_ID: Final = re.compile(r"[A-Za-z0-9_.~-]{1,128}")
_PLACEHOLDER: Final = "lt0clickid0placeholder0b5e3c7a91f04d2e8f6a"
#: Request hosts and paths the fast path remembers (cleared when full).
_HOT_MAX: Final = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class RedirectRequest:
    """What the redirect needs from one HTTP request (header names in lower case)."""

    method: str
    host: str
    slug: str
    query_string: str
    headers: Mapping[str, str]
    peer: str | None = None
    #: ``time.perf_counter()`` when the request arrived, for ``redirect_latency_ms``.
    started: float = 0.0


def _acceptable(value: str | None) -> str | None:
    if value and len(value) <= FORWARDED_VALUE_MAX_LENGTH and value.isprintable():
        return value
    return None


def _header_safe(url: str) -> str | None:
    """``url`` as a Location header value: ASCII, no controls; ``None`` if it cannot be."""
    if not url.isascii():
        url = quote(url, safe=_URL_SAFE)
    if not url.isprintable() or " " in url:
        return None
    return url


class UrlTemplates:
    """The contract's :func:`build_redirect_url`, memoised per link and request shape.

    Between two clicks of one link from the same kind of request only the ``click_id`` and the
    forwarded values (``sms_msg_id``: one per SMS) differ, so the URL is built once with
    placeholders and the real values are put in their place: the click id as it is, each
    forwarded value as ``urlencode`` writes it (``quote(value, safe="")``). The result is the
    same string the contract builds: placeholders are letters and digits, which ``quote``
    leaves alone, each must occur exactly once, and a click id ``quote`` would change is built
    directly. (Building costs about 10 µs a click, a fifth of the redirect's own budget.)
    """

    def __init__(self, max_size: int = 10_000) -> None:
        self._max_size = max_size
        self._templates: dict[tuple[object, ...], tuple[CachedLink, str]] = {}

    def build(
        self,
        link: CachedLink,
        click_id: str,
        now: float,
        destination: str,
        country: str | None,
        ab_variant: str | None,
        forwarded: dict[str, str],
    ) -> str:
        record = link.record
        if not record.append_query_params:
            return destination or record.destination_url
        allowlist = record.dynamic_param_allowlist
        with_click_id = "click_id" in allowlist
        if with_click_id and not _QUOTE_SAFE_ID.fullmatch(click_id):
            return self._direct(link, click_id, now, destination, country, ab_variant, forwarded)
        names = tuple(forwarded)
        key = (
            id(link),
            destination,
            country if "geo" in allowlist else None,
            ab_variant,
            names,
            int(now) if "click_ts" in allowlist else 0,
        )
        cached = self._templates.get(key)
        if cached is None or cached[0] is not link:
            stand_ins = {name: f"{_PLACEHOLDER}f{index}" for index, name in enumerate(names)}
            template = build_redirect_url(
                record,
                click_id=_PLACEHOLDER,
                now=now,
                destination=destination,
                geo_country=country,
                ab_variant=ab_variant,
                request_params=stand_ins or None,
            )
            placeholders = [_PLACEHOLDER] if with_click_id else []
            placeholders += stand_ins.values()
            # Each placeholder exactly once (and the click id's not inside another's).
            if template.count(_PLACEHOLDER) != len(placeholders) or any(
                template.count(p + "&") + template.endswith(p) + template.count(p + "#") != 1
                for p in placeholders
            ):
                return self._direct(
                    link, click_id, now, destination, country, ab_variant, forwarded
                )
            if len(self._templates) >= self._max_size:
                self._templates.clear()
            cached = (link, template)
            self._templates[key] = cached
        url = cached[1]
        for index, value in enumerate(forwarded.values()):
            url = url.replace(f"{_PLACEHOLDER}f{index}", quote(value, safe=""), 1)
        return url.replace(_PLACEHOLDER, click_id, 1) if with_click_id else url

    @staticmethod
    def _direct(
        link: CachedLink,
        click_id: str,
        now: float,
        destination: str,
        country: str | None,
        ab_variant: str | None,
        forwarded: dict[str, str],
    ) -> str:
        return build_redirect_url(
            link.record,
            click_id=click_id,
            now=now,
            destination=destination,
            geo_country=country,
            ab_variant=ab_variant,
            request_params=forwarded or None,
        )


class Redirector:
    def __init__(
        self,
        *,
        store: RecordStore,
        counter: ClickCounter,
        verifier: SignatureVerifier,
        emitter: ClickEmitter,
        metrics: Metrics,
        clock: Callable[[], float],
        click_ids: Callable[[], str],
        ip_hasher: IpHasher,
        default_fallback_url: str,
        trusted_proxy_count: int,
        counter_timeout: float = 0.5,
    ) -> None:
        self._counter_timeout = counter_timeout
        self._urls = UrlTemplates()
        self._store = store
        self._counter = counter
        self._verifier = verifier
        self._emitter = emitter
        self._metrics = metrics
        self._clock = clock
        self._click_ids = click_ids
        self._ip_hasher = ip_hasher
        self.default_fallback_url = default_fallback_url
        self._trusted_proxy_count = trusted_proxy_count
        self._hot: dict[tuple[bytes, str], HotLink] = {}

    def redirect_hot(
        self,
        headers: Mapping[bytes, bytes],
        method: str,
        path: str,
        query_string: bytes,
        ip: str,
        started: float,
        now: float,
    ) -> bytes | None:
        """The ``Location`` of a ``GET``/``HEAD`` whose answer is a fresh cache hit on a plain
        link (see :mod:`.fastpath`), its click event emitted; ``None``, with nothing done, for
        any other request (then :meth:`redirect` answers it).

        ``headers`` are the raw request headers (last value of a name wins, as in the dict the
        slow path reads), ``ip`` the visitor's address (:func:`.visitor.client_ip`).
        """
        host_header = headers.get(b"host", b"")
        hot = self._hot.get((host_header, path))
        if hot is None:
            raw_slug = path[1:]
            slug = canonical_slug(raw_slug)
            if "/" in raw_slug.strip("/") or not is_valid_slug(slug):
                return None
            if len(self._hot) >= _HOT_MAX:
                self._hot.clear()
            hot = HotLink(canonical_host(host_header.decode("latin-1")), slug, self._ip_hasher)
            self._hot[(host_header, path)] = hot
        store = self._store
        link = store.fresh(hot.key, now)
        if link is None:
            return None
        if link is not hot.link:
            hot.load(link)
        if not hot.usable or now >= hot.expires:
            return None
        country: str | None = None
        raw_country = headers.get(GEO_COUNTRY_HEADER_BYTES)
        if raw_country:
            country = raw_country.decode("latin-1").strip().upper()[:8] or None
            if country and hot.geo:
                return None
        sms = request_param(query_string.decode("latin-1"), "sms_msg_id") if query_string else None
        if sms is not None and not (len(sms) <= FORWARDED_VALUE_MAX_LENGTH and sms.isprintable()):
            sms = None
        if sms == "":
            sms = None
        fmt = hot.location_format(sms is not None, now)
        if not fmt:
            return None

        # This click is answered here.
        store.hit(hot.key)
        click_id = self._click_ids()
        location = fmt.format(
            click_id if QUOTE_SAFE.fullmatch(click_id) else quote(click_id, safe=""),
            sms if sms is None or (sms.isascii() and sms.isalnum()) else quote(sms, safe=""),
        )
        raw_agent = headers.get(b"user-agent")
        user_agent = raw_agent.decode("latin-1") if raw_agent is not None else None
        if method == "HEAD":
            bot: str | None = "head"
        else:
            purpose = (
                headers.get(b"sec-purpose") or headers.get(b"purpose") or headers.get(b"x-purpose")
            )
            if purpose is not None and is_prefetch(purpose.decode("latin-1")):
                bot = "prefetch"
            else:
                bot = agent_kind(user_agent or "")
        referer = headers.get(b"referer")
        self._emitter.emit_deferred(
            (
                hot.encode,
                click_id,
                now,
                ip,
                user_agent[:_USER_AGENT_MAX] if user_agent else None,
                referer.decode("latin-1")[:_REFERER_MAX] or None if referer else None,
                country,
                bot is not None,
                int((time.perf_counter() - started) * 1000) if started else 0,
                sms,
                location,
            )
        )
        counters = self._metrics.counters
        counters["Outcome.ok"] = counters.get("Outcome.ok", 0) + 1
        if bot is not None:
            self._metrics.count(f"Bot.{bot}")
        return location.encode("latin-1")

    async def redirect(self, request: RedirectRequest) -> str:
        """The ``Location`` for this request; emits its click event. Raises only on bugs (the
        ASGI layer turns those into a redirect to the default fallback)."""
        now = self._clock()
        headers = request.headers
        user_agent = headers.get("user-agent")
        bot = classify(user_agent, headers, request.method)
        params = parse_request_query(request.query_string) if request.query_string else {}
        host = canonical_host(request.host)
        slug = canonical_slug(request.slug)
        ip_hash = self._ip_hasher(client_ip(headers, request.peer, self._trusted_proxy_count))
        country = headers.get(GEO_COUNTRY_HEADER)
        country = country.strip().upper()[:8] or None if country else None

        record: RuntimeRecord | None = None
        location = self.default_fallback_url
        routing_reason = "fallback"
        ab_variant = None
        forwarded: dict[str, str] = {}
        click_id = self._click_ids()

        if "/" in request.slug.strip("/") or not is_valid_slug(slug):
            outcome = "not_found"
        else:
            lookup = await self._store.get(host, slug)
            link = lookup.link
            if link is None:
                outcome = "error" if lookup.source == "error" else "not_found"
            else:
                record = link.record
                outcome = check_policy(record, now)
                if outcome == "ok" and record.signature_required:
                    pairs = parse_qsl(request.query_string, keep_blank_values=True)
                    check = await self._verifier.check(
                        record.signature_key_id, host, slug, pairs, now
                    )
                    if check != "ok":
                        self._metrics.count(f"Signature.{check}")
                        outcome = "signature_invalid"
                if outcome == "ok" and record.max_clicks is not None:
                    if not await self._within_max_clicks(record, bot is not None):
                        outcome = "max_clicks"
                if outcome == "ok":
                    if link.routing is None:
                        decision = RoutingDecision(record.destination_url)
                    else:
                        decision = decide(
                            record,
                            link.routing,
                            RoutingContext(
                                now=now,
                                visitor_key=visitor_key(
                                    ip_hash, user_agent, _acceptable(params.get("sms_msg_id"))
                                ),
                                geo_country=country,
                                user_agent=user_agent,
                            ),
                        )
                    routing_reason = "invalid_rules" if link.routing_invalid else decision.reason
                    ab_variant = decision.ab_variant
                    forwarded = forwarded_params(record, params)
                    built = self._urls.build(
                        link, click_id, now, decision.destination, country, ab_variant, forwarded
                    )
                    safe = _header_safe(built)
                    if safe is None:
                        logger.error(
                            "redirect URL cannot be sent as a header",
                            extra={"domain": host, "slug": slug},
                        )
                        outcome = "error"
                    else:
                        location = safe
                if outcome != "ok":
                    location = _header_safe(record.fallback_url) or self.default_fallback_url

        if not forwarded:
            forwarded = {
                name: value
                for name in FORWARDED_FROM_REQUEST_PARAMS
                if (value := _acceptable(params.get(name))) is not None
            }
        self._emitter.emit(
            ClickEvent(
                event_id=click_id,
                timestamp=now,
                domain=host,
                slug=slug,
                click_session_id=click_id,
                ip_hash=ip_hash,
                final_url_hash=hashlib.sha256(location.encode()).hexdigest(),
                is_bot=bot is not None,
                redirect_latency_ms=int((time.perf_counter() - request.started) * 1000)
                if request.started
                else 0,
                outcome=outcome,
                link_id=record.link_id if record else None,
                campaign_id=record.campaign_id if record else None,
                keyword=record.keyword if record else None,
                channel=record.channel if record else None,
                user_agent=user_agent[:_USER_AGENT_MAX] if user_agent else None,
                referer=(headers.get("referer") or "")[:_REFERER_MAX] or None,
                geo_country=country,
                routing_reason=routing_reason,
                sms_msg_id=forwarded.get("sms_msg_id"),
                ab_variant=ab_variant,
                forwarded_params=forwarded,
            )
        )
        self._metrics.count(f"Outcome.{outcome}")
        if bot is not None:
            self._metrics.count(f"Bot.{bot}")
        return location

    async def _within_max_clicks(self, record: RuntimeRecord, is_bot: bool) -> bool:
        """Whether this click may go to the destination under ``max_clicks``.

        A person's click is counted atomically (a conditional ADD on the counter item); a
        bot's is only compared, never spent. If the counter cannot be reached the click is
        let through (the limit is a circuit breaker, the redirect must not fail) and counted
        in the ``ClickCounterError`` metric.
        """
        assert record.max_clicks is not None
        key = counter_key(record.domain, record.slug)
        try:
            if is_bot:
                spent = await asyncio.wait_for(self._counter.clicks(key), self._counter_timeout)
                return spent < record.max_clicks
            return await asyncio.wait_for(
                self._counter.count_click(key, record.max_clicks), self._counter_timeout
            )
        except Exception as exc:
            logger.warning(
                "click counter unavailable, letting the click through",
                extra={"domain": record.domain, "slug": record.slug, "error": repr(exc)},
            )
            self._metrics.count("ClickCounterError")
            return True

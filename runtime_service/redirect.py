"""The redirect: the contract's click decision with the runtime's I/O around it.

host + slug → compiled link (the record store's cache; DynamoDB on a miss) → signature and
``max_clicks`` where the link needs them → :func:`link_tracking_runtime.click.decide` → click
event emitted → the ``Location``. Every outcome is a redirect: to the destination, to the
record's fallback, or to ``DEFAULT_FALLBACK_URL`` (or, for a bot on a link that keeps its
destination secret, the neutral page: an empty ``Location``), and every answer emits exactly
one click event saying which (``outcome``). The one exception: with a fallback region
configured, a link that neither region's replica could read (and that has no last good record)
raises :class:`~.errors.StoreUnavailable`, which the app answers ``503`` with no click event, so
that CloudFront's origin group sends the request to the other region.

What a click does is decided in the contract only (:mod:`link_tracking_runtime.click`): the
runtime adds the record store, the signing keyrings, the ``max_clicks`` counter and the
emitter. A click whose link is in the cache and needs neither a signature nor the counter
awaits nothing: :meth:`Redirector.redirect` returns its ``Location`` directly; otherwise it
returns the coroutine that does the I/O and then the same decision.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from link_tracking_runtime import (
    ACCEPT_LANGUAGE_HEADER,
    GEO_COUNTRY_HEADER,
    RESERVED_SLUGS,
    canonical_host,
    canonical_slug,
    counter_key,
    is_valid_slug,
)
from link_tracking_runtime.bots import PURPOSE_HEADERS
from link_tracking_runtime.click import (
    VIEWER_ASN_HEADER,
    ClickInput,
    CompiledLink,
    Decision,
    bot_kind,
    decide,
    decide_without_link,
)
from link_tracking_runtime.events import OUTCOMES
from link_tracking_runtime.messages import split_message_path, verify_token
from link_tracking_runtime.signing import Keyring

from .aws import ClickCounter
from .emitter import ClickEmitter
from .errors import StoreUnavailable
from .metrics import Metrics
from .signatures import SignatureVerifier
from .store import AppLinksStore, RecordStore
from .visitor import IpHasher

__all__ = ["Redirector"]

logger = logging.getLogger(__name__)

_COUNTRY: Final = GEO_COUNTRY_HEADER.encode()
_LANGUAGES: Final = ACCEPT_LANGUAGE_HEADER.encode()
_ASN: Final = VIEWER_ASN_HEADER.encode()
#: Request hosts and paths remembered with what they name.
_ROUTES_MAX: Final = 65_536
#: What a request's path names (:meth:`Redirector._route`).
_SLUG: Final = "slug"
_NOT_A_SLUG: Final = "not a slug"
_RESERVED: Final = "reserved"
#: A per-message link: ``/{slug}/{token}`` (:mod:`link_tracking_runtime.messages`).
_MESSAGE: Final = "message"
_PURPOSE_0, _PURPOSE_1, _PURPOSE_2 = (name.encode() for name in PURPOSE_HEADERS)
_OUTCOME_COUNTERS: Final = {outcome: f"Outcome.{outcome}" for outcome in OUTCOMES}
#: ``ClickInput(*values)`` without the Python-level ``__new__`` of a named tuple.
_new_click: Final[Any] = tuple.__new__


def _waited(click: ClickInput, started: float) -> ClickInput:
    """``click`` with its latency counted up to now (after the I/O it waited for)."""
    if not started:
        return click
    return click._replace(latency_ms=int((time.perf_counter() - started) * 1000))


class Redirector:
    def __init__(
        self,
        *,
        store: RecordStore,
        counter: ClickCounter,
        verifier: SignatureVerifier,
        emitter: ClickEmitter,
        metrics: Metrics,
        click_ids: Callable[[], str],
        ip_hasher: IpHasher,
        default_fallback_url: str,
        counter_timeout: float = 0.5,
        domains: AppLinksStore | None = None,
    ) -> None:
        self._counter_timeout = counter_timeout
        self._store = store
        self._counter = counter
        self._verifier = verifier
        self._emitter = emitter
        self._metrics = metrics
        self._click_ids = click_ids
        self._ip_hasher = ip_hasher
        self._ip_hashes = ip_hasher.memo
        self.default_fallback_url = default_fallback_url
        #: The domains' records (app-link files, the not-found page), cached like links.
        self._domains = domains
        #: ``Host`` header and path → what they name (:meth:`_route`).
        self._routes: dict[tuple[bytes, str], tuple[tuple[str, str], str]] = {}

    def redirect(
        self,
        method: str,
        host: bytes,
        path: str,
        query: str,
        headers: Mapping[bytes, bytes],
        ip: str,
        started: float,
        now: float,
    ) -> str | Coroutine[Any, Any, str] | None:
        """The ``Location`` for this request, its click event emitted; or, when the answer
        needs I/O first (a cache miss, a signature, ``max_clicks``), the coroutine that does
        it and then returns the ``Location``; ``None`` when the path is a reserved name (no
        link can have it: the app answers 404).

        ``host`` is the ``Host`` header as sent, ``path`` the request's path; ``headers``
        are the raw request headers (last value of a name wins); ``ip`` the visitor's address
        (:func:`.visitor.client_ip`); ``started`` the ``time.perf_counter()`` of the
        request's arrival.
        """
        token = ""
        segments = split_message_path(path[1:].rstrip("/")) if path.find("/", 1) > 0 else None
        if segments is not None:
            # A per-message link: the link's route (one per link, not per message), its token.
            slug_path = "/" + segments[0]
            route = self._routes.get((host, slug_path)) or self._route(host, slug_path)
            if route[1] == _SLUG:
                key, kind, token = route[0], _MESSAGE, segments[1].upper()
        if not token:  # any other path (/.well-known/…, /wp-admin/…) is routed whole
            key, kind = self._routes.get((host, path)) or self._route(host, path)
        if kind == _RESERVED:
            return None
        link = None if kind == _NOT_A_SLUG else self._store.hit(key, now)
        message = None
        if token and link is not None and not link.needs_io:
            keyring = self._verifier.cached_keyring(link.message_keyring, now)
            if keyring is not False:  # else not cached (or stale): read after the click is made
                message = self._message(key, token, keyring)
                token = ""
        user_agent = headers.get(b"user-agent")
        referer = headers.get(b"referer")
        country = headers.get(_COUNTRY)
        languages = headers.get(_LANGUAGES)
        asn = headers.get(_ASN)
        # The first of PURPOSE_HEADERS with a value.
        purpose = headers.get(_PURPOSE_0) or headers.get(_PURPOSE_1) or headers.get(_PURPOSE_2)
        click: ClickInput = _new_click(
            ClickInput,
            (
                now,
                self._click_ids(),
                method,
                query,
                None if user_agent is None else user_agent.decode("latin-1"),
                None if referer is None else referer.decode("latin-1"),
                None if country is None else country.decode("latin-1"),
                purpose.decode("latin-1") if purpose else None,
                self._ip_hashes.get(ip) or self._ip_hasher(ip),
                int((time.perf_counter() - started) * 1000) if started else 0,
                None if languages is None else languages.decode("latin-1"),
                None if asn is None else asn.decode("latin-1"),
                message,
            ),
        )
        if kind == _NOT_A_SLUG:
            return self._not_found(key[0], key[1], "not_found", click, started)
        if link is None or link.needs_io or token:
            return self._redirect_after_io(key[0], key[1], link, click, started, token)
        if query and not link.query_message_id and "sms_msg_id=" in query:
            self._metrics.count("QueryMessageId.ignored")
        return self._answer(decide(link, click))

    def _message(
        self, key: tuple[str, str], token: str, keyring: Keyring | None
    ) -> tuple[int, str] | None:
        """The message ``token`` names on the link ``key`` when it verifies under the link's
        keyring; ``None`` (the plain link's click) otherwise, counted."""
        if keyring is None:
            self._metrics.count("MessageToken.no_key")
            return None
        sequence = verify_token(keyring, key[0], key[1], token)
        if sequence is None:
            self._metrics.count("MessageToken.invalid")
            return None
        return (sequence, token)

    def _route(self, host: bytes, path: str) -> tuple[tuple[str, str], str]:
        """What a request's ``Host`` and path name, remembered: the record store's key
        (canonical host and slug) and whether the path is a slug, a reserved name or
        neither (a per-message link is its slug's route and a token: :meth:`redirect`)."""
        raw_slug = path[1:]
        slug = canonical_slug(raw_slug)
        if slug in RESERVED_SLUGS or raw_slug.startswith(".well-known/"):
            kind = _RESERVED
        elif "/" in raw_slug.strip("/") or not is_valid_slug(raw_slug):
            kind = _NOT_A_SLUG
        else:
            kind = _SLUG
        # One string per host name for every key of it (the cache keeps these keys).
        route = ((sys.intern(canonical_host(host.decode("latin-1"))), slug), kind)
        if len(self._routes) >= _ROUTES_MAX:
            self._routes.clear()  # only names to work out again, a few µs each
        self._routes[host, path] = route
        return route

    async def _redirect_after_io(
        self,
        host: str,
        slug: str,
        link: CompiledLink | None,
        click: ClickInput,
        started: float,
        token: str = "",
    ) -> str:
        if link is None:
            lookup = await self._store.get(host, slug)
            link = lookup.link
            if link is None:
                if lookup.source == "error" and self._store.has_fallback:
                    # Both regions' replicas failed: a fallback redirect would lose the click
                    # and the visitor; a 503 has CloudFront retry the other region's origin,
                    # whose runtime emits the click event (none is emitted here).
                    self._metrics.count("StoreUnavailable")
                    raise StoreUnavailable(f"no replica answered for {host}/{slug}")
                outcome = "error" if lookup.source == "error" else "not_found"
                return await self._not_found(host, slug, outcome, click, started)
        if token:
            keyring = await self._verifier.message_keyring(link.message_keyring)
            message = self._message((host, slug), token, keyring)
            if message is not None:
                click = click._replace(message=message)
        elif not link.query_message_id and "sms_msg_id=" in click.query:
            self._metrics.count("QueryMessageId.ignored")
        refused = None
        # A bot's click on a link that needs I/O (a signature, max_clicks) is withheld by
        # decide() whatever that I/O would say: neither is asked for it.
        if link.needs_io and link.policy(click.now) == "ok" and bot_kind(click) is None:
            refused = await self._refusal(link, host, slug, click)
        return self._answer(decide(link, _waited(click, started), refused))

    async def _not_found(
        self, host: str, slug: str, outcome: str, click: ClickInput, started: float
    ) -> str:
        """The answer to a click that has no link: the domain's own not-found page when its
        record names one (``not_found``; read through the cache), else
        ``DEFAULT_FALLBACK_URL`` (and always for ``error``: the table could not be read)."""
        fallback = self.default_fallback_url
        if outcome == "not_found" and self._domains is not None:
            record = (await self._domains.record(host)).link
            if record is not None and record.not_found_url:
                fallback = record.not_found_url
                self._metrics.count("NotFound.domain_page")
        return self._answer(
            decide_without_link(host, slug, outcome, _waited(click, started), fallback)
        )

    def _answer(self, decision: Decision) -> str:
        location, outcome, _, _, _, bot, problem, _, _, _, _, _ = decision
        self._emitter.emit(decision)
        counters = self._metrics.counters
        name = _OUTCOME_COUNTERS.get(outcome) or f"Outcome.{outcome}"
        counters[name] = counters.get(name, 0) + 1
        if bot is not None:
            name = f"Bot.{bot}"
            counters[name] = counters.get(name, 0) + 1
        if problem is not None:
            name = f"RecordProblem.{problem}"
            counters[name] = counters.get(name, 0) + 1
        return location

    async def _refusal(
        self, link: CompiledLink, host: str, slug: str, click: ClickInput
    ) -> str | None:
        """Why the signature or ``max_clicks`` refuses this click, ``None`` if neither does."""
        if link.signature_required:
            pairs = parse_qsl(click.query, keep_blank_values=True)
            check = await self._verifier.check(link.signature_key_id, host, slug, pairs, click.now)
            if check != "ok":
                self._metrics.count(f"Signature.{check}")
                return "signature_invalid"
        if link.max_clicks is not None:
            if not await self._within_max_clicks(link.max_clicks, host, slug, click):
                return "max_clicks"
        return None

    async def _within_max_clicks(
        self, max_clicks: int, host: str, slug: str, click: ClickInput
    ) -> bool:
        """Whether this (person's) click may go to the destination under ``max_clicks``.

        The click is counted atomically (a conditional ADD on the counter item); bots never
        get here (their clicks on such a link are withheld). If the counter cannot be reached
        the click is let through (the limit is a circuit breaker, the redirect must not fail)
        and counted in the ``ClickCounterError`` metric.
        """
        key = counter_key(host, slug)
        try:
            return await asyncio.wait_for(
                self._counter.count_click(key, max_clicks), self._counter_timeout
            )
        except Exception as exc:
            logger.warning(
                "click counter unavailable, letting the click through",
                extra={"domain": host, "slug": slug, "error": repr(exc)},
            )
            self._metrics.count("ClickCounterError")
            return True

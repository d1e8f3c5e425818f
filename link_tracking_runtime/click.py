"""The click: everything a redirect decides, in one place, for the runtime and the preview.

A runtime record is compiled once per version (:func:`compile_link`): its policy bounds, its
routing rules, the safe fallback, the ``Location`` templates (one per destination and shape
of click, made on first use; they cover every name of
:data:`~.record.FORWARDED_FROM_REQUEST_PARAMS` the link allowlists) and the click event's
constant columns. :func:`decide` is then a pure function of the compiled link and one click
(:class:`ClickInput`): where the visitor goes, why, the A/B variant, the params forwarded and
the click event's columns. The runtime adds only I/O around it (the record store, signing
keyrings, the ``max_clicks`` counter, the emitter) and tells :func:`decide` what that I/O
refused; the control plane's preview calls the same :func:`decide`, so a preview is what the
runtime does by construction.

A link that keeps its destination secret (it sets ``max_clicks`` or requires a signature:
:attr:`CompiledLink.secret`) never gives it to a request that does not spend a click (a bot,
a link preview, a prefetch, ``HEAD``): the decision's outcome and reason are ``withheld``,
its ``location`` is empty, and the runtime answers with a neutral, non-cacheable, noindex page
instead of a redirect (:data:`WITHHELD`). Links without either keep answering bots with the
redirect, recorded ``is_bot``.

Records the control plane would not write (unknown rule types, a destination that is not an
absolute http(s) URL, a URL that cannot be a header) are still answered: the visitor goes to
the record's fallback (or the default fallback when that is not safe either), the outcome is
``error`` and :attr:`Decision.problem` says why, for the runtime to count.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, cast
from urllib.parse import quote

from . import record as _record
from .bots import BOT_REASON_OF_KIND, BotKind, agent_kind, is_prefetch
from .errors import InvalidRoutingRules
from .events import CLICK_EVENT_COLUMNS, EVENT_TYPE_CLICK
from .policy import check_policy
from .record import RuntimeRecord
from .routing import CompiledRules, RoutingContext, compile_rules
from .scan import SCAN_CHANNEL, SCAN_PARAM, SCAN_VALUE, is_scan
from .urls import (
    _QUOTE_SAFE,
    FORWARDED_VALUE_MAX_LENGTH,
    UrlTemplate,
    is_acceptable_value,
    is_http_url,
    parse_request_query,
    query_template,
)

__all__ = [
    "ASN_MAX",
    "SMS_PARAM",
    "SMS_REF_PARAM",
    "VIEWER_ASN_HEADER",
    "WITHHELD",
    "ClickInput",
    "CompiledLink",
    "Decision",
    "compile_link",
    "decide",
    "decide_without_link",
    "event_columns",
    "normal_asn",
    "normal_country",
    "request_forwarded",
    "visitor_key",
]

#: The forwarded param that identifies an SMS (its own event column; the A/B visitor key).
SMS_PARAM: Final = _record.SMS_MSG_ID_PARAM
#: The outcome and the ``routing_reason`` of a click whose link keeps its destination from bots.
WITHHELD: Final = "withheld"
#: The event keeps at most this much of the User-Agent and Referer headers.
USER_AGENT_MAX: Final = 512
REFERER_MAX: Final = 1024
#: The largest autonomous system number (32 bits).
ASN_MAX: Final = 2**32 - 1
#: The header CloudFront sets with the viewer's autonomous system number (lower-case, as ASGI
#: has it).
VIEWER_ASN_HEADER: Final = "cloudfront-viewer-asn"
#: Location templates one compiled link keeps (destinations × shapes of click; far more than
#: any record has, a bound only against a malformed one).
_TEMPLATES_MAX: Final = 256

_COLUMN_NAMES: Final = tuple(name for name, _ in CLICK_EVENT_COLUMNS)
_sha256: Final = hashlib.sha256
_quote_safe: Final = _QUOTE_SAFE.fullmatch
_new_tuple: Final[Any] = tuple.__new__
_MISSING: Final[Any] = object()

#: What fills one slot of a ``Location`` template (worked out when the template is made).
_SLOT_CLICK_ID: Final = 0
_SLOT_CLICK_TS: Final = 1
_SLOT_GEO: Final = 2
_SLOT_AB_VARIANT: Final = 3
_SLOT_FORWARDED: Final = 4
_SLOT_SMS_REF: Final = 5
_SLOT_KINDS: Final = {
    "click_id": _SLOT_CLICK_ID,
    "click_ts": _SLOT_CLICK_TS,
    "geo": _SLOT_GEO,
    "ab_variant": _SLOT_AB_VARIANT,
    "sms_ref": _SLOT_SMS_REF,
}
#: The generated param that carries a per-message link's token to the destination.
SMS_REF_PARAM: Final = "sms_ref"


def visitor_key(
    sms_msg_id: str | None, ip_hash: str, user_agent: str | None, message_seq: int | None = None
) -> str:
    """The A/B stickiness key: the message when the click has one (a per-message link's
    sequence number, else the SMS message id: one message, one recipient, whatever network the
    phone is on), else the visitor's IP hash and User-Agent. The runtime and the preview both
    key visitors with this."""
    if message_seq is not None:
        return f"msg:{message_seq}"
    if sms_msg_id:
        return f"sms:{sms_msg_id}"
    return f"ip:{ip_hash}\n{user_agent or ''}"


def normal_country(raw: str | None) -> str | None:
    """CloudFront-Viewer-Country as the URL's ``geo`` and the event's ``geo_country`` hold it:
    upper case, trimmed, at most 8 characters; ``None`` when empty."""
    if not raw:
        return None
    return raw.strip().upper()[:8] or None


def normal_asn(raw: str | None) -> int | None:
    """CloudFront-Viewer-ASN as the event's ``viewer_asn`` holds it: the autonomous system
    number, ``None`` when absent or not one (not 1-10 digits, or above 2³² - 1)."""
    if not raw:
        return None
    raw = raw.strip()
    if not (0 < len(raw) <= 10 and raw.isascii() and raw.isdigit()):
        return None
    number = int(raw)
    return number if number <= ASN_MAX else None


def request_forwarded(query: str) -> dict[str, str]:
    """Every forward-from-request param a query string has an acceptable value for (the
    click event records them whether or not the link forwards them)."""
    if not query:
        return {}
    params = parse_request_query(query)
    return {
        name: value
        for name in _record.FORWARDED_FROM_REQUEST_PARAMS
        if (value := params.get(name)) is not None and is_acceptable_value(value)
    }


class ClickInput(NamedTuple):
    """One click, as the request has it (raw header values; ``None`` when absent)."""

    #: The click time, Unix seconds.
    now: float
    #: The click session id the runtime made for this click (on the URL as ``click_id``).
    click_id: str
    method: str = "GET"
    #: The request's query string.
    query: str = ""
    user_agent: str | None = None
    referer: str | None = None
    #: CloudFront-Viewer-Country, as sent.
    country: str | None = None
    #: The first of :data:`~.bots.PURPOSE_HEADERS` present.
    purpose: str | None = None
    #: The visitor's keyed IP hash (the runtime's secret; the preview takes it as given).
    ip_hash: str = ""
    #: Milliseconds the runtime has spent on the request before deciding (the event's
    #: ``redirect_latency_ms``: what is left to do after the decision is well under 1 ms).
    latency_ms: int = 0
    #: The request's ``Accept-Language`` (read by a ``language`` rule only; not an event column).
    accept_language: str | None = None
    #: CloudFront-Viewer-ASN, as sent (:func:`normal_asn` makes the event's ``viewer_asn``).
    asn: str | None = None
    #: A per-message link's verified message: ``(sequence number, token as sent)``; ``None``
    #: for any other click (a token that did not verify included: the plain link's click).
    message: tuple[int, str] | None = None


#: A link's own event columns: domain, slug, link_id, campaign_id, keyword, channel.
LinkColumns = tuple[str, str, str | None, str | None, str | None, str | None]


class Decision(NamedTuple):
    """Where one click goes, why, and what its click event is made of (:func:`event_columns`
    makes the event's columns; the runtime does that when it encodes the event, off the
    request's path)."""

    #: The ``Location``; ``""`` when the outcome is :data:`WITHHELD` (no redirect: the
    #: neutral page).
    location: str
    #: One of :data:`~.events.OUTCOMES`.
    outcome: str
    #: The event's ``routing_reason``.
    reason: str
    variant: str | None
    #: The params forwarded from the request onto the ``Location``.
    forwarded: dict[str, str]
    bot: BotKind | None
    #: Why a record the contract would not have written was answered with its fallback.
    problem: str | None
    #: The destination routing chose, before params; ``""`` when the visitor goes to a
    #: fallback.
    destination: str
    #: The click decided.
    click: ClickInput
    #: The event's columns that are the link's (or, without a link, the host's and slug's):
    #: :data:`LinkColumns`.
    base: LinkColumns
    #: The click's country as the URL and the event hold it (:func:`normal_country`).
    country: str | None
    #: Every forward-from-request param the query has an acceptable value for (the event
    #: records them whether or not the link forwards them).
    requested: dict[str, str]


def bot_kind(click: ClickInput) -> BotKind | None:
    """:func:`.bots.classify` of the click."""
    if click.method == "HEAD":
        return "head"
    if click.purpose is not None and is_prefetch(click.purpose):
        return "prefetch"
    return agent_kind(click.user_agent or "")


#: The click event's columns before any link or click fills them, in table order; each event
#: starts from a copy (a dict per cached link would cost ~800 bytes of memory per link).
_EVENT_COLUMNS: Final[dict[str, Any]] = {
    **dict.fromkeys(_COLUMN_NAMES),
    "event_type": EVENT_TYPE_CLICK,
    "routing_reason": "default",
    "is_bot": False,
    "fraud_score": 0.0,
    "redirect_latency_ms": 0,
    "forwarded_params": {},
}


def _event_base(domain: str, slug: str, record: RuntimeRecord | None) -> LinkColumns:
    if record is None:
        return (domain, slug, None, None, None, None)
    return (domain, slug, record.link_id, record.campaign_id, record.keyword, record.channel)


class _LinkShape:
    """What a link's ``Location`` templates are made of besides its destination (its query
    settings) and the dynamic params it takes: one object per set of settings, which the links
    with those settings share and never change (a campaign's links share their UTM params
    and allowlist: per link these would cost ~400 bytes of memory each)."""

    __slots__ = (
        "append_query_params",
        "query_message_id",
        "message_keyring",
        "allowlist",
        "resolved_query_params",
        "optional",
        "forwarded",
        "single",
        "optional_dynamic",
    )

    def __init__(
        self,
        append_query_params: bool,
        allowlist: tuple[str, ...],
        params: tuple[tuple[str, str], ...],
        query_message_id: bool = True,
        message_keyring: str | None = None,
    ) -> None:
        self.append_query_params = append_query_params
        #: Whether a ``sms_msg_id`` typed into the query is taken (the record's field).
        self.query_message_id = query_message_id
        #: The keyring that verifies the links' per-message tokens (one per domain).
        self.message_keyring = message_keyring
        self.allowlist = allowlist
        self.resolved_query_params: Mapping[str, str] = dict(params)
        dynamic = allowlist if append_query_params else ()
        #: Dynamic params whose presence changes from click to click, in a fixed order.
        self.optional: tuple[str, ...] = tuple(
            name
            for name in (
                "ab_variant",
                "geo",
                SMS_REF_PARAM,
                *_record.FORWARDED_FROM_REQUEST_PARAMS,
            )
            if name in dynamic
        )
        #: The forwarded params these links put on the URL.
        self.forwarded: frozenset[str] = frozenset(self.optional) & frozenset(
            _record.FORWARDED_FROM_REQUEST_PARAMS
        )
        #: A forwarded param → the optional params present when it is the only one (the key
        #: of its ``Location`` template).
        self.single: dict[str, tuple[str, ...]] = {name: (name,) for name in self.forwarded}
        #: Whether ``ab_variant``, ``geo`` or ``sms_ref`` is among them (else only forwarded
        #: ones are).
        self.optional_dynamic = bool({"ab_variant", "geo", SMS_REF_PARAM} & set(self.optional))


@functools.lru_cache(maxsize=1024)
def _shared_shape(
    append_query_params: bool,
    allowlist: tuple[str, ...],
    params: tuple[tuple[str, str], ...],
    query_message_id: bool,
    message_keyring: str | None,
) -> _LinkShape:
    return _LinkShape(append_query_params, allowlist, params, query_message_id, message_keyring)


def _link_shape(record: RuntimeRecord) -> _LinkShape:
    """The shape of ``record``'s links, shared with every record that has the same."""
    allowlist = tuple(record.dynamic_param_allowlist)
    params = tuple(sorted(record.resolved_query_params.items()))
    messages = (record.query_message_id, record.message_keyring)
    try:
        return _shared_shape(record.append_query_params, allowlist, params, *messages)
    except TypeError:  # a value no key can hold (a malformed record): a shape of its own
        return _LinkShape(record.append_query_params, allowlist, params, *messages)


#: A header-safe ``Location`` template: ``(head, suffix, slots)``. The URL is ``head`` (or,
#: when ``head`` is empty, the destination the template was made for), ``suffix``, then per
#: slot its value and its literal; a slot is ``(kind, name, literal)``, ``kind`` one of the
#: ``_SLOT_*`` values. A template that extends its destination holds nothing of the link's
#: own, and links of one shape share it (one ``"".join`` per click, about a third of the
#: cost of ``str.format``).
LocationTemplate = tuple[str, str, tuple[tuple[int, str, str], ...]]


class CompiledLink:
    """A record as clicks use it, made once per record version by :func:`compile_link`.

    It keeps what :func:`decide` and the runtime's checks read, not the record: a cache of
    100,000 links holds 100,000 of these (``benchmarks/scale_bench.py --trace``)."""

    __slots__ = (
        "routing",
        "problem",
        "_limits",
        "needs_io",
        "fallback",
        "active",
        "expires_at_epoch",
        "destination_url",
        "_shape",
        "_direct",
        "_templates",
        "_event",
    )

    def __init__(
        self,
        record: RuntimeRecord,
        default_fallback_url: str,
        key: tuple[str, str] | None = None,
    ) -> None:
        #: ``None``: no rules (or rules that could not be used, then ``problem`` says so).
        self.routing: CompiledRules | None = None
        self.problem: str | None = None
        if record.routing_rules:
            try:
                self.routing = compile_rules(record.routing_rules)
            except InvalidRoutingRules:
                self.problem = "invalid_rules"
            except Exception:  # whatever a malformed record holds, it never breaks a click
                self.problem = "invalid_rules"
        if self.problem is None and not is_http_url(record.destination_url):
            self.problem = "unsafe_destination"
        #: ``(signature_required, signature_key_id, max_clicks)`` of a link that requires a
        #: signature or sets ``max_clicks``; ``None`` for the others (most links).
        self._limits: tuple[bool, str | None, int | None] | None = (
            (record.signature_required, record.signature_key_id, record.max_clicks)
            if record.signature_required or record.max_clicks is not None
            else None
        )
        #: Whether the runtime has I/O to do before :func:`decide` (signature, counter).
        self.needs_io = self.problem is None and self._limits is not None
        #: :func:`.policy.check_policy`'s fields of the record.
        self.active = bool(record.active)
        self.expires_at_epoch = record.expires_at_epoch
        self.destination_url = record.destination_url
        fallback = record.fallback_url
        try:
            safe_fallback = (
                UrlTemplate.of([fallback], []).header_safe() if is_http_url(fallback) else None
            )
        except Exception:  # a value no URL can hold (a lone surrogate)
            safe_fallback = None
        #: Where a visitor goes when not to the destination: a header-safe http(s) URL.
        self.fallback = (
            safe_fallback.literals[0] if safe_fallback is not None else default_fallback_url
        )
        self._shape = _link_shape(record)
        #: The optional params present of the first click's template to the record's own
        #: destination and that template (``None``: that URL cannot be a header), one pair
        #: that links of a shape share; ``None`` until it is made. Any other template goes
        #: in ``_templates``, made when needed.
        self._direct: tuple[tuple[str, ...], LocationTemplate | None] | None = None
        self._templates: dict[tuple[str, tuple[str, ...]], LocationTemplate | None] | None = None
        domain, slug = record.domain, record.slug
        if key is not None and key == (domain, slug):
            domain, slug = key  # the cache's strings, not equal copies of them
        #: The event's columns that are the link's (:data:`LinkColumns`).
        self._event = _event_base(domain, slug, record)

    @property
    def signature_required(self) -> bool:
        return self._limits is not None and self._limits[0]

    @property
    def signature_key_id(self) -> str | None:
        return None if self._limits is None else self._limits[1]

    @property
    def max_clicks(self) -> int | None:
        return None if self._limits is None else self._limits[2]

    @property
    def message_keyring(self) -> str | None:
        """The keyring that verifies this link's per-message tokens; ``None``: no tokens."""
        return self._shape.message_keyring

    @property
    def query_message_id(self) -> bool:
        """Whether a ``sms_msg_id`` typed into the query is taken."""
        return self._shape.query_message_id

    @property
    def secret(self) -> bool:
        """Whether only a click that is spent (a person's ``GET``) may learn the destination."""
        return self._limits is not None

    @property
    def domain(self) -> str:
        return self._event[0]

    @property
    def slug(self) -> str:
        return self._event[1]

    @property
    def link_id(self) -> str:
        link_id = self._event[2]
        assert link_id is not None
        return link_id

    def policy(self, now: float) -> str:
        """``ok``, ``inactive`` or ``expired``: :func:`.policy.check_policy` of the record."""
        return check_policy(self, now)

    def template(self, destination: str, names: tuple[str, ...]) -> LocationTemplate | None:
        """The header-safe ``Location`` template to ``destination`` for a click with values
        for the optional params ``names``; ``None`` if that URL cannot be a header."""
        direct = destination == self.destination_url
        if direct and self._direct is not None and names == self._direct[0]:
            return self._direct[1]
        templates = self._templates
        if templates is not None:
            found = templates.get((destination, names), _MISSING)
            if found is not _MISSING:
                template: LocationTemplate | None = found
                return template
        shape = self._shape
        try:
            made = query_template(
                destination,
                ("click_id", "click_ts", *names),
                append_query_params=shape.append_query_params,
                allowlist=shape.allowlist,
                resolved_query_params=shape.resolved_query_params,
            ).header_safe()
            template = None if made is None else _location_template(made, destination)
        except Exception:  # a value a URL cannot hold (a lone surrogate): not sendable
            template = None
        if direct and self._direct is None:
            pair = (names, template)
            # Shared as an object: a compiled build would otherwise unbox the tuple the memo
            # returns and box a copy of it per link.
            shared: object = pair if template is not None and template[0] else _share(pair)
            stored = cast("tuple[tuple[str, ...], LocationTemplate | None] | None", shared)
            self._direct = stored
            if stored is not None:
                return stored[1]  # the template the links of this shape share
        elif templates is None:
            self._templates = {(destination, names): template}
        elif len(templates) < _TEMPLATES_MAX:
            templates[destination, names] = template
        return template


def _share(value: object) -> object:
    """:func:`.record._share` of ``value``, typed as an object (see :meth:`CompiledLink.template`)."""
    return _record._share(value)


def _location_template(template: UrlTemplate, destination: str) -> LocationTemplate:
    """``template`` as a :data:`LocationTemplate` to ``destination``: one object for every
    link of a shape when the URL extends the destination (the usual case)."""
    first = template.literals[0]
    if first.startswith(destination):
        head, suffix = "", first[len(destination) :]
    else:
        head, suffix = first, ""
    slots = tuple(
        (_SLOT_KINDS.get(name, _SLOT_FORWARDED), name, literal)
        for name, literal in zip(template.names, template.literals[1:], strict=True)
    )
    made: LocationTemplate = (head, suffix, slots)
    # Only a template that extends its destination can be another link's too.
    return _record._share(made) if not head else made


def compile_link(
    record: RuntimeRecord, default_fallback_url: str, key: tuple[str, str] | None = None
) -> CompiledLink:
    """Compile ``record`` for :func:`decide` (once per record version).

    ``default_fallback_url`` is where a visitor goes when the record's own ``fallback_url`` is
    not a safe http(s) URL. ``key``: the record's canonical host and slug as the caller
    already holds them (the runtime's cache key); the link keeps those strings rather than
    equal copies (memory only: the decision is the same).
    """
    return CompiledLink(record, default_fallback_url, key)


def event_columns(decision: Decision) -> dict[str, Any]:
    """The click event's columns of ``decision``, by name in table order (what
    :meth:`.events.ClickEvent.as_dict` gives)."""
    location, outcome, reason, variant, _, bot, _, _, click, base, country, requested = decision
    now, click_id, _, _, user_agent, referer, _, _, ip_hash, latency, _, asn, message = click
    values = _EVENT_COLUMNS.copy()
    (
        values["domain"],
        values["slug"],
        values["link_id"],
        values["campaign_id"],
        values["keyword"],
        values["channel"],
    ) = base
    values["event_id"] = click_id
    values["timestamp"] = now
    values["click_session_id"] = click_id
    values["user_agent"] = user_agent[:USER_AGENT_MAX] if user_agent else None
    values["referer"] = referer[:REFERER_MAX] or None if referer else None
    values["ip_hash"] = ip_hash
    values["geo_country"] = country
    values["final_url_hash"] = _sha256(location.encode()).hexdigest()
    values["routing_reason"] = reason
    values["is_bot"] = bot is not None
    values["redirect_latency_ms"] = latency
    values["sms_msg_id"] = requested.get(SMS_PARAM)
    values["ab_variant"] = variant
    values["outcome"] = outcome
    values["forwarded_params"] = requested
    if asn:
        values["viewer_asn"] = normal_asn(asn)
    if message is not None:
        values["message_seq"] = message[0]
    if bot is not None:
        values["bot_reason"] = BOT_REASON_OF_KIND[bot]
    return values


def decide(link: CompiledLink, click: ClickInput, refused: str | None = None) -> Decision:
    """Where ``click`` on ``link`` goes, and its click event.

    ``refused`` is the outcome of a check the caller made with I/O when the link needs it
    (``signature_invalid``, ``max_clicks``); ``None`` when nothing was refused. A bot's click
    on a :attr:`~CompiledLink.secret` link is :data:`WITHHELD` (the runtime need not do that
    I/O for it).
    """
    # One call per click on every path of a busy runtime: written out, with few calls; the
    # plain case (no rules, a query of at most one pair) takes the shortest way through.
    (
        now,
        click_id,
        method,
        query,
        user_agent,
        _,
        country,
        purpose,
        ip_hash,
        _,
        languages,
        _,
        message,
    ) = click
    if method == "HEAD":
        bot: BotKind | None = "head"
    elif purpose is not None and is_prefetch(purpose):
        bot = "prefetch"
    else:
        bot = agent_kind(user_agent or "")
    if country:
        country = country.strip().upper()[:8] or None
    requested: dict[str, str] = {}
    base = link._event
    #: The name of the query's only pair when it has one (and nothing to decode).
    single: str | None = None
    if not query:
        pass
    elif "&" not in query and "%" not in query and "+" not in query:
        # One pair with nothing to decode: what parse_request_query gives, without the dict.
        single, _, value = query.partition("=")
        if (
            single in _record.FORWARDED_FROM_REQUEST_PARAMS
            and value
            and len(value) <= FORWARDED_VALUE_MAX_LENGTH
            and value.isprintable()
        ):
            requested[single] = value
        else:
            if single == SCAN_PARAM and value == SCAN_VALUE:
                base = (*base[:5], SCAN_CHANNEL)
            single = None
    else:
        params = parse_request_query(query)
        if params.get(SCAN_PARAM) == SCAN_VALUE:
            base = (*base[:5], SCAN_CHANNEL)
        for name in _record.FORWARDED_FROM_REQUEST_PARAMS:
            value = params.get(name, "")
            if value and len(value) <= FORWARDED_VALUE_MAX_LENGTH and value.isprintable():
                requested[name] = value
    if requested and (message is not None or not link._shape.query_message_id):
        # A per-message link's click names its message by its token only; a link that takes
        # no typed message id ignores one: neither is forwarded nor recorded.
        requested.pop(SMS_PARAM, None)
        if single == SMS_PARAM:
            single = None
    if refused:
        outcome = refused
    elif not link.active:
        outcome = "inactive"
    elif (expires := link.expires_at_epoch) is not None and now >= expires:
        outcome = "expired"
    else:
        outcome = "ok"
    problem = link.problem
    destination = ""
    reason = "fallback"
    variant: str | None = None
    forwarded: dict[str, str] = {}
    location = link.fallback
    if outcome != "ok":
        pass
    elif problem is not None:
        outcome = "error"
        if problem == "invalid_rules":
            reason = problem
    elif bot is not None and link.secret:
        outcome = reason = WITHHELD
        location = ""
    else:
        reason = "default"
        routing = link.routing
        destination = link.destination_url
        if routing is not None:
            url, reason, variant = routing.choose(
                link.link_id,
                RoutingContext(
                    now=now,
                    visitor_key=visitor_key(
                        requested.get(SMS_PARAM),
                        ip_hash,
                        user_agent,
                        None if message is None else message[0],
                    ),
                    geo_country=country,
                    user_agent=user_agent,
                    accept_language=languages,
                ),
            )
            destination = url or destination
        present: tuple[str, ...] = ()
        shape = link._shape
        if shape.optional_dynamic and (country or variant or message):
            for name in shape.optional:
                if (
                    name in requested
                    or (name == "geo" and country)
                    or (name == "ab_variant" and variant)
                    or (name == SMS_REF_PARAM and message)
                ):
                    present += (name,)
            if requested:
                forwarded = {name: requested[name] for name in present if name in requested}
        elif single is not None:
            # The plain case: one forwarded param, alone on the query.
            present = shape.single.get(single, ())
            if present:
                forwarded = requested
        elif requested:
            present = tuple(name for name in shape.optional if name in requested)
            forwarded = {name: requested[name] for name in present}
        direct = link._direct
        if routing is None and direct is not None and present == direct[0]:
            template = direct[1]
        else:
            template = link.template(destination, present)
        if template is None:
            outcome, problem, destination = "error", "unsendable_url", ""
            forwarded = {}
        elif not template[2]:
            location = (template[0] or destination) + template[1]
        else:
            parts = [template[0] or destination, template[1]]
            for kind, name, literal in template[2]:
                if kind == _SLOT_CLICK_ID:
                    slot = click_id
                elif kind == _SLOT_FORWARDED:
                    slot = forwarded[name]
                elif kind == _SLOT_CLICK_TS:
                    slot = str(int(now))
                elif kind == _SLOT_GEO:
                    slot = country or ""
                elif kind == _SLOT_SMS_REF:
                    slot = message[1] if message else ""
                else:
                    slot = variant or ""
                # As urlencode(quote_via=quote) writes it (the check is quote's safe set; a
                # click id always has a "-", a forwarded value often only letters and digits).
                if kind == _SLOT_CLICK_ID or not (slot.isalnum() and slot.isascii()):
                    if not _quote_safe(slot):
                        slot = quote(slot, safe="")
                parts.append(slot)
                parts.append(literal)
            location = "".join(parts)
    decision: Decision = _new_tuple(
        Decision,
        (
            location,
            outcome,
            reason,
            variant,
            forwarded,
            bot,
            problem,
            destination,
            click,
            base,
            country,
            requested,
        ),
    )
    return decision


def decide_without_link(
    domain: str, slug: str, outcome: str, click: ClickInput, default_fallback_url: str
) -> Decision:
    """The decision for a click that has no record (``not_found``, or ``error`` when it could
    not be read): the default fallback."""
    base = _event_base(domain, slug, None)
    if click.query and is_scan(parse_request_query(click.query)):
        base = (*base[:5], SCAN_CHANNEL)
    return Decision(
        default_fallback_url,
        outcome,
        "fallback",
        None,
        {},
        bot_kind(click),
        None,
        "",
        click,
        base,
        normal_country(click.country),
        request_forwarded(click.query),
    )

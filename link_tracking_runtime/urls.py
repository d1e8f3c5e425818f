"""The redirect URL builder: the one place that decides what the visitor's URL looks like.

Precedence, lowest first (a later source replaces every value of a name set earlier):

1. the query params already on the destination URL;
2. the link's resolved UTM/static params (``resolved_query_params``), in name order (a
   DynamoDB map has no order, and the same record must always give the same URL);
3. dynamic params the runtime generates (``click_id``, ``ab_variant``, ``geo``, ``click_ts``),
   each only when it is in the link's ``dynamic_param_allowlist``;
4. params forwarded from the incoming request (:data:`.record.FORWARDED_FROM_REQUEST_PARAMS`),
   again only when allowlisted.

Destination params that nothing replaces are kept byte for byte (a pre-signed destination
stays valid). With ``append_query_params`` false the destination is used exactly as it is.

A URL is built in two steps: :func:`url_template` works out everything that does not change
from one click to the next (which destination params are kept, the static params, where each
dynamic value goes) once, and :meth:`UrlTemplate.fill` puts one click's values in place, each
as ``urlencode`` writes it. :func:`build_redirect_url` is the two steps in one call; the
click decision (:mod:`.click`) keeps the templates of a link, so the same code builds every
redirect, the preview's included.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from typing import Final
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit, urlunsplit

from . import record as _record
from .record import GENERATED_PARAMS, RuntimeRecord

__all__ = [
    "FORWARDED_VALUE_MAX_LENGTH",
    "GEO_COUNTRY_HEADER",
    "UrlTemplate",
    "build_redirect_url",
    "forwarded_params",
    "is_acceptable_value",
    "is_http_url",
    "parse_request_query",
    "query_template",
    "quote_value",
    "url_template",
]

#: The header CloudFront sets with the viewer's ISO country code (lower-case, as ASGI has it).
GEO_COUNTRY_HEADER: Final = "cloudfront-viewer-country"

#: A forwarded value longer than this, or holding control characters, is not forwarded.
FORWARDED_VALUE_MAX_LENGTH: Final = 256

#: What ``quote(value, safe="")`` leaves as it is (letters, digits and ``_.~-``).
_QUOTE_SAFE: Final = re.compile(r"[A-Za-z0-9_.~-]+")
#: Characters a Location header may carry as they are; anything else is percent-encoded.
_URL_SAFE: Final = ":/?#[]@!$&'()*+,;=%-._~"


def quote_value(value: str) -> str:
    """A query value as ``urlencode(..., quote_via=quote)`` writes it."""
    return value if _QUOTE_SAFE.fullmatch(value) else quote(value, safe="")


def is_acceptable_value(value: str | None) -> bool:
    """Whether a value from a request may be forwarded (and recorded): not empty, at most
    :data:`FORWARDED_VALUE_MAX_LENGTH` characters, printable."""
    return bool(value) and len(value) <= FORWARDED_VALUE_MAX_LENGTH and value.isprintable()  # type: ignore[arg-type,union-attr]


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an absolute ``http``/``https`` URL (the only kind a link may send a
    visitor to: never ``javascript:``, ``data:`` or a relative path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_request_query(query_string: str) -> dict[str, str]:
    """A request's query string as a dict; of a repeated name, the first value wins.

    ``parse_qsl(..., keep_blank_values=True, errors="replace")``; a query without ``%`` or
    ``+`` has nothing to decode, and is split directly (the same result, in a fraction of the
    time: one is parsed per click).
    """
    params: dict[str, str] = {}
    if "%" in query_string or "+" in query_string:
        for name, value in parse_qsl(query_string, keep_blank_values=True, errors="replace"):
            params.setdefault(name, value)
        return params
    for piece in query_string.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            params.setdefault(name, value)
    return params


def forwarded_params(
    record: RuntimeRecord, request_params: Mapping[str, str] | None
) -> dict[str, str]:
    """The allowlisted forward-from-request params present (and acceptable) on a request."""
    if not request_params:
        return {}
    allowlist = record.dynamic_param_allowlist
    return {
        name: value
        for name in _record.FORWARDED_FROM_REQUEST_PARAMS
        if name in allowlist
        and (name != _record.SMS_MSG_ID_PARAM or record.query_message_id)
        and (value := request_params.get(name)) is not None
        and is_acceptable_value(value)
    }


@dataclasses.dataclass(frozen=True, slots=True)
class UrlTemplate:
    """A redirect URL but for the dynamic values: ``literals[0] value[0] literals[1] ...``.

    ``names`` says which dynamic param each value is; ``format`` is the same as a
    ``str.format`` string, ``{0}`` … in the order of ``names``.
    """

    literals: tuple[str, ...]
    names: tuple[str, ...]
    format: str

    @classmethod
    def of(cls, literals: list[str], names: list[str]) -> UrlTemplate:
        escaped = [piece.replace("{", "{{").replace("}", "}}") for piece in literals]
        return cls(
            tuple(literals),
            tuple(names),
            "".join(f"{piece}{{{i}}}" for i, piece in enumerate(escaped[:-1])) + escaped[-1],
        )

    def fill(self, values: Mapping[str, str]) -> str:
        """The URL with ``values`` (by param name) in place, quoted as ``urlencode`` does."""
        if not self.names:
            return self.literals[0]
        return self.format.format(*[quote_value(values[name]) for name in self.names])

    def header_safe(self) -> UrlTemplate | None:
        """The template of the URL as a ``Location`` header value (ASCII, percent-encoded
        where it was not; no controls, no spaces), ``None`` if it cannot be one.

        Filled values are ``quote`` output, which is ASCII of characters left as they are, so
        encoding the literals is encoding the whole URL.
        """
        literals = list(self.literals)
        if not all(piece.isascii() for piece in literals):
            literals = [quote(piece, safe=_URL_SAFE) for piece in literals]
        if not all(piece.isprintable() and " " not in piece for piece in literals):
            return None
        return UrlTemplate.of(literals, list(self.names))


def url_template(record: RuntimeRecord, destination: str, names: Collection[str]) -> UrlTemplate:
    """The template of the redirect URL to ``destination`` for a click that has a value for
    each dynamic param in ``names`` (generated or forwarded; the record's allowlist decides
    which of them go on the URL)."""
    return query_template(
        destination or record.destination_url,
        names,
        append_query_params=record.append_query_params,
        allowlist=record.dynamic_param_allowlist,
        resolved_query_params=record.resolved_query_params,
    )


def query_template(
    url: str,
    names: Collection[str],
    *,
    append_query_params: bool,
    allowlist: Collection[str],
    resolved_query_params: Mapping[str, str],
) -> UrlTemplate:
    """:func:`url_template` from the record fields it reads (what a compiled link keeps of
    its record)."""
    if not append_query_params:
        return UrlTemplate.of([url], [])
    # DynamoDB maps carry no order: sort, so the same record always gives the same URL.
    # ``None`` marks a dynamic value; a dynamic param replaces a static one in its place.
    added: dict[str, str | None] = dict(sorted(resolved_query_params.items()))
    for name in (*GENERATED_PARAMS, *_record.FORWARDED_FROM_REQUEST_PARAMS):
        if name in allowlist and name in names:
            added[name] = None
    if not added:
        return UrlTemplate.of([url], [])

    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.split("=", 1)[0]) not in added
    ]
    # urlunsplit puts "?" + query after the rest when the query is not empty (it is not).
    literals: list[str] = []
    slots: list[str] = []
    current = urlunsplit(parts._replace(query="", fragment="")) + "?" + "&".join(kept)
    for index, (name, value) in enumerate(added.items()):
        current += ("&" if kept or index else "") + quote(name, safe="") + "="
        if value is None:
            literals.append(current)
            slots.append(name)
            current = ""
        else:
            current += quote(value, safe="")
    if parts.fragment:
        current += "#" + parts.fragment
    literals.append(current)
    return UrlTemplate.of(literals, slots)


def build_redirect_url(
    record: RuntimeRecord,
    *,
    click_id: str,
    now: float,
    destination: str | None = None,
    geo_country: str | None = None,
    ab_variant: str | None = None,
    request_params: Mapping[str, str] | None = None,
) -> str:
    """The final redirect URL for one click.

    ``destination`` is what routing chose (default: the record's ``destination_url``);
    ``now`` is the click time in Unix seconds (``click_ts``).
    """
    values = {"click_id": click_id, "click_ts": str(int(now))}
    if ab_variant:
        values["ab_variant"] = ab_variant
    if geo_country:
        values["geo"] = geo_country
    values.update(forwarded_params(record, request_params))
    template = url_template(record, destination or record.destination_url, values)
    return template.fill(values)

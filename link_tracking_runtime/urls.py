"""The redirect URL builder: the one place that decides what the visitor's URL looks like.

Precedence, lowest first (a later source replaces every value of a name set earlier):

1. the query params already on the destination URL;
2. the link's resolved UTM/static params (``resolved_query_params``), in name order (a
   DynamoDB map has no order, and the same record must always give the same URL);
3. dynamic params the runtime generates (``click_id``, ``ab_variant``, ``geo``, ``click_ts``),
   each only when it is in the link's ``dynamic_param_allowlist``;
4. params forwarded from the incoming request (``sms_msg_id``), again only when allowlisted.

Destination params that nothing replaces are kept byte for byte (a pre-signed destination
stays valid). With ``append_query_params`` false the destination is used exactly as it is.
The control plane's preview calls this same function, so a preview is what the runtime does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

from .record import FORWARDED_FROM_REQUEST_PARAMS, RuntimeRecord

__all__ = [
    "FORWARDED_VALUE_MAX_LENGTH",
    "GEO_COUNTRY_HEADER",
    "build_redirect_url",
    "forwarded_params",
    "parse_request_query",
]

#: The header CloudFront sets with the viewer's ISO country code (lower-case, as ASGI has it).
GEO_COUNTRY_HEADER: Final = "cloudfront-viewer-country"

#: A forwarded value longer than this, or holding control characters, is not forwarded.
FORWARDED_VALUE_MAX_LENGTH: Final = 256


def parse_request_query(query_string: str) -> dict[str, str]:
    """A request's query string as a dict; of a repeated name, the first value wins."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True, errors="replace"):
        params.setdefault(name, value)
    return params


def _acceptable(value: str) -> bool:
    return 0 < len(value) <= FORWARDED_VALUE_MAX_LENGTH and value.isprintable()


def forwarded_params(
    record: RuntimeRecord, request_params: Mapping[str, str] | None
) -> dict[str, str]:
    """The allowlisted forward-from-request params present (and acceptable) on a request."""
    if not request_params:
        return {}
    return {
        name: request_params[name]
        for name in FORWARDED_FROM_REQUEST_PARAMS
        if name in record.dynamic_param_allowlist
        and name in request_params
        and _acceptable(request_params[name])
    }


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
    url = destination or record.destination_url
    if not record.append_query_params:
        return url

    allowlist = record.dynamic_param_allowlist
    # DynamoDB maps carry no order: sort, so the same record always gives the same URL.
    added: dict[str, str] = dict(sorted(record.resolved_query_params.items()))
    if "click_id" in allowlist:
        added["click_id"] = click_id
    if "ab_variant" in allowlist and ab_variant:
        added["ab_variant"] = ab_variant
    if "geo" in allowlist and geo_country:
        added["geo"] = geo_country
    if "click_ts" in allowlist:
        added["click_ts"] = str(int(now))
    added.update(forwarded_params(record, request_params))
    if not added:
        return url

    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.split("=", 1)[0]) not in added
    ]
    query = "&".join([*kept, urlencode(added, quote_via=quote)])
    return urlunsplit(parts._replace(query=query))

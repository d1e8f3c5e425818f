"""The runtime record: what the control plane publishes and the runtime reads.

One item per short link in the runtime table, keyed by ``PK = DOMAIN#{host}`` and
``SK = SLUG#{SLUG}``. The publisher builds a :class:`RuntimeRecord`, turns it into an item
with :func:`to_item` and writes it; the runtime reads an item and turns it back with
:func:`from_item`. Both halves import these definitions, so neither can drift.

Schema evolution follows one rule: a new attribute gets a default, and :func:`from_item`
tolerates attributes it does not know (they are kept in ``RuntimeRecord.extra``), so an
older runtime can read a record written by a newer publisher.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, TypeVar

from .errors import InvalidRecord

_T = TypeVar("_T")

__all__ = [
    "ATTRIBUTE_TYPES",
    "CLICK_COUNTER_ATTRIBUTE",
    "DEFAULT_DYNAMIC_PARAM_ALLOWLIST",
    "DYNAMIC_PARAMS",
    "FORWARDED_FROM_REQUEST_PARAMS",
    "GENERATED_PARAMS",
    "PK_PREFIX",
    "RESERVED_SLUGS",
    "SK_PREFIX",
    "SLUG_MAX_LENGTH",
    "COUNTER_SK_PREFIX",
    "RuntimeRecord",
    "canonical_host",
    "canonical_slug",
    "counter_key",
    "from_item",
    "is_valid_slug",
    "is_reserved_slug",
    "item_key",
    "plain",
    "make_pk",
    "make_sk",
    "to_item",
]

PK_PREFIX: Final = "DOMAIN#"
SK_PREFIX: Final = "SLUG#"
#: The ``max_clicks`` counter lives in its own item beside the record (same PK), so that a
#: republish (a full PutItem of the record) never resets the number of clicks spent.
COUNTER_SK_PREFIX: Final = "CLICKS#"
CLICK_COUNTER_ATTRIBUTE: Final = "click_count"

#: Dynamic params the runtime generates for each click.
#: ``sms_ref`` is the click's per-message token (:mod:`.messages`), an opaque reference to the
#: message: present only when the click came through a per-message link.
GENERATED_PARAMS: Final = ("click_id", "ab_variant", "geo", "click_ts", "sms_ref")
#: Dynamic params the runtime copies from the incoming request onto the redirect URL and into
#: the click event (the SMS flow sends ``?sms_msg_id=<id>``). Only these may come from a request:
#: a visitor can never set ``click_id`` or ``ab_variant``.
#: The forwarded param that names the SMS message the spec's way (a link with
#: ``query_message_id`` false ignores it).
SMS_MSG_ID_PARAM: Final = "sms_msg_id"
FORWARDED_FROM_REQUEST_PARAMS: Final = (SMS_MSG_ID_PARAM,)
#: Every name a link's ``dynamic_param_allowlist`` may contain.
DYNAMIC_PARAMS: Final = GENERATED_PARAMS + FORWARDED_FROM_REQUEST_PARAMS
DEFAULT_DYNAMIC_PARAM_ALLOWLIST: Final = ("click_id",)

#: Slugs are at most this long (vanity slugs included).
SLUG_MAX_LENGTH: Final = 64
# Letters, digits, '-' and '_' only: no '/', '.', '%' or anything a path or a DynamoDB key
# could misread. Checked on the canonical (upper-case) form.
_SLUG_RE: Final = re.compile(rf"[A-Z0-9][A-Z0-9_-]{{0,{SLUG_MAX_LENGTH - 1}}}")

#: Paths the runtime answers itself, or that browsers and crawlers ask every host for; never
#: a slug. Compared case-insensitively (on the canonical form).
RESERVED_SLUGS: Final = frozenset(
    {
        "HEALTH",
        "HEALTHZ",
        "READY",
        "ROBOTS.TXT",
        "FAVICON.ICO",
        "APPLE-TOUCH-ICON.PNG",
        "APPLE-TOUCH-ICON-PRECOMPOSED.PNG",
        "SITEMAP.XML",
        "ADS.TXT",
        "SECURITY.TXT",
        ".WELL-KNOWN",
        "DISABLED",  # the default fallback_url is https://{domain}/disabled
        "API",
        "ADMIN",
        "STATIC",
        "METRICS",
    }
)

#: Every attribute of the record with its DynamoDB type.
ATTRIBUTE_TYPES: Final[Mapping[str, str]] = {
    "PK": "S",
    "SK": "S",
    "link_id": "S",
    "destination_url": "S",
    "fallback_url": "S",
    "active": "BOOL",
    "expires_at_epoch": "N",
    "max_clicks": "N",
    "append_query_params": "BOOL",
    "resolved_query_params": "M",
    "dynamic_param_allowlist": "L",
    "signature_required": "BOOL",
    "signature_key_id": "S",
    "message_keyring": "S",
    "query_message_id": "BOOL",
    "routing_rules": "M",
    "campaign_id": "S",
    "keyword": "S",
    "channel": "S",
    "runtime_version": "N",
    "published_at_epoch": "N",
    "updated_at_epoch": "N",
}


def canonical_host(host: str) -> str:
    """The host as keys use it: lower-case, no port, no trailing dot, IDNs as punycode.

    ``"Go.Example.COM.:443"`` becomes ``"go.example.com"``. Never raises: a host that cannot
    be encoded (or whose encoding would hold ``[``, ``]`` or ``:``) is returned lower-cased,
    and will simply not match any record.
    """
    host = host.strip()
    if host.startswith("["):  # IPv6 literal, "[::1]:8000"
        end = host.find("]")
        host = host[: end + 1] if end != -1 else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".").lower()
    while host != host.strip():  # whitespace that was before the port or a trailing dot
        host = host.strip().rstrip(".")
    if not host.isascii():
        try:
            encoded = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
        else:
            # Not a name if its encoding holds a bracket or a port's colon ("[:ä" encodes to
            # "xn--[:-wia", which would lose its "port" the next time), nor if a non-ASCII
            # label came out as plain ASCII instead of punycode: the codec's compatibility
            # mapping folded it ("¹²7.0.0.1" into "127.0.0.1", full-width letters into
            # ASCII ones), so it would pose as another host. Either is kept as it is, matching
            # no record, and the canonical form stays canonical.
            if not any(mark in encoded for mark in "[]:") and not _folded(host, encoded):
                host = encoded
    return host


def _folded(host: str, encoded: str) -> bool:
    """Whether encoding ``host`` turned a non-ASCII label into something other than its own
    punycode label (or changed the labels themselves, as an ideographic full stop does)."""
    labels, encoded_labels = host.split("."), encoded.split(".")
    if len(labels) != len(encoded_labels):
        return True
    return any(
        not label.isascii() and not encoded_label.startswith("xn--")
        for label, encoded_label in zip(labels, encoded_labels, strict=True)
    )


def _trimmed(slug: str) -> str:
    """``slug`` without the whitespace and slashes around it."""
    trimmed = slug.strip().strip("/")
    # "/\r0" strips to "\r0": strip again until neither surrounds it (idempotent).
    while trimmed and (
        trimmed[0] == "/" or trimmed[-1] == "/" or trimmed[0].isspace() or trimmed[-1].isspace()
    ):
        trimmed = trimmed.strip().strip("/")
    return trimmed


def canonical_slug(slug: str) -> str:
    """The slug as keys use it: surrounding whitespace and slashes removed, upper-cased."""
    return _trimmed(slug).upper()


def is_valid_slug(slug: str) -> bool:
    """Whether ``slug`` (in any case) can be a slug at all: the runtime answers anything else
    without a DynamoDB read, and the control plane refuses it. The slug as typed must be ASCII:
    ``str.upper`` folds some other letters into ASCII ones (``ſ`` to ``S``, ``ﬁ`` to ``FI``,
    ``ı`` to ``I``), so ``ſLUG`` would otherwise be stored as typed under ``SLUG``'s key."""
    trimmed = _trimmed(slug)
    canonical = trimmed.upper()
    return (
        trimmed.isascii()
        and bool(_SLUG_RE.fullmatch(canonical))
        and canonical not in RESERVED_SLUGS
    )


def is_reserved_slug(slug: str) -> bool:
    return canonical_slug(slug) in RESERVED_SLUGS


def make_pk(host: str) -> str:
    return PK_PREFIX + canonical_host(host)


def make_sk(slug: str) -> str:
    return SK_PREFIX + canonical_slug(slug)


def item_key(host: str, slug: str) -> dict[str, str]:
    """The primary key of the record for ``host`` and ``slug`` (canonicalised here)."""
    return {"PK": make_pk(host), "SK": make_sk(slug)}


def counter_key(host: str, slug: str) -> dict[str, str]:
    """The primary key of the ``max_clicks`` counter item of a record."""
    return {"PK": make_pk(host), "SK": COUNTER_SK_PREFIX + canonical_slug(slug)}


@dataclasses.dataclass(frozen=True, slots=True)
class RuntimeRecord:
    """One published short link, in the form the runtime reads.

    ``domain`` and ``slug`` are canonical (see :func:`canonical_host`, :func:`canonical_slug`);
    the item's ``PK`` and ``SK`` are derived from them.
    """

    domain: str
    slug: str
    link_id: str
    destination_url: str
    fallback_url: str
    active: bool
    runtime_version: int
    append_query_params: bool = True
    resolved_query_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    dynamic_param_allowlist: tuple[str, ...] = DEFAULT_DYNAMIC_PARAM_ALLOWLIST
    signature_required: bool = False
    signature_key_id: str | None = None
    routing_rules: Mapping[str, Any] | None = None
    expires_at_epoch: int | None = None
    max_clicks: int | None = None
    campaign_id: str | None = None
    keyword: str | None = None
    channel: str | None = None
    published_at_epoch: int | None = None
    updated_at_epoch: int | None = None
    #: The signing keyring (a Secrets Manager name under ``SIGNING_KEYRING_PREFIX``) that
    #: verifies the link's per-message tokens (:mod:`.messages`); ``None``: the link has none.
    message_keyring: str | None = None
    #: Whether a ``sms_msg_id`` typed into the query string is taken (the spec's SMS form). A
    #: link that only sends per-message links sets it false: a hand-typed one is then ignored
    #: (not forwarded, not recorded) and counted.
    query_message_id: bool = True
    #: Attributes of the item this version of the contract does not know.
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def pk(self) -> str:
        return make_pk(self.domain)

    @property
    def sk(self) -> str:
        return make_sk(self.slug)


def _to_dynamo_value(value: Any) -> Any:
    """Python value → what boto3's resource layer (and our wire codec) accepts: numbers as
    Decimal (boto3 rejects float), tuples as lists, nested maps converted too."""
    if isinstance(value, bool) or value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # str() round-trips the shortest repr, so 0.1 stays 0.1 and not 0.1000000000000000055.
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {str(k): _to_dynamo_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo_value(v) for v in value]
    raise InvalidRecord(f"cannot store a value of type {type(value).__name__} in a record")


def _from_dynamo_value(value: Any) -> Any:
    """The inverse of :func:`_to_dynamo_value`: integral Decimals become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_from_dynamo_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_from_dynamo_value(v) for v in value)
    return value


def to_item(record: RuntimeRecord) -> dict[str, Any]:
    """The DynamoDB item for ``record``: numbers as ``Decimal``, ``None`` omitted.

    The result is what ``Table.put_item(Item=...)`` takes; :mod:`.wire` turns it into the
    low-level attribute-value form when a client needs that.
    """
    attributes: dict[str, Any] = {
        "PK": record.pk,
        "SK": record.sk,
        "link_id": record.link_id,
        "destination_url": record.destination_url,
        "fallback_url": record.fallback_url,
        "active": record.active,
        "expires_at_epoch": record.expires_at_epoch,
        "max_clicks": record.max_clicks,
        "append_query_params": record.append_query_params,
        "resolved_query_params": dict(record.resolved_query_params),
        "dynamic_param_allowlist": list(record.dynamic_param_allowlist),
        "signature_required": record.signature_required,
        "signature_key_id": record.signature_key_id,
        "routing_rules": dict(record.routing_rules) if record.routing_rules else None,
        "campaign_id": record.campaign_id or None,
        "keyword": record.keyword or None,
        "channel": record.channel or None,
        "runtime_version": record.runtime_version,
        "published_at_epoch": record.published_at_epoch,
        "updated_at_epoch": record.updated_at_epoch,
        "message_keyring": record.message_keyring,
        # Written only when false (the default is the spec's behaviour).
        "query_message_id": None if record.query_message_id else False,
    }
    item = {name: _to_dynamo_value(v) for name, v in attributes.items() if v is not None}
    for name, value in record.extra.items():
        item.setdefault(name, _to_dynamo_value(value))
    return item


def _require_str(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"record attribute {name!r} is missing or not a string")
    return value


def _optional_int(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidRecord(f"record attribute {name!r} is not a number")
    return int(value)


def _optional_str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"record attribute {name!r} is not a string")
    return value


#: Values many records repeat (a domain, a campaign, a fallback URL, param names and values,
#: an allowlist), one object each: a runtime caching 100,000 records keeps one copy of them.
_SHARED: dict[Any, Any] = {}
_SHARED_MAX: Final = 65_536


def _share(value: _T) -> _T:
    """The one kept object equal to ``value`` (``value`` itself once the memo is full)."""
    shared = _SHARED.get(value)
    if shared is not None:
        return shared  # type: ignore[no-any-return]
    if len(_SHARED) < _SHARED_MAX:
        _SHARED[value] = value
    return value


def _shared_str(item: Mapping[str, Any], name: str) -> str | None:
    value = _optional_str(item, name)
    return None if value is None else _share(value)


def from_item(item: Mapping[str, Any]) -> RuntimeRecord:
    """Read an item (resource-layer form: Decimal numbers) back into a :class:`RuntimeRecord`.

    Missing optional attributes take their defaults; unknown ones are kept in ``extra``.
    Raises :class:`InvalidRecord` when a required attribute is missing or has the wrong type.
    """
    pk = _require_str(item, "PK")
    sk = _require_str(item, "SK")
    if not pk.startswith(PK_PREFIX) or not sk.startswith(SK_PREFIX):
        raise InvalidRecord(f"record key {pk!r}/{sk!r} is not DOMAIN#…/SLUG#…")
    params = item.get("resolved_query_params") or {}
    if not isinstance(params, Mapping):
        raise InvalidRecord("record attribute 'resolved_query_params' is not a map")
    allowlist = item.get("dynamic_param_allowlist", list(DEFAULT_DYNAMIC_PARAM_ALLOWLIST))
    if not isinstance(allowlist, list | tuple) or not all(isinstance(p, str) for p in allowlist):
        raise InvalidRecord("record attribute 'dynamic_param_allowlist' is not a list of strings")
    rules = item.get("routing_rules")
    if rules is not None and not isinstance(rules, Mapping):
        raise InvalidRecord("record attribute 'routing_rules' is not a map")
    version = _optional_int(item, "runtime_version")
    return RuntimeRecord(
        domain=_share(pk[len(PK_PREFIX) :]),
        slug=sk[len(SK_PREFIX) :],
        link_id=_require_str(item, "link_id"),
        destination_url=_require_str(item, "destination_url"),
        fallback_url=_shared_str(item, "fallback_url") or "",
        active=item.get("active") is True,
        runtime_version=version if version is not None else 0,
        append_query_params=item.get("append_query_params", True) is not False,
        resolved_query_params={
            _share(str(k)): _share(str(_from_dynamo_value(v))) for k, v in params.items()
        },
        dynamic_param_allowlist=_share(tuple(allowlist)),
        signature_required=item.get("signature_required") is True,
        signature_key_id=_optional_str(item, "signature_key_id"),
        routing_rules=_from_dynamo_value(rules) if rules else None,
        expires_at_epoch=_optional_int(item, "expires_at_epoch"),
        max_clicks=_optional_int(item, "max_clicks"),
        campaign_id=_shared_str(item, "campaign_id"),
        keyword=_shared_str(item, "keyword"),
        channel=_shared_str(item, "channel"),
        published_at_epoch=_optional_int(item, "published_at_epoch"),
        updated_at_epoch=_optional_int(item, "updated_at_epoch"),
        message_keyring=_shared_str(item, "message_keyring"),
        query_message_id=item.get("query_message_id", True) is not False,
        extra={k: _from_dynamo_value(v) for k, v in item.items() if k not in ATTRIBUTE_TYPES},
    )


def plain(value: Any) -> Any:
    """An item (or any value) with Decimals turned into int/float: for JSON and comparisons."""
    return _from_dynamo_value(value)

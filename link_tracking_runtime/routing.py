"""Routing rules: which destination one click goes to, shared by the runtime and the preview.

A record's ``routing_rules`` is one rule, a JSON object with a ``type``:

``ab_test``, two variants (the spec's form)::

    {"type": "ab_test", "variant_a": "https://a.example", "variant_b": "https://b.example",
     "split": 0.5}

  ``split`` (default 0.5) is the share of visitors sent to ``variant_a``; the variants are
  named ``a`` and ``b`` (the ``ab_variant`` param and event field).

``ab_test``, weighted multi-variant::

    {"type": "ab_test", "variants": [{"name": "control", "weight": 2},
                                     {"name": "red", "url": "https://red.example", "weight": 1}]}

  Weights are relative (any non-negative numbers, not all zero). A variant without ``url``
  goes to the record's ``destination_url`` (a control group).

``geo``::

    {"type": "geo", "de": "https://de.example", "eu": "https://eu.example",
     "us": "https://us.example", "other": "https://world.example", "default": "https://x"}

  Keys are ISO 3166 country codes or the regions ``eu`` (EU member states and GB) and
  ``other``, in lower case. The viewer country (CloudFront-Viewer-Country) is looked up as a
  country first, then as its region (``us`` is both), then ``default``. A missing country is
  region ``other``.

``time``::

    {"type": "time", "business_hours": "https://sales.example",
     "after_hours": "https://form.example", "timezone": "America/New_York",
     "start_hour": 9, "end_hour": 17, "days": [1, 2, 3, 4, 5]}

  Business hours are ``start_hour`` (default 9) to ``end_hour`` (default 17, exclusive) in
  ``timezone`` (an IANA zone, default UTC), on ``days`` (ISO weekdays, Monday = 1; default
  every day).

``device``::

    {"type": "device", "ios": "https://apps.apple.com/...", "android": "https://play...",
     "desktop": "https://example.com/desktop", "default": "https://example.com"}

  The device is read from the User-Agent (:func:`device_from_user_agent`): ``ios``,
  ``android``, ``desktop`` or ``other``; a device without a key goes to ``default``.

``language``::

    {"type": "language", "fr": "https://example.com/fr", "fr-CA": "https://example.com/qc",
     "de": "https://example.com/de", "default": "https://example.com/en"}

  Keys are language tags (BCP 47: a two- or three-letter language, then optional script,
  region or variant subtags of 2-8 letters or digits; no extensions or private use), in any
  case, at most :data:`MAX_LANGUAGES` of them, plus ``default``. The visitor's
  ``Accept-Language`` is read as RFC 9110 says and matched by RFC 4647 *lookup* (section 3.4;
  :func:`match_language`): the ranges are taken by descending ``q`` (equal ``q`` in header
  order), and each is truncated from the end until it equals a key. So ``fr-CA``, ``fr-CH``
  and ``fr-CA-x-sms`` all find a ``fr`` key, while a ``fr-CA`` key is found by ``fr-CA`` (or a
  longer range) only, never by a bare ``fr``: lookup never widens what the visitor asked for
  (key ``fr`` to catch every French speaker, ``fr-CA`` beside it for Canada). A key equal to a
  range the visitor refuses (``q=0``) is never chosen: ``fr-CA, fr;q=0`` does not find a
  ``fr`` key. The wildcard ``*`` names no language (lookup skips it). Malformed ranges (bad
  syntax, a ``q`` that is not RFC 9110's ``qvalue``) are skipped; only the first
  :data:`ACCEPT_LANGUAGE_MAX_RANGES` ranges are read, and a header longer than
  :data:`ACCEPT_LANGUAGE_MAX_LENGTH` characters (no browser sends one) is ignored as a whole.
  No matching range goes to ``default``. The reason is ``language:<key>`` (the key in lower
  case) or ``language:default``.

A rule that matches no key (and has no ``default``) sends the visitor to the record's
``destination_url``. A/B assignment is sticky per visitor, not per click: the variant is a
pure function of the link id and a *visitor key* the caller supplies (the runtime uses the
SMS message id when the link has one, otherwise a keyed hash of IP and User-Agent).

:func:`validate_routing_rules` raises :class:`InvalidRoutingRules` for anything else (the
control plane calls it when rules are saved); :func:`route` never raises: rules it cannot
use send the visitor to the record's destination with reason ``invalid_rules``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import math
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .errors import InvalidRoutingRules
from .record import RuntimeRecord

__all__ = [
    "ACCEPT_LANGUAGE_HEADER",
    "ACCEPT_LANGUAGE_MAX_LENGTH",
    "ACCEPT_LANGUAGE_MAX_RANGES",
    "DEVICES",
    "EU_COUNTRIES",
    "MAX_LANGUAGES",
    "MAX_VARIANTS",
    "RULE_TYPES",
    "CompiledRules",
    "Device",
    "RoutingContext",
    "RoutingDecision",
    "ab_bucket",
    "compile_rules",
    "country_region",
    "decide",
    "device_from_user_agent",
    "match_language",
    "route",
    "validate_routing_rules",
]

Device = Literal["ios", "android", "desktop", "other"]
DEVICES: Final[tuple[Device, ...]] = ("ios", "android", "desktop", "other")
RULE_TYPES: Final = ("ab_test", "geo", "time", "device", "language")

#: Region ``eu``: the EU member states, plus GB (the spec's list has it).
EU_COUNTRIES: Final = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE GB".split()
)
_REGIONS: Final = frozenset({"us", "eu", "other"})
_COUNTRY_RE: Final = re.compile(r"[a-z]{2}")
_VARIANT_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: The most variants an ab_test rule may have.
MAX_VARIANTS: Final = 20
_MAX_URL_LENGTH: Final = 4096
#: The most language tags a language rule may have (besides ``default``).
MAX_LANGUAGES: Final = 50
#: The request header a language rule reads (lower case, as ASGI servers give names).
ACCEPT_LANGUAGE_HEADER: Final = "accept-language"
#: An ``Accept-Language`` longer than this is ignored as a whole: browsers send well under
#: 200 characters, and reading a part of a longer one could cut a range in two.
ACCEPT_LANGUAGE_MAX_LENGTH: Final = 1024
#: Only the first ranges of an ``Accept-Language`` are read.
ACCEPT_LANGUAGE_MAX_RANGES: Final = 32
#: A rule's key: BCP 47 language, then script/region/variant subtags (ASCII only: str.lower
#: folds some non-ASCII letters, such as the Kelvin sign, into ASCII ones).
_LANGUAGE_TAG_RE: Final = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
#: RFC 5646's advice for the longest tag worth keeping.
_LANGUAGE_TAG_MAX_LENGTH: Final = 35
#: One ``Accept-Language`` element (RFC 9110 section 12.5.4: a basic language range of
#: RFC 4647, an optional weight); the range and the qvalue are the groups.
_LANGUAGE_RANGE_RE: Final = re.compile(
    r"[ \t]*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)[ \t]*"
    r"(?:;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)[ \t]*)?"
)


@dataclasses.dataclass(frozen=True, slots=True)
class RoutingContext:
    """What routing may look at for one click."""

    #: The click time, Unix seconds.
    now: float
    #: Identifies the visitor for sticky A/B assignment (any stable string).
    visitor_key: str = ""
    #: ISO country code of the viewer (CloudFront-Viewer-Country), any case.
    geo_country: str | None = None
    user_agent: str | None = None
    #: The request's ``Accept-Language`` header, as sent.
    accept_language: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where one click goes and why (``reason`` is the click event's ``routing_reason``)."""

    destination: str
    reason: str = "default"
    ab_variant: str | None = None


# --- classification helpers ----------------------------------------------------------------


def device_from_user_agent(user_agent: str | None) -> Device:
    """``ios``, ``android``, ``desktop`` or ``other`` from a User-Agent header.

    iPadOS in its default "desktop site" mode sends a Macintosh User-Agent and is therefore
    ``desktop``; nothing in the header tells them apart.
    """
    if not user_agent:
        return "other"
    if "iPhone" in user_agent or "iPad" in user_agent or "iPod" in user_agent:
        return "ios"
    if "Android" in user_agent:
        return "android"
    if (
        "Windows NT" in user_agent
        or "Macintosh" in user_agent
        or "X11;" in user_agent
        or "CrOS" in user_agent
    ):
        return "desktop"
    return "other"


def country_region(country: str | None) -> str:
    """The region of an ISO country code: ``us``, ``eu`` or ``other``."""
    code = (country or "").strip().upper()
    if code == "US":
        return "us"
    if code in EU_COUNTRIES:
        return "eu"
    return "other"


def match_language(languages: Mapping[str, str], accept_language: str | None) -> str | None:
    """The key of ``languages`` (lower-case language tags) that RFC 4647 lookup finds for an
    ``Accept-Language`` header, ``None`` when none does (see the module's ``language`` rule).

    Never raises, and reads at most :data:`ACCEPT_LANGUAGE_MAX_RANGES` ranges of at most
    :data:`ACCEPT_LANGUAGE_MAX_LENGTH` characters.
    """
    if not accept_language or len(accept_language) > ACCEPT_LANGUAGE_MAX_LENGTH:
        return None
    ranges: list[tuple[float, str]] = []
    #: Ranges the visitor marks "not acceptable" (q=0): a key equal to one is never chosen.
    refused: set[str] = set()
    for part in accept_language.split(",", ACCEPT_LANGUAGE_MAX_RANGES)[:ACCEPT_LANGUAGE_MAX_RANGES]:
        element = _LANGUAGE_RANGE_RE.fullmatch(part)
        if element is None:
            continue  # malformed, or an empty element ("fr,,de")
        language_range, qvalue = element.groups()
        if language_range == "*":
            continue  # lookup skips the wildcard: it names no language
        q = 1.0 if qvalue is None else float(qvalue)
        if q:
            ranges.append((q, language_range.lower()))
        else:
            refused.add(language_range.lower())
    # A later range needs a higher q to win (equal q keep header order), so nothing is
    # sorted and a q=1 match ends the search.
    best: str | None = None
    best_q = 0.0
    for q, tag in ranges:
        if q <= best_q:
            continue
        while tag:
            if tag in languages and tag != "default" and tag not in refused:
                best, best_q = tag, q
                break
            tag = tag.rpartition("-")[0]
            # A singleton (an extension's or private use's "x") goes with the subtag after it.
            if len(tag) > 2 and tag[-2] == "-":
                tag = tag[:-2]
        if best_q == 1.0:
            break
    return best


def ab_bucket(link_id: str, visitor_key: str) -> float:
    """A number in [0, 1) fixed for one visitor of one link (so assignment is sticky), and
    independent between links. SHA-256, so every process and the preview agree."""
    digest = hashlib.sha256(f"lt-ab1\n{link_id}\n{visitor_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


# --- compiled rules ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Variant:
    name: str
    url: str | None
    weight: float


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledRules:
    """Validated rules, ready to evaluate many times (the runtime caches one per record)."""

    type: str
    #: ab_test: the variants, with cumulative weight bounds.
    variants: tuple[_Variant, ...] = ()
    #: geo, device and language: key → URL; time: "business_hours"/"after_hours" → URL.
    targets: Mapping[str, str] = dataclasses.field(default_factory=dict)
    timezone: zoneinfo.ZoneInfo | None = None
    start_hour: int = 9
    end_hour: int = 17
    days: frozenset[int] = frozenset(range(1, 8))

    def choose(self, link_id: str, context: RoutingContext) -> tuple[str | None, str, str | None]:
        """(URL or None for the record's destination, reason, ab_variant)."""
        if self.type == "ab_test":
            variant = self._pick_variant(ab_bucket(link_id, context.visitor_key))
            return variant.url, "ab_test", variant.name
        if self.type == "geo":
            country = (context.geo_country or "").strip().lower()
            if country and country in self.targets:
                return self.targets[country], f"geo:{country}", None
            region = country_region(country)
            if region in self.targets:
                return self.targets[region], f"geo:{region}", None
            return self.targets.get("default"), "geo:default", None
        if self.type == "time":
            assert self.timezone is not None
            local = datetime.datetime.fromtimestamp(context.now, self.timezone)
            open_now = (
                local.isoweekday() in self.days and self.start_hour <= local.hour < self.end_hour
            )
            slot = "business_hours" if open_now else "after_hours"
            return self.targets.get(slot), f"time:{slot}", None
        if self.type == "language":
            language = match_language(self.targets, context.accept_language)
            if language is not None:
                return self.targets[language], f"language:{language}", None
            return self.targets.get("default"), "language:default", None
        # device
        device = device_from_user_agent(context.user_agent)
        if device in self.targets:
            return self.targets[device], f"device:{device}", None
        return self.targets.get("default"), "device:default", None

    def _pick_variant(self, bucket: float) -> _Variant:
        total = sum(v.weight for v in self.variants)
        point = bucket * total
        running = 0.0
        for variant in self.variants:
            running += variant.weight
            if point < running:
                return variant
        # Rounding can leave the last bucket just short; it belongs to the last weighted variant.
        return next(v for v in reversed(self.variants) if v.weight > 0)


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRoutingRules(f"{where}: must be an absolute http(s) URL")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidRoutingRules(f"{where}: must be an absolute http(s) URL, not {value!r}")
    if len(value) > _MAX_URL_LENGTH or not value.isprintable() or " " in value:
        raise InvalidRoutingRules(f"{where}: URL too long or has spaces/control characters")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRoutingRules(f"{where}: must be a number")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float (10**400)
        raise InvalidRoutingRules(f"{where}: must be a finite number") from None
    if not math.isfinite(number):
        raise InvalidRoutingRules(f"{where}: must be a finite number")
    return number


def _only_keys(rules: Mapping[str, Any], allowed: set[str], rule_type: str) -> None:
    unknown = sorted(set(rules) - allowed - {"type"})
    if unknown:
        raise InvalidRoutingRules(f"{rule_type} rule: unknown keys {', '.join(unknown)}")


def _compile_ab_test(rules: Mapping[str, Any]) -> CompiledRules:
    if "variants" in rules:
        _only_keys(rules, {"variants"}, "ab_test")
        raw = rules["variants"]
        if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise InvalidRoutingRules("ab_test rule: 'variants' must be a non-empty list")
        if len(raw) > MAX_VARIANTS:
            raise InvalidRoutingRules(f"ab_test rule: at most {MAX_VARIANTS} variants")
        variants = []
        for index, entry in enumerate(raw):
            where = f"ab_test rule: variants[{index}]"
            if not isinstance(entry, Mapping):
                raise InvalidRoutingRules(f"{where}: must be an object")
            unknown = sorted(set(entry) - {"name", "url", "weight"})
            if unknown:
                raise InvalidRoutingRules(f"{where}: unknown keys {', '.join(unknown)}")
            name = entry.get("name")
            if not isinstance(name, str) or not _VARIANT_NAME_RE.fullmatch(name):
                raise InvalidRoutingRules(f"{where}.name: 1-32 letters, digits, '-' or '_'")
            url = entry.get("url")
            weight = _number(entry.get("weight", 1), f"{where}.weight")
            if weight < 0:
                raise InvalidRoutingRules(f"{where}.weight: must not be negative")
            variants.append(
                _Variant(name, None if url is None else _url(url, f"{where}.url"), weight)
            )
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise InvalidRoutingRules("ab_test rule: variant names must be unique")
        if sum(v.weight for v in variants) <= 0:
            raise InvalidRoutingRules("ab_test rule: at least one weight must be positive")
        return CompiledRules("ab_test", variants=tuple(variants))
    _only_keys(rules, {"variant_a", "variant_b", "split"}, "ab_test")
    split = _number(rules.get("split", 0.5), "ab_test rule: split")
    if not 0.0 <= split <= 1.0:
        raise InvalidRoutingRules("ab_test rule: split must be between 0 and 1")
    return CompiledRules(
        "ab_test",
        variants=(
            _Variant("a", _url(rules.get("variant_a"), "ab_test rule: variant_a"), split),
            _Variant("b", _url(rules.get("variant_b"), "ab_test rule: variant_b"), 1.0 - split),
        ),
    )


def _compile_geo(rules: Mapping[str, Any]) -> CompiledRules:
    targets: dict[str, str] = {}
    for key, value in rules.items():
        if key == "type":
            continue
        lowered = key.lower()
        if lowered != "default" and lowered not in _REGIONS and not _COUNTRY_RE.fullmatch(lowered):
            raise InvalidRoutingRules(
                f"geo rule: key {key!r} is neither an ISO country code, eu, other nor default"
            )
        if lowered in targets:
            raise InvalidRoutingRules(f"geo rule: key {key!r} given twice")
        targets[lowered] = _url(value, f"geo rule: {key}")
    if not targets:
        raise InvalidRoutingRules("geo rule: needs at least one country, region or default")
    return CompiledRules("geo", targets=targets)


def _hour(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
        raise InvalidRoutingRules(f"{where}: must be a whole hour from 0 to 24")
    return value


def _compile_time(rules: Mapping[str, Any]) -> CompiledRules:
    _only_keys(
        rules,
        {"business_hours", "after_hours", "timezone", "start_hour", "end_hour", "days"},
        "time",
    )
    targets = {
        slot: _url(rules[slot], f"time rule: {slot}")
        for slot in ("business_hours", "after_hours")
        if rules.get(slot) is not None
    }
    if not targets:
        raise InvalidRoutingRules("time rule: needs business_hours or after_hours")
    tz_name = rules.get("timezone", "UTC")
    if not isinstance(tz_name, str) or not tz_name:
        raise InvalidRoutingRules("time rule: timezone must be an IANA zone name")
    try:
        timezone = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidRoutingRules(f"time rule: unknown timezone {tz_name!r}") from None
    start = _hour(rules.get("start_hour", 9), "time rule: start_hour")
    end = _hour(rules.get("end_hour", 17), "time rule: end_hour")
    if start >= end:
        raise InvalidRoutingRules("time rule: start_hour must be before end_hour")
    raw_days = rules.get("days", list(range(1, 8)))
    if (
        not isinstance(raw_days, Sequence)
        or isinstance(raw_days, str)
        or not raw_days
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in raw_days)
    ):
        raise InvalidRoutingRules("time rule: days must be a list of ISO weekdays (Monday = 1)")
    return CompiledRules(
        "time",
        targets=targets,
        timezone=timezone,
        start_hour=start,
        end_hour=end,
        days=frozenset(raw_days),
    )


def _compile_device(rules: Mapping[str, Any]) -> CompiledRules:
    _only_keys(rules, {*DEVICES, "default"}, "device")
    targets = {
        key: _url(value, f"device rule: {key}") for key, value in rules.items() if key != "type"
    }
    if not targets:
        raise InvalidRoutingRules("device rule: needs at least one of ios, android, desktop")
    return CompiledRules("device", targets=targets)


def _compile_language(rules: Mapping[str, Any]) -> CompiledRules:
    # Counted before any URL is checked: a rule far past the bound costs no more than one at it.
    if len(rules) - 1 - ("default" in rules) > MAX_LANGUAGES:
        raise InvalidRoutingRules(f"language rule: at most {MAX_LANGUAGES} language tags")
    targets: dict[str, str] = {}
    for key, value in rules.items():
        if key == "type":
            continue
        if key != "default" and (
            len(key) > _LANGUAGE_TAG_MAX_LENGTH or not _LANGUAGE_TAG_RE.fullmatch(key)
        ):
            raise InvalidRoutingRules(
                f"language rule: key {key[:40]!r} is neither a language tag (such as fr, "
                "fr-CA, zh-Hant) nor default"
            )
        lowered = key.lower()
        if lowered in targets:
            raise InvalidRoutingRules(f"language rule: key {key!r} given twice")
        targets[lowered] = _url(value, f"language rule: {key}")
    if len(targets) - ("default" in targets) == 0:
        raise InvalidRoutingRules("language rule: needs at least one language tag")
    return CompiledRules("language", targets=targets)


_COMPILERS: Final = {
    "ab_test": _compile_ab_test,
    "geo": _compile_geo,
    "time": _compile_time,
    "device": _compile_device,
    "language": _compile_language,
}


def compile_rules(rules: Mapping[str, Any]) -> CompiledRules:
    """Validate ``rules`` and prepare them for :meth:`CompiledRules.choose`.

    Raises :class:`InvalidRoutingRules` with a message naming the offending key.
    """
    if not isinstance(rules, Mapping):
        raise InvalidRoutingRules("routing rules must be a JSON object")
    rule_type = rules.get("type")
    compiler = _COMPILERS.get(rule_type) if isinstance(rule_type, str) else None
    if compiler is None:
        raise InvalidRoutingRules(
            f"routing rules 'type' must be one of {', '.join(RULE_TYPES)}, not {rule_type!r}"
        )
    if not all(isinstance(key, str) for key in rules):
        raise InvalidRoutingRules("routing rule keys must be strings")
    return compiler(rules)


def validate_routing_rules(rules: Mapping[str, Any] | None) -> None:
    """Raise :class:`InvalidRoutingRules` unless ``rules`` is empty or a valid rule."""
    if rules:
        compile_rules(rules)
    elif rules is not None and not isinstance(rules, Mapping):
        raise InvalidRoutingRules("routing rules must be a JSON object")


def decide(
    record: RuntimeRecord, compiled: CompiledRules | None, context: RoutingContext
) -> RoutingDecision:
    """The decision for ``record`` with already compiled rules (``None``: no rules)."""
    if compiled is None:
        return RoutingDecision(record.destination_url)
    url, reason, variant = compiled.choose(record.link_id, context)
    return RoutingDecision(url or record.destination_url, reason, variant)


def route(record: RuntimeRecord, context: RoutingContext) -> RoutingDecision:
    """Where this click on ``record`` goes. Never raises: rules that cannot be used send the
    visitor to the record's ``destination_url`` with reason ``invalid_rules``."""
    if not record.routing_rules:
        return RoutingDecision(record.destination_url)
    try:
        return decide(record, compile_rules(record.routing_rules), context)
    except Exception:  # a bad rule must never break a redirect, whatever it is
        return RoutingDecision(record.destination_url, "invalid_rules")

"""Property tests of the contract: round trips, URL precedence, signatures, canonical forms."""

from __future__ import annotations

import string
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from link_tracking_runtime import (
    DYNAMIC_PARAMS,
    Keyring,
    RuntimeRecord,
    SigningKey,
    build_redirect_url,
    canonical_host,
    canonical_slug,
    from_item,
    is_valid_slug,
    sign_url,
    to_item,
    verify,
)
from link_tracking_runtime.wire import decode_item, encode_item

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
names = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
values = st.text(alphabet=string.printable.strip() + " é€", min_size=1, max_size=20)
slugs = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
hosts = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True)
json_scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)

records = st.builds(
    RuntimeRecord,
    domain=hosts,
    slug=slugs.map(canonical_slug),
    link_id=st.uuids().map(str),
    destination_url=st.just("https://shop.example.com/p"),
    fallback_url=st.just("https://go.example.com/disabled"),
    active=st.booleans(),
    runtime_version=st.integers(0, 10**9),
    append_query_params=st.booleans(),
    resolved_query_params=st.dictionaries(names, values, max_size=4),
    dynamic_param_allowlist=st.lists(st.sampled_from(DYNAMIC_PARAMS), unique=True).map(tuple),
    signature_required=st.booleans(),
    signature_key_id=st.none() | names,
    routing_rules=st.none() | st.dictionaries(names, json_values, min_size=1, max_size=3),
    expires_at_epoch=st.none() | st.integers(0, 2**40),
    max_clicks=st.none() | st.integers(1, 10**9),
    campaign_id=st.none() | names,
    keyword=st.none() | names,
    channel=st.none() | st.sampled_from(["sms", "email", "qr"]),
    published_at_epoch=st.none() | st.integers(0, 2**40),
    updated_at_epoch=st.none() | st.integers(0, 2**40),
)


def _numbers_as_decimals(value: object) -> object:
    """DynamoDB numbers carry no int/float distinction: an integral float may come back as an
    int. Compare numbers by their shortest decimal value, as DynamoDB stores them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value)).normalize()
    if isinstance(value, dict):
        return {k: _numbers_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_decimals(v) for v in value]
    return value


@given(records)
def test_items_round_trip(record: RuntimeRecord) -> None:
    back = from_item(to_item(record))
    for field in record.__dataclass_fields__:
        if field == "routing_rules":
            assert _numbers_as_decimals(back.routing_rules) == _numbers_as_decimals(
                record.routing_rules
            )
        else:
            assert getattr(back, field) == getattr(record, field), field
    assert from_item(decode_item(encode_item(to_item(record)))) == back


@given(
    dest=st.lists(st.tuples(names, values), max_size=4),
    resolved=st.dictionaries(names, values, max_size=4),
    allow=st.lists(st.sampled_from(DYNAMIC_PARAMS), unique=True),
    request=st.dictionaries(st.sampled_from([*DYNAMIC_PARAMS, "other"]), values, max_size=4),
    geo=st.none() | st.sampled_from(["US", "DE"]),
    variant=st.none() | st.sampled_from(["a", "b"]),
)
def test_url_builder_precedence(
    dest: list[tuple[str, str]],
    resolved: dict[str, str],
    allow: list[str],
    request: dict[str, str],
    geo: str | None,
    variant: str | None,
) -> None:
    from urllib.parse import urlencode

    destination = (
        "https://shop.example.com/p?" + urlencode(dest) if dest else "https://shop.example.com/p"
    )
    record = RuntimeRecord(
        domain="go.example.com",
        slug="S",
        link_id="L",
        destination_url=destination,
        fallback_url="https://go.example.com/disabled",
        active=True,
        runtime_version=1,
        resolved_query_params=resolved,
        dynamic_param_allowlist=tuple(allow),
    )
    url = build_redirect_url(
        record,
        click_id="CLICK",
        now=1767300000,
        geo_country=geo,
        ab_variant=variant,
        request_params=request,
    )
    # The exact oracle: later sources replace every value of a name; static params in name
    # order, then generated ones, then forwarded ones; untouched destination pairs keep their
    # place and order.
    overrides: dict[str, str] = dict(sorted(resolved.items()))
    generated = {"click_id": "CLICK", "ab_variant": variant, "geo": geo, "click_ts": "1767300000"}
    for name, value in generated.items():
        if name in allow and value:
            overrides[name] = value
    if "sms_msg_id" in allow and "sms_msg_id" in request:
        overrides["sms_msg_id"] = request["sms_msg_id"]  # never click_id & co from a request
    expected = [(n, v) for n, v in dest if n not in overrides] + list(overrides.items())
    assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == expected


KEY = SigningKey("k1", b"0123456789abcdef0123")


@settings(max_examples=150)
@given(
    host=hosts,
    slug=slugs,
    params=st.lists(
        st.tuples(names.filter(lambda n: n not in ("sig", "ts", "kid")), values), max_size=4
    ),
    position=st.integers(min_value=0),
    replacement=st.characters(whitelist_categories=("Ll", "Lu", "Nd")),
)
def test_any_single_change_to_a_signed_url_is_rejected(
    host: str, slug: str, params: list[tuple[str, str]], position: int, replacement: str
) -> None:
    from urllib.parse import urlencode

    query = f"?{urlencode(params)}" if params else ""
    signed = sign_url(f"https://{host}/{slug}{query}", Keyring(KEY), 1767300060)
    parts = urlsplit(signed)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    assert verify(parts.netloc, parts.path, pairs, Keyring(KEY), 1767300000) == "ok"

    # change one character of the host, the slug, or one param's name or value (not sig)
    fields = [("host", parts.netloc), ("slug", parts.path.strip("/"))]
    fields += [(f"name{i}", n) for i, (n, _) in enumerate(pairs) if n != "sig"]
    fields += [(f"value{i}", v) for i, (n, v) in enumerate(pairs) if n != "sig"]
    kind, original = fields[position % len(fields)]
    index = position % max(1, len(original))
    changed = original[:index] + replacement + original[index + 1 :] if original else replacement
    assume(changed != original)
    if kind == "host":
        assume(canonical_host(changed) != canonical_host(original))
        assert verify(changed, parts.path, pairs, Keyring(KEY), 1767300000) != "ok"
    elif kind == "slug":
        assume(canonical_slug(changed) != canonical_slug(original))
        assert verify(parts.netloc, changed, pairs, Keyring(KEY), 1767300000) != "ok"
    else:
        i = int(kind[5:] if kind.startswith("value") else kind[4:])
        name, value = pairs[i]
        new = (name, changed) if kind.startswith("value") else (changed, value)
        tampered = pairs[:i] + [new] + pairs[i + 1 :]
        assert verify(parts.netloc, parts.path, tampered, Keyring(KEY), 1767300000) != "ok"


@given(st.text(max_size=80))
def test_slug_canonicalisation_is_idempotent_and_case_blind(value: str) -> None:
    once = canonical_slug(value)
    assert canonical_slug(once) == once
    if value.isascii():
        assert is_valid_slug(value) == is_valid_slug(value.lower()) == is_valid_slug(once)
    if is_valid_slug(value):
        # Valid as typed: ASCII, so every case of it is valid and keys alike.
        assert is_valid_slug(once) and is_valid_slug(value.lower())
        assert once.isascii() and once == once.upper() and "/" not in once


@given(st.text(max_size=60))
def test_host_canonicalisation_never_raises_and_is_idempotent(value: str) -> None:
    once = canonical_host(value)
    assert canonical_host(once) == once or once.startswith("[")

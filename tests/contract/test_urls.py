"""The URL builder: templates made once, filled per click, give exactly the URL that
``urlencode`` builds in one go (the reference below is the builder as it was written before
templates, kept here as the oracle)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from link_tracking_runtime import record as record_module
from link_tracking_runtime.record import DYNAMIC_PARAMS, RuntimeRecord
from link_tracking_runtime.urls import (
    build_redirect_url,
    is_http_url,
    parse_request_query,
    quote_value,
    url_template,
)
from tests.support.records import record


def _reference(
    rec: RuntimeRecord,
    *,
    click_id: str,
    now: float,
    destination: str | None = None,
    geo_country: str | None = None,
    ab_variant: str | None = None,
    request_params: Mapping[str, str] | None = None,
) -> str:
    url = destination or rec.destination_url
    if not rec.append_query_params:
        return url
    allowlist = rec.dynamic_param_allowlist
    added: dict[str, str] = dict(sorted(rec.resolved_query_params.items()))
    if "click_id" in allowlist:
        added["click_id"] = click_id
    if "ab_variant" in allowlist and ab_variant:
        added["ab_variant"] = ab_variant
    if "geo" in allowlist and geo_country:
        added["geo"] = geo_country
    if "click_ts" in allowlist:
        added["click_ts"] = str(int(now))
    for name in record_module.FORWARDED_FROM_REQUEST_PARAMS:
        value = (request_params or {}).get(name)
        if name in allowlist and value and len(value) <= 256 and value.isprintable():
            added[name] = value
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


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
_names = st.sampled_from(["utm_source", "click_id", "geo", "sms_msg_id", "a b", "x{0}"])
_destinations = st.sampled_from(
    [
        "https://shop.example.com/p",
        "https://shop.example.com/p?click_id=old&keep=1#top",
        "https://shop.example.com/p?sms_msg_id=x&a={b}&&geo",
        "https://shop.example.com/caf\u00e9?q=\u00e9#fr{ag}",
        "https://shop.example.com/p?x=%41+1",
        "https://shop.example.com",
        "https://shop.example.com?",
        "https://shop.example.com/#",
    ]
)


@settings(max_examples=300)
@given(
    destination=_destinations,
    append=st.booleans(),
    static=st.dictionaries(_names, _text, max_size=3),
    allowlist=st.lists(st.sampled_from(DYNAMIC_PARAMS), unique=True),
    click_id=st.one_of(st.just("c0ffee00-0000-4000-8000-000000000001"), _text),
    now=st.floats(min_value=0, max_value=4e9),
    geo=st.one_of(st.none(), st.just(""), _text),
    variant=st.one_of(st.none(), _text),
    request=st.dictionaries(st.sampled_from(["sms_msg_id", "other"]), _text, max_size=2),
)
def test_templates_build_what_urlencode_builds(
    destination: str,
    append: bool,
    static: dict[str, str],
    allowlist: list[str],
    click_id: str,
    now: float,
    geo: str | None,
    variant: str | None,
    request: dict[str, str],
) -> None:
    rec = record(
        "T",
        destination_url=destination,
        append_query_params=append,
        resolved_query_params=static,
        dynamic_param_allowlist=tuple(allowlist),
    )
    kwargs = {
        "click_id": click_id,
        "now": now,
        "geo_country": geo,
        "ab_variant": variant,
        "request_params": request,
    }
    assert build_redirect_url(rec, **kwargs) == _reference(rec, **kwargs)  # type: ignore[arg-type]


def test_one_template_serves_every_click_id_and_sms_message_id() -> None:
    rec = record(
        "SMS",
        destination_url="https://shop.example.com/p?sms_msg_id=old&keep=1#top",
        resolved_query_params={"utm_source": "sms"},
        dynamic_param_allowlist=("click_id", "sms_msg_id"),
    )
    template = url_template(rec, rec.destination_url, ("click_id", "sms_msg_id"))
    assert template.names == ("click_id", "sms_msg_id")
    for value in ["42", "a+b&c", "café", "x y", "%41", "{0}"]:
        values = {"click_id": "id/" + value, "sms_msg_id": value}
        assert template.fill(values) == _reference(
            rec, click_id="id/" + value, now=0, request_params={"sms_msg_id": value}
        )


def test_header_safe_percent_encodes_non_ascii_and_refuses_controls() -> None:
    rec = record("T", destination_url="https://shop.example.com/caf\u00e9?a={b}")
    template = url_template(rec, rec.destination_url, ("click_id",)).header_safe()
    assert template is not None
    assert template.fill({"click_id": "x y"}) == (
        "https://shop.example.com/caf%C3%A9?a=%7Bb%7D&click_id=x%20y"
    )
    bad = record("T", destination_url="https://shop.example.com/a b")
    assert url_template(bad, bad.destination_url, ()).header_safe() is None


@given(st.text(alphabet="sms_gid=&%+2A41aZ9 é-~.;", max_size=40))
def test_request_query_parsing_is_parse_qsl_first_value_wins(query: str) -> None:
    expected: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        expected.setdefault(name, value)
    assert parse_request_query(query) == expected


@given(st.text(max_size=20))
def test_quote_value_is_quote(value: str) -> None:
    try:
        expected = quote(value, safe="")
    except UnicodeEncodeError:
        return
    assert quote_value(value) == expected


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://a.example/", True),
        ("http://a.example", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("/relative", False),
        ("https:///nohost", False),
        ("http://[::1", False),
        ("ftp://a.example/", False),
    ],
)
def test_only_absolute_http_urls_are_destinations(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok

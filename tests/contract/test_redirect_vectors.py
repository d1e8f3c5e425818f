"""The contract's own half of the redirect vectors: policy + URL builder, no runtime."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

import pytest

from link_tracking_runtime import (
    ACCEPT_LANGUAGE_HEADER,
    GEO_COUNTRY_HEADER,
    build_redirect_url,
    canonical_host,
    canonical_slug,
    check_policy,
    from_item,
    parse_request_query,
    record,
    vectors,
)
from link_tracking_runtime.bots import PURPOSE_HEADERS
from link_tracking_runtime.click import (
    VIEWER_ASN_HEADER,
    ClickInput,
    CompiledLink,
    Decision,
    compile_link,
    decide,
    decide_without_link,
    event_columns,
)
from link_tracking_runtime.events import CLICK_EVENT_COLUMNS, OUTCOMES
from link_tracking_runtime.messages import split_message_path, verify_token
from link_tracking_runtime.routing import ab_bucket
from link_tracking_runtime.signing import keyring_from_secret_string

VECTORS = [v for v in vectors.load("redirect") if v["item"] is not None]
#: What the policy check and the URL builder alone decide (no rules, a well-formed record).
PLAIN = [
    v
    for v in VECTORS
    if not v["item"].get("routing_rules")
    and v["expected"]["outcome"] in ("ok", "inactive", "expired")
    and not v["name"].startswith("bad record")
    and "/" not in v["request"]["path"].strip("/")  # a per-message link: the click decides it
]


@pytest.mark.parametrize("vector", PLAIN, ids=[v["name"] for v in PLAIN])
def test_redirect_vector(vector: dict) -> None:
    request = vector["request"]
    rec = from_item(vector["item"])
    # The request addresses exactly this record once canonicalised.
    assert record.make_pk(request["host"]) == vector["item"]["PK"]
    assert record.make_sk(urlsplit(request["path"]).path) == vector["item"]["SK"]

    outcome = check_policy(rec, vector["now"])
    if outcome != "ok":
        assert outcome == vector["expected"]["outcome"]
        assert rec.fallback_url == vector["expected"]["location"]
        return
    headers = {k.lower(): v for k, v in request["headers"].items()}
    location = build_redirect_url(
        rec,
        click_id=vector["click_id"],
        now=vector["now"],
        geo_country=headers.get(GEO_COUNTRY_HEADER),
        request_params=parse_request_query(request["query"]),
    )
    assert location == vector["expected"]["location"]


def test_vectors_cover_every_outcome_the_record_alone_decides() -> None:
    outcomes = {v["expected"]["outcome"] for v in vectors.load("redirect")}
    assert {"ok", "inactive", "expired", "not_found"} <= outcomes


def test_request_canonicalisation() -> None:
    assert canonical_host("GO.Example.com.:443") == "go.example.com"
    assert canonical_slug("/abc123/") == "ABC123"


_IO_OUTCOMES = ("signature_invalid", "max_clicks")
DOCUMENT_KEYS = vectors.load_document("redirect")


def _click(vector: dict) -> ClickInput:
    request = vector["request"]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    ip_hash = hmac.new(
        DOCUMENT_KEYS["ip_hash_key"].encode(), DOCUMENT_KEYS["client_ip"].encode(), hashlib.sha256
    ).hexdigest()
    return ClickInput(
        now=vector["now"],
        click_id=vector["click_id"],
        query=request["query"],
        user_agent=headers.get("user-agent"),
        country=headers.get(GEO_COUNTRY_HEADER),
        ip_hash=ip_hash,
        accept_language=headers.get(ACCEPT_LANGUAGE_HEADER),
        asn=headers.get(VIEWER_ASN_HEADER),
        purpose=next((headers[name] for name in PURPOSE_HEADERS if headers.get(name)), None),
    )


def _decide(vector: dict, link: CompiledLink, refused: str | None) -> Decision:
    """The decision as the docs describe a request: a second path segment is a per-message
    link's token (verified with the link's keyring) or no link at all."""
    click = _click(vector)
    raw = vector["request"]["path"].strip("/")
    if "/" not in raw:
        return decide(link, click, refused)
    message = split_message_path(raw)
    if message is None:
        host, slug = link.domain, canonical_slug(raw)
        return decide_without_link(
            host, slug, "not_found", click, DOCUMENT_KEYS["default_fallback_url"]
        )
    secret = DOCUMENT_KEYS["signing_secrets"].get(link.message_keyring or "")
    if secret is not None:
        keyring = keyring_from_secret_string(secret)
        sequence = verify_token(keyring, link.domain, link.slug, message[1])
        if sequence is not None:
            click = click._replace(message=(sequence, message[1].upper()))
    return decide(link, click, refused)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_decision_vector(vector: dict) -> None:
    expected = vector["expected"]
    # What only I/O can refuse (a signature, the shared counter) is the runtime's to say.
    refused = expected["outcome"] if expected["outcome"] in _IO_OUTCOMES else None
    link = compile_link(from_item(vector["item"]), DOCUMENT_KEYS["default_fallback_url"])
    decision = _decide(vector, link, refused)
    assert (decision.location, decision.outcome) == (expected["location"], expected["outcome"])
    assert decision.reason == expected.get("routing_reason", decision.reason)
    assert decision.variant == expected.get("ab_variant", decision.variant)
    columns = event_columns(decision)
    assert [name for name, _ in CLICK_EVENT_COLUMNS] == list(columns)
    assert columns["outcome"] == expected["outcome"]
    assert columns["channel"] == expected.get("channel", vector["item"].get("channel"))
    assert columns["final_url_hash"] == hashlib.sha256(expected["location"].encode()).hexdigest()
    assert columns["viewer_asn"] == expected.get("viewer_asn")
    assert columns["message_seq"] == expected.get("message_seq")
    assert columns["bot_reason"] == expected.get("bot_reason")
    assert columns["sms_msg_id"] == expected.get("sms_msg_id", columns["sms_msg_id"])


AB_VECTORS = [
    v
    for v in VECTORS
    if (v["item"].get("routing_rules") or {}).get("type") == "ab_test"
    and v["expected"]["outcome"] == "ok"
]


@pytest.mark.parametrize("vector", AB_VECTORS, ids=[v["name"] for v in AB_VECTORS])
def test_ab_vectors_key_visitors_by_sms_id_else_ip_hash_and_user_agent(vector: dict) -> None:
    """The visitor key, written out as the docs state it: ``sms:<id>``, else
    ``ip:<ip_hash>\\n<User-Agent>``; the variant is the weighted bucket of that key."""
    click = _click(vector)
    sms = parse_request_query(click.query).get("sms_msg_id")
    key = f"sms:{sms}" if sms else f"ip:{click.ip_hash}\n{click.user_agent or ''}"
    rules = vector["item"]["routing_rules"]
    if "variants" in rules:
        variants = [(v["name"], v.get("weight", 1)) for v in rules["variants"]]
    else:
        split = rules.get("split", 0.5)
        variants = [("a", split), ("b", 1 - split)]
    point = ab_bucket(vector["item"]["link_id"], key) * sum(w for _, w in variants)
    chosen = None
    for name, weight in variants:
        if chosen is None and point < weight:
            chosen = name
        point -= weight
    assert vector["expected"]["ab_variant"] == chosen


def test_vectors_cover_the_click() -> None:
    reasons = {v["expected"].get("routing_reason") for v in vectors.load("redirect")}
    assert {
        "ab_test",
        "geo:eu",
        "device:ios",
        "time:business_hours",
        "language:fr-ca",
        "language:default",
        "invalid_rules",
    } <= reasons
    outcomes = {v["expected"]["outcome"] for v in vectors.load("redirect")}
    assert set(OUTCOMES) <= outcomes
    forms = {
        ("variants" in rules, "sms_msg_id" in v["request"]["query"])
        for v in AB_VECTORS
        if (rules := v["item"]["routing_rules"])
    }
    assert forms == {(False, False), (False, True), (True, False), (True, True)}

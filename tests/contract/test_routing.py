"""The routing rules of the contract, against the shared vectors and their own properties."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from link_tracking_runtime import (
    InvalidRoutingRules,
    RoutingContext,
    RuntimeRecord,
    compile_rules,
    device_from_user_agent,
    from_item,
    route,
    to_item,
    validate_routing_rules,
    vectors,
)
from link_tracking_runtime.routing import (
    ACCEPT_LANGUAGE_MAX_LENGTH,
    ACCEPT_LANGUAGE_MAX_RANGES,
    ab_bucket,
    country_region,
    match_language,
)

VECTORS = vectors.load("routing")


def _record(vector: dict[str, Any]) -> RuntimeRecord:
    record = RuntimeRecord(
        domain="go.example.com",
        slug="ROUTE",
        link_id=vector["link_id"],
        destination_url=vector["destination_url"],
        fallback_url="https://go.example.com/disabled",
        active=True,
        runtime_version=1,
        routing_rules=vector["rules"],
    )
    # Through the item form, as the runtime reads it (numbers come back from Decimal).
    return from_item(to_item(record))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_routing_vector(vector: dict[str, Any]) -> None:
    context = RoutingContext(**vector["context"])
    decision = route(_record(vector), context)
    expected = vector["expected"]
    assert decision.destination == expected["destination"]
    assert decision.reason == expected["reason"]
    assert decision.ab_variant == expected["ab_variant"]
    if "bucket" in expected:
        assert ab_bucket(vector["link_id"], context.visitor_key) == pytest.approx(
            expected["bucket"], abs=1e-15
        )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_validator_agrees_with_vector(vector: dict[str, Any]) -> None:
    if vector["valid"]:
        validate_routing_rules(vector["rules"])
    else:
        with pytest.raises(InvalidRoutingRules):
            validate_routing_rules(vector["rules"])


def test_vectors_cover_every_rule_type_and_device() -> None:
    reasons = {v["expected"]["reason"].split(":")[0] for v in VECTORS}
    assert {"default", "ab_test", "geo", "time", "device", "language", "invalid_rules"} <= reasons
    devices = {
        v["expected"]["reason"] for v in VECTORS if v["expected"]["reason"].startswith("device")
    }
    assert {"device:ios", "device:android", "device:desktop", "device:default"} <= devices


def test_ab_assignment_is_sticky_per_visitor_not_per_click() -> None:
    record = _record(VECTORS[1])
    first = route(record, RoutingContext(now=1, visitor_key="sms:77"))
    for now in range(2, 50):
        assert route(record, RoutingContext(now=now, visitor_key="sms:77")) == first


def test_ab_weights_are_honoured_across_visitors() -> None:
    rules = {
        "type": "ab_test",
        "variants": [
            {"name": "a", "url": "https://a.example.com/", "weight": 6},
            {"name": "b", "url": "https://b.example.com/", "weight": 3},
            {"name": "c", "url": "https://c.example.com/", "weight": 1},
        ],
    }
    compiled = compile_rules(rules)
    counts = Counter(
        compiled.choose("link-1", RoutingContext(now=0, visitor_key=f"v{i}"))[2]
        for i in range(20000)
    )
    assert counts["a"] / 20000 == pytest.approx(0.6, abs=0.02)
    assert counts["b"] / 20000 == pytest.approx(0.3, abs=0.02)
    assert counts["c"] / 20000 == pytest.approx(0.1, abs=0.02)


def test_assignment_is_independent_between_links() -> None:
    same = sum(
        (ab_bucket("link-1", f"v{i}") < 0.5) == (ab_bucket("link-2", f"v{i}") < 0.5)
        for i in range(4000)
    )
    assert same / 4000 == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (None, "other"),
        ("", "other"),
        ("Mozilla/5.0 (iPod touch; CPU iPhone OS 12_5 like Mac OS X)", "ios"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1",
            "desktop",
        ),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/124.0", "desktop"),
        ("python-httpx/0.28.1", "other"),
    ],
)
def test_device_from_user_agent(user_agent: str | None, device: str) -> None:
    assert device_from_user_agent(user_agent) == device


def test_country_region() -> None:
    assert country_region("us") == "us"
    assert country_region("GB") == "eu"
    assert country_region("IE") == "eu"
    assert country_region("CH") == "other"
    assert country_region(None) == "other"


@pytest.mark.parametrize("rules", [None, {}])
def test_empty_rules_are_valid(rules: dict[str, Any] | None) -> None:
    validate_routing_rules(rules)


def test_route_survives_rules_that_are_not_even_a_mapping_of_strings() -> None:
    record = RuntimeRecord(
        domain="go.example.com",
        slug="X",
        link_id="l",
        destination_url="https://d.example.com/",
        fallback_url="https://f.example.com/",
        active=True,
        runtime_version=1,
        routing_rules={"type": "geo", 1: "https://x.example.com/"},  # type: ignore[dict-item]
    )
    decision = route(record, RoutingContext(now=0))
    assert (decision.destination, decision.reason) == ("https://d.example.com/", "invalid_rules")


def test_validation_messages_name_the_offending_key() -> None:
    with pytest.raises(InvalidRoutingRules, match="timezone"):
        validate_routing_rules(
            {"type": "time", "business_hours": "https://a.example.com/", "timezone": "No/Where"}
        )
    with pytest.raises(InvalidRoutingRules, match=r"variants\[1\]\.url"):
        validate_routing_rules(
            {"type": "ab_test", "variants": [{"name": "a"}, {"name": "b", "url": "ftp://x"}]}
        )


def test_numbers_too_large_for_a_float_are_invalid_rules_not_crashes() -> None:
    from link_tracking_runtime import InvalidRoutingRules
    from link_tracking_runtime.routing import validate_routing_rules

    rules = {
        "type": "ab_test",
        "variant_a": "https://a.example/",
        "variant_b": "https://b.example/",
        "split": 10**400,
    }
    with pytest.raises(InvalidRoutingRules, match="split"):
        validate_routing_rules(rules)


LANGUAGES = compile_rules(
    {
        "type": "language",
        "fr": "https://fr.example.com/",
        "fr-CA": "https://qc.example.com/",
        "default": "https://en.example.com/",
    }
).targets


def test_accept_language_is_read_up_to_its_bound_and_ignored_past_it() -> None:
    at_bound = "fr-CA," + "z" * (ACCEPT_LANGUAGE_MAX_LENGTH - len("fr-CA,"))
    assert len(at_bound) == ACCEPT_LANGUAGE_MAX_LENGTH
    assert match_language(LANGUAGES, at_bound) == "fr-ca"
    assert match_language(LANGUAGES, at_bound + "z") is None


def test_a_range_named_default_is_no_language() -> None:
    assert match_language(LANGUAGES, "default") is None
    assert match_language(LANGUAGES, "default, fr;q=0.1") == "fr"


@given(st.text(max_size=ACCEPT_LANGUAGE_MAX_LENGTH + 8))
def test_match_language_takes_any_header(header: str) -> None:
    assert match_language(LANGUAGES, header) in {None, "fr", "fr-ca"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["fr", "fr-CA", "fr-CH", "en", "*", "fr_CA", "de-CH-x-sms"]),
            st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=0.25", ";q=x", ";q=2"]),
        ),
        max_size=ACCEPT_LANGUAGE_MAX_RANGES,
    )
)
def test_the_key_chosen_is_one_the_best_accepted_range_finds(
    ranges: list[tuple[str, str]],
) -> None:
    """Against the rule written out plainly: each accepted range's lookup chain (its
    truncations that are keys, longest first), minus refused keys; the highest q wins, the
    first in the header among equals."""
    header = ",".join(tag + weight for tag, weight in ranges)
    weights = {"": 1.0, ";q=0.5": 0.5, ";q=1": 1.0, ";q=0.25": 0.25}
    chains = {"fr": ["fr"], "fr-CA": ["fr-ca", "fr"], "fr-CH": ["fr"]}
    refused = {tag.lower() for tag, weight in ranges if weight == ";q=0"}
    candidates = []
    for index, (tag, weight) in enumerate(ranges):
        keys = [key for key in chains.get(tag, []) if key not in refused]
        if weight in weights and keys:
            candidates.append((-weights[weight], index, keys[0]))
    expected = min(candidates)[2] if candidates else None
    assert match_language(LANGUAGES, header) == expected


LANGUAGE_RECORD = RuntimeRecord(
    domain="go.example.com",
    slug="LANG",
    link_id="link-lang",
    destination_url="https://d.example.com/",
    fallback_url="https://go.example.com/disabled",
    active=True,
    runtime_version=1,
    routing_rules={
        "type": "language",
        "fr": "https://fr.example.com/",
        "fr-CA": "https://qc.example.com/",
        "default": "https://en.example.com/",
    },
)


def _language_decision(header: str | None) -> tuple[str, str]:
    decision = route(LANGUAGE_RECORD, RoutingContext(now=0, accept_language=header))
    return decision.destination, decision.reason


@pytest.mark.parametrize(
    "header",
    [
        # 8 KB: far past the bound, with a matching range first and last.
        "fr-CA," + "de;q=0.5," * 909 + "fr",
        "fr-CA;q=0.9" + " " * 8192,
        # q values that are not RFC 9110 qvalues.
        "fr;q=abc",
        "fr;q=1.5",
        "fr;q=-1",
        "fr;q=0.5000",
        "fr;q=",
        "fr;q=nan",
        "fr;q=inf",
        "fr;q=1e0",
        "fr-CA;q=0x1",
        "fr;q=0.5;q=0.7",
        # Empty, blank or nothing but separators and wildcards.
        "",
        " \t ",
        ",,,",
        ";q=1",
        "*",
        "*;q=1, *;q=0.5",
        None,
    ],
    ids=lambda header: repr(header)[:40],
)
def test_unusable_accept_language_goes_to_the_default_route(header: str | None) -> None:
    assert _language_decision(header) == ("https://en.example.com/", "language:default")


def test_an_oversized_accept_language_is_ignored_before_it_is_parsed() -> None:
    """Past the bound the header is not split at all (no work grows with it)."""

    class Header(str):
        def split(self, *args: Any, **kwargs: Any) -> list[str]:
            raise AssertionError("an oversized header was parsed")

    header = Header("fr," * (ACCEPT_LANGUAGE_MAX_LENGTH // 3 + 1))
    assert len(header) > ACCEPT_LANGUAGE_MAX_LENGTH
    assert match_language(LANGUAGES, header) is None


def test_only_the_first_ranges_are_read() -> None:
    within = "zz," * (ACCEPT_LANGUAGE_MAX_RANGES - 1) + "fr"
    beyond = "zz," * ACCEPT_LANGUAGE_MAX_RANGES + "fr"
    assert _language_decision(within) == ("https://fr.example.com/", "language:fr")
    assert _language_decision(beyond) == ("https://en.example.com/", "language:default")


def test_a_bad_q_spoils_its_range_only() -> None:
    assert _language_decision("fr-CA;q=abc, fr;q=0.2") == ("https://fr.example.com/", "language:fr")


def test_ranges_are_taken_by_q_then_position_and_a_basic_range_finds_its_prefix() -> None:
    assert _language_decision("fr-CH") == ("https://fr.example.com/", "language:fr")
    assert _language_decision("en, fr-CA;q=0.9, fr;q=0.95") == (
        "https://fr.example.com/",
        "language:fr",
    )
    assert _language_decision("fr-CH;q=0.8, fr-CA;q=0.8") == (
        "https://fr.example.com/",
        "language:fr",
    )
    assert _language_decision("fr-CA;q=0.8, fr-CH;q=0.8") == (
        "https://qc.example.com/",
        "language:fr-ca",
    )

from __future__ import annotations

from decimal import Decimal

import pytest

from link_tracking_runtime import (
    ATTRIBUTE_TYPES,
    InvalidRecord,
    RuntimeRecord,
    canonical_host,
    canonical_slug,
    counter_key,
    from_item,
    is_valid_slug,
    item_key,
    plain,
    to_item,
)


def _record(**changes: object) -> RuntimeRecord:
    base: dict[str, object] = dict(
        domain="go.example.com",
        slug="ABC123",
        link_id="L1",
        destination_url="https://shop.example.com/",
        fallback_url="https://go.example.com/disabled",
        active=True,
        runtime_version=4,
    )
    base.update(changes)
    return RuntimeRecord(**base)  # type: ignore[arg-type]


def test_item_has_numbers_as_decimal_and_omits_none() -> None:
    item = to_item(
        _record(
            expires_at_epoch=1767225600,
            routing_rules={"type": "ab_test", "split": 0.25, "weights": [1, 2]},
            keyword="",
        )
    )
    assert item["PK"] == "DOMAIN#go.example.com" and item["SK"] == "SLUG#ABC123"
    assert item["runtime_version"] == Decimal(4)
    assert item["expires_at_epoch"] == Decimal(1767225600)
    assert item["routing_rules"]["split"] == Decimal("0.25")
    assert item["routing_rules"]["weights"] == [Decimal(1), Decimal(2)]
    for absent in ("max_clicks", "signature_key_id", "campaign_id", "keyword", "channel"):
        assert absent not in item
    assert set(item) <= set(ATTRIBUTE_TYPES)


def test_every_attribute_survives_a_round_trip() -> None:
    record = _record(
        append_query_params=False,
        resolved_query_params={"utm_source": "sms"},
        dynamic_param_allowlist=("click_id", "sms_msg_id"),
        signature_required=True,
        signature_key_id="link-signatures/acme",
        routing_rules={"type": "geo", "us": "https://us.example.com/"},
        expires_at_epoch=1,
        max_clicks=10,
        campaign_id="C",
        keyword="K",
        channel="sms",
        published_at_epoch=2,
        updated_at_epoch=3,
        message_keyring="link-signatures/messages/go.example.com",
        query_message_id=False,
    )
    item = to_item(record)
    assert set(item) == set(ATTRIBUTE_TYPES)  # every attribute of the schema is written
    assert from_item(item) == record


def test_unknown_attributes_are_tolerated_and_kept() -> None:
    item = {**to_item(_record()), "added_in_a_later_version": Decimal(7)}
    record = from_item(item)
    assert record.extra == {"added_in_a_later_version": 7}
    assert plain(to_item(record))["added_in_a_later_version"] == 7


def test_missing_optional_attributes_take_defaults() -> None:
    record = from_item(
        {"PK": "DOMAIN#a.b", "SK": "SLUG#X", "link_id": "L", "destination_url": "https://x.y/"}
    )
    assert record.dynamic_param_allowlist == ("click_id",)
    assert record.append_query_params is True and record.active is False
    assert record.fallback_url == "" and record.runtime_version == 0


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"PK": "DOMAIN#a.b", "SK": "SLUG#X", "link_id": "L"},
        {"PK": "a.b", "SK": "SLUG#X", "link_id": "L", "destination_url": "https://x/"},
        {"PK": "DOMAIN#a.b", "SK": "SLUG#X", "link_id": "L", "destination_url": 5},
        {
            "PK": "DOMAIN#a.b",
            "SK": "SLUG#X",
            "link_id": "L",
            "destination_url": "https://x/",
            "dynamic_param_allowlist": "click_id",
        },
        {
            "PK": "DOMAIN#a.b",
            "SK": "SLUG#X",
            "link_id": "L",
            "destination_url": "https://x/",
            "max_clicks": "ten",
        },
        {
            "PK": "DOMAIN#a.b",
            "SK": "SLUG#X",
            "link_id": "L",
            "destination_url": "https://x/",
            "routing_rules": ["x"],
        },
    ],
)
def test_malformed_items_raise_invalid_record(item: dict[str, object]) -> None:
    with pytest.raises(InvalidRecord):
        from_item(item)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("go.example.com", "go.example.com"),
        ("GO.Example.COM", "go.example.com"),
        ("go.example.com:8080", "go.example.com"),
        ("go.example.com.", "go.example.com"),
        ("  go.example.com.:443 ", "go.example.com"),
        ("[::1]:8080", "[::1]"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("", ""),
        # No name: its IDNA form would hold a "port" ("xn--[:-wia"); kept, so it stays put.
        ("[:Ä", "[:ä"),
    ],
)
def test_canonical_host(host: str, expected: str) -> None:
    assert canonical_host(host) == expected
    assert canonical_host(expected) == expected


def test_slug_canonicalisation_and_validity() -> None:
    assert canonical_slug("/abc-1_x/") == "ABC-1_X"
    assert is_valid_slug("abc") and is_valid_slug("A" * 64)
    for bad in ("", "A" * 65, "-abc", "a/b", "a.b", "a b", "é", "HEALTH", "robots.txt"):
        assert not is_valid_slug(bad), bad


def test_keys() -> None:
    assert item_key("Go.Example.com:443", "abc") == {
        "PK": "DOMAIN#go.example.com",
        "SK": "SLUG#ABC",
    }
    assert counter_key("go.example.com", "abc") == {
        "PK": "DOMAIN#go.example.com",
        "SK": "CLICKS#ABC",
    }

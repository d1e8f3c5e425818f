from __future__ import annotations

from decimal import Decimal

import boto3.dynamodb.types as boto_types
import pytest

from link_tracking_runtime import InvalidRecord, RuntimeRecord, from_item, to_item
from link_tracking_runtime.wire import decode_item, encode_item


def test_codec_matches_boto3_serialisation() -> None:
    item = to_item(
        RuntimeRecord(
            domain="go.example.com",
            slug="ABC",
            link_id="L",
            destination_url="https://x.example/",
            fallback_url="https://go.example.com/disabled",
            active=True,
            runtime_version=2,
            resolved_query_params={"utm_source": "sms"},
            routing_rules={"type": "ab_test", "split": 0.5, "rules": [{"w": 1}]},
        )
    )
    serializer, deserializer = boto_types.TypeSerializer(), boto_types.TypeDeserializer()
    assert encode_item(item) == {k: serializer.serialize(v) for k, v in item.items()}
    wire = encode_item(item)
    assert decode_item(wire) == {k: deserializer.deserialize(v) for k, v in wire.items()}
    assert from_item(decode_item(wire)) == from_item(item)


def test_numbers_decode_as_decimal() -> None:
    assert decode_item({"n": {"N": "1.50"}}) == {"n": Decimal("1.50")}


@pytest.mark.parametrize("value", [{"S": "a", "N": "1"}, {"X": "?"}])
def test_malformed_values_raise(value: dict[str, str]) -> None:
    with pytest.raises(InvalidRecord):
        decode_item({"a": value})

"""Items in DynamoDB's low-level attribute-value form (``{"S": "..."}``, ``{"N": "1"}``).

The resource layer of boto3 does this conversion itself; a low-level client (botocore,
aiobotocore) does not. This codec is the same conversion without importing boto3, so the
contract stays dependency-free and the runtime can use any client.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import InvalidRecord

__all__ = ["decode_item", "decode_value", "encode_item", "encode_value"]


def encode_value(value: Any) -> dict[str, Any]:
    """One resource-layer value (Decimal numbers) → an attribute value."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): encode_value(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode_value(v) for v in value]}
    raise InvalidRecord(f"cannot encode a value of type {type(value).__name__}")


def decode_value(value: Mapping[str, Any]) -> Any:
    """One attribute value → its resource-layer value (numbers as Decimal)."""
    if len(value) != 1:
        raise InvalidRecord(f"malformed attribute value {value!r}")
    ((kind, data),) = value.items()
    if kind == "S":
        return data
    if kind == "N":
        return Decimal(data)
    if kind == "BOOL":
        return bool(data)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: decode_value(v) for k, v in data.items()}
    if kind == "L":
        return [decode_value(v) for v in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {Decimal(n) for n in data}
    if kind == "B":
        # botocore hands binary over decoded; DynamoDB's JSON (a lean client) as base64 text.
        return binascii.a2b_base64(data) if isinstance(data, str) else bytes(data)
    raise InvalidRecord(f"unsupported attribute type {kind!r}")


def encode_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: encode_value(value) for name, value in item.items()}


def decode_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: decode_value(value) for name, value in item.items()}

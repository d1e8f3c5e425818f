"""The runtime table: key schema, attribute definitions and the ``campaign-index`` GSI.

``setup_dynamodb`` creates the table from :func:`create_table_kwargs`; the tests create
their moto tables from it too, and ``terraform/`` is checked against these constants.
"""

from __future__ import annotations

import copy
from typing import Any, Final

__all__ = [
    "ATTRIBUTE_DEFINITIONS",
    "BILLING_MODE",
    "CAMPAIGN_INDEX_NAME",
    "DEFAULT_TABLE_NAME",
    "GLOBAL_SECONDARY_INDEXES",
    "HASH_KEY",
    "KEY_SCHEMA",
    "RANGE_KEY",
    "create_table_kwargs",
]

DEFAULT_TABLE_NAME: Final = "link-runtime-prod"
HASH_KEY: Final = "PK"
RANGE_KEY: Final = "SK"
CAMPAIGN_INDEX_NAME: Final = "campaign-index"
BILLING_MODE: Final = "PAY_PER_REQUEST"

KEY_SCHEMA: Final = (
    {"AttributeName": HASH_KEY, "KeyType": "HASH"},
    {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
)
ATTRIBUTE_DEFINITIONS: Final = (
    {"AttributeName": HASH_KEY, "AttributeType": "S"},
    {"AttributeName": RANGE_KEY, "AttributeType": "S"},
    {"AttributeName": "campaign_id", "AttributeType": "S"},
)
GLOBAL_SECONDARY_INDEXES: Final = (
    {
        "IndexName": CAMPAIGN_INDEX_NAME,
        "KeySchema": [
            {"AttributeName": "campaign_id", "KeyType": "HASH"},
            {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
)


def create_table_kwargs(table_name: str = DEFAULT_TABLE_NAME) -> dict[str, Any]:
    """Keyword arguments for ``CreateTable`` (fresh copies: callers may mutate them)."""
    return {
        "TableName": table_name,
        "KeySchema": copy.deepcopy(list(KEY_SCHEMA)),
        "AttributeDefinitions": copy.deepcopy(list(ATTRIBUTE_DEFINITIONS)),
        "GlobalSecondaryIndexes": copy.deepcopy(list(GLOBAL_SECONDARY_INDEXES)),
        "BillingMode": BILLING_MODE,
    }

"""The runtime's only contact with AWS: four one-method seams and their aiobotocore adapters.

Each seam is a small protocol (:class:`RecordReader`, :class:`ClickCounter`,
:class:`RecordBatchWriter`, :class:`SecretReader`). The app is built with the real adapters
(:class:`AwsServices` opens them on aiobotocore, which honours ``AWS_ENDPOINT_URL`` like every
botocore client, so a moto server locally and AWS in production); tests hand in fakes that
fail on purpose. Nothing here blocks the event loop: aiobotocore is asyncio over aiohttp.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

# aiobotocore and botocore ship no type information; their use is confined to this module.
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from link_tracking_runtime.record import CLICK_COUNTER_ATTRIBUTE
from link_tracking_runtime.wire import decode_item

from .config import Settings

__all__ = [
    "AwsServices",
    "ClickCounter",
    "DynamoTable",
    "FirehoseStream",
    "RecordBatchWriter",
    "RecordReader",
    "SecretReader",
    "SecretsManager",
]


class RecordReader(Protocol):
    async def get_item(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        """The item (resource-layer form, numbers as Decimal) or ``None``; raises on errors."""


class ClickCounter(Protocol):
    async def count_click(self, key: Mapping[str, str], limit: int) -> bool:
        """Atomically add one click unless ``limit`` are spent; whether this one was counted."""

    async def clicks(self, key: Mapping[str, str]) -> int:
        """Clicks spent so far (without spending one)."""


class RecordBatchWriter(Protocol):
    async def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        """Send ``records`` in one call; for each, ``None`` if taken or its error code.

        Raises when the whole call fails (network, throttling of the call, bad stream).
        """


class SecretReader(Protocol):
    async def get_secret_string(self, secret_id: str) -> str: ...


class DynamoTable:
    """The runtime table through an aiobotocore DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    async def get_item(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = await self._client.get_item(
            TableName=self._table_name, Key={name: {"S": value} for name, value in key.items()}
        )
        item = response.get("Item")
        return decode_item(item) if item else None

    async def count_click(self, key: Mapping[str, str], limit: int) -> bool:
        try:
            await self._client.update_item(
                TableName=self._table_name,
                Key={name: {"S": value} for name, value in key.items()},
                UpdateExpression="ADD #count :one",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": CLICK_COUNTER_ATTRIBUTE},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def clicks(self, key: Mapping[str, str]) -> int:
        response = await self._client.get_item(
            TableName=self._table_name,
            Key={name: {"S": value} for name, value in key.items()},
            ProjectionExpression="#count",
            ExpressionAttributeNames={"#count": CLICK_COUNTER_ATTRIBUTE},
        )
        value = response.get("Item", {}).get(CLICK_COUNTER_ATTRIBUTE, {}).get("N")
        return int(value) if value is not None else 0


class FirehoseStream:
    """A Firehose delivery stream through an aiobotocore client."""

    def __init__(self, client: Any, stream_name: str) -> None:
        self._client = client
        self._stream_name = stream_name

    async def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        response = await self._client.put_record_batch(
            DeliveryStreamName=self._stream_name, Records=[{"Data": data} for data in records]
        )
        results: list[str | None] = [
            entry.get("ErrorCode") or None for entry in response.get("RequestResponses", [])
        ]
        if len(results) != len(records):
            # Never assume success for a record Firehose did not answer for.
            results += ["MissingResponse"] * (len(records) - len(results))
        return results


class SecretsManager:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def get_secret_string(self, secret_id: str) -> str:
        response = await self._client.get_secret_value(SecretId=secret_id)
        secret = response.get("SecretString")
        if not isinstance(secret, str):
            raise ValueError(f"secret {secret_id!r} has no SecretString")
        return secret


class AwsServices:
    """Opens the aiobotocore clients the runtime needs, for the life of the app.

    ``async with AwsServices(settings) as aws:`` gives ``aws.table``, ``aws.firehose`` (``None``
    when no stream is configured) and ``aws.secrets``.
    """

    table: DynamoTable
    firehose: FirehoseStream | None
    secrets: SecretsManager

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> AwsServices:
        settings = self._settings
        session = get_session()
        # Reads are retried once (standard mode adds jittered backoff); a slow DynamoDB costs at
        # most about two timeouts on a cache miss, never on a hit.
        dynamo_config = AioConfig(
            connect_timeout=settings.dynamodb_timeout_seconds,
            read_timeout=settings.dynamodb_timeout_seconds,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=64,
        )
        # The emitter does its own retrying of failed records; one attempt per call here.
        firehose_config = AioConfig(
            connect_timeout=settings.firehose_timeout_seconds,
            read_timeout=settings.firehose_timeout_seconds,
            retries={"max_attempts": 1, "mode": "standard"},
            max_pool_connections=4,
        )
        try:
            dynamodb = await self._stack.enter_async_context(
                session.create_client(
                    "dynamodb", region_name=settings.aws_region, config=dynamo_config
                )
            )
            secrets = await self._stack.enter_async_context(
                session.create_client(
                    "secretsmanager", region_name=settings.aws_region, config=dynamo_config
                )
            )
            self.table = DynamoTable(dynamodb, settings.dynamodb_table_name)
            self.secrets = SecretsManager(secrets)
            self.firehose = None
            if settings.firehose_stream_name:
                firehose = await self._stack.enter_async_context(
                    session.create_client(
                        "firehose", region_name=settings.aws_region, config=firehose_config
                    )
                )
                self.firehose = FirehoseStream(firehose, settings.firehose_stream_name)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

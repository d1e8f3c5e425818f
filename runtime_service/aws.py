"""The runtime's only contact with AWS: four one-method seams and their aiobotocore adapters.

Each seam is a small protocol (:class:`RecordReader`, :class:`ClickCounter`,
:class:`RecordBatchWriter`, :class:`SecretReader`). The app is built with the real adapters
(:class:`AwsServices` opens them on aiobotocore, which honours ``AWS_ENDPOINT_URL`` like every
botocore client, so a moto server locally and AWS in production); tests hand in fakes that
fail on purpose. Nothing here blocks the event loop: aiobotocore is asyncio over aiohttp.
"""

from __future__ import annotations

import binascii
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import aiohttp
import orjson

# aiobotocore and botocore ship no type information; their use is confined to this module.
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from link_tracking_runtime.record import CLICK_COUNTER_ATTRIBUTE
from link_tracking_runtime.wire import decode_item

from .config import Settings

__all__ = [
    "AwsServices",
    "ClickCounter",
    "DynamoTable",
    "FirehoseCallFailed",
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


_b64: Final = binascii.b2a_base64


class FirehoseCallFailed(Exception):
    """A PutRecordBatch call that Firehose refused as a whole (HTTP status and error type)."""


class FirehoseStream:
    """``PutRecordBatch`` on one delivery stream, signed with botocore's SigV4 and sent with
    aiohttp, without botocore's per-record validation, serialisation and response parsing.

    That machinery costs about 13 µs of event-loop CPU per record (6.5 ms a 500-record call
    on the benchmark machine), more than the rest of a redirect; this costs about a third.
    The endpoint and credentials are botocore's own (so ``AWS_ENDPOINT_URL``, the task role
    and credential refresh behave as in every client). ``tests/runtime/test_aws.py`` runs it
    against moto.
    """

    _TARGET = "Firehose_20150804.PutRecordBatch"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        credentials: Any,
        endpoint_url: str,
        region: str,
        stream_name: str,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._url = endpoint_url.rstrip("/") + "/"
        self._region = region
        self._stream = orjson.dumps(stream_name)

    def body(self, records: Sequence[bytes]) -> bytes:
        """The ``PutRecordBatch`` request body of ``records`` (JSON, each record's ``Data``
        base64): one list of pieces joined once, no per-record concatenation."""
        if not records:
            return b'{"DeliveryStreamName":' + self._stream + b',"Records":[]}'
        parts = [b'{"DeliveryStreamName":' + self._stream + b',"Records":[{"Data":"']
        append = parts.append
        for data in records:
            append(_b64(data, newline=False))
            append(b'"},{"Data":"')
        parts[-1] = b'"}]}'
        return b"".join(parts)

    async def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        body = self.body(records)
        frozen = await self._credentials.get_frozen_credentials()
        request = AWSRequest(
            method="POST",
            url=self._url,
            data=body,
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": self._TARGET},
        )
        SigV4Auth(frozen, "firehose", self._region).add_auth(request)
        async with self._http.post(
            self._url, data=body, headers=dict(request.headers.items())
        ) as response:
            payload = await response.read()
        if response.status != 200:
            try:
                error = str(orjson.loads(payload).get("__type", ""))
            except orjson.JSONDecodeError:
                error = ""
            raise FirehoseCallFailed(f"PutRecordBatch answered {response.status} {error}".strip())
        answer = orjson.loads(payload)
        entries = answer.get("RequestResponses", [])
        if answer.get("FailedPutCount") == 0 and len(entries) == len(records):
            return [None] * len(records)  # Firehose's own word: nothing to resend
        results: list[str | None] = [entry.get("ErrorCode") or None for entry in entries]
        if len(results) != len(records):
            # Never assume success for a record Firehose did not answer for.
            results = (results + ["MissingResponse"] * len(records))[: len(records)]
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
                # A botocore client only to resolve the endpoint exactly as every client does.
                resolver = await self._stack.enter_async_context(
                    session.create_client("firehose", region_name=settings.aws_region)
                )
                credentials = await session.get_credentials()
                if credentials is None:
                    raise RuntimeError("no AWS credentials found for Firehose")
                http = await self._stack.enter_async_context(
                    aiohttp.ClientSession(
                        timeout=aiohttp.ClientTimeout(total=settings.firehose_timeout_seconds),
                        connector=aiohttp.TCPConnector(limit=4, keepalive_timeout=30),
                    )
                )
                self.firehose = FirehoseStream(
                    http,
                    credentials,
                    resolver.meta.endpoint_url,
                    resolver.meta.region_name,
                    settings.firehose_stream_name,
                )
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

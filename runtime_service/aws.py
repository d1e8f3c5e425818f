"""The runtime's only contact with AWS: four one-method seams and their adapters.

Each seam is a small protocol (:class:`RecordReader`, :class:`ClickCounter`,
:class:`RecordBatchWriter`, :class:`SecretReader`). The app is built with the real adapters
(:class:`AwsServices` opens them with botocore's endpoints and credentials, which honour
``AWS_ENDPOINT_URL`` like every botocore client, so a moto server locally and AWS in
production); tests hand in fakes that fail on purpose. The two calls on the request path,
``GetItem`` on a cache miss (:class:`DynamoGetItem`) and ``PutRecordBatch``
(:class:`FirehoseStream`), are signed with botocore's SigV4 and sent with aiohttp, without
botocore's per-call machinery; the rare ones (click counting, secrets) go through aiobotocore.
Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import random
import socket
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import aiohttp
import orjson

# aiobotocore and botocore ship no type information; their use is confined to this module.
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest, AWSResponse  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    ChecksumError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.parsers import create_parser  # type: ignore[import-untyped]
from botocore.retries import quota  # type: ignore[import-untyped]
from botocore.retries.standard import (  # type: ignore[import-untyped]
    ExponentialBackoff,
    RetryContext,
    RetryEventAdapter,
    RetryQuotaChecker,
    StandardRetryConditions,
    ThrottlingErrorDetector,
)

from link_tracking_runtime.record import CLICK_COUNTER_ATTRIBUTE
from link_tracking_runtime.wire import decode_item

from .config import Settings

__all__ = [
    "OWN_READ_ATTEMPTS_WITH_FALLBACK",
    "AwsServices",
    "ClickCounter",
    "DynamoGetItem",
    "DynamoTable",
    "FirehoseCallFailed",
    "FirehoseStream",
    "RecordBatchWriter",
    "RecordReader",
    "SecretReader",
    "SecretsManager",
    "SignedJsonPost",
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


class SignedJsonPost:
    """One AWS JSON-protocol call (``POST /`` with an ``X-Amz-Target``), signed with botocore's
    SigV4 and sent with aiohttp: the request path's two calls (:class:`DynamoGetItem`,
    :class:`FirehoseStream`) are built on it. The credentials are frozen afresh for each
    request, so refreshable ones are never used past their expiry."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        credentials: Any,
        endpoint_url: str,
        service: str,
        region: str,
        headers: Mapping[str, str],
    ) -> None:
        self.http = http
        self.url = endpoint_url.rstrip("/") + "/"
        self._credentials = credentials
        self._service = service
        self._region = region
        self._headers = dict(headers)

    async def __call__(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body of the answer to ``body``."""
        frozen = await self._credentials.get_frozen_credentials()
        request = AWSRequest(method="POST", url=self.url, data=body, headers=self._headers)
        SigV4Auth(frozen, self._service, self._region).add_auth(request)
        async with self.http.post(
            self.url, data=body, headers=dict(request.headers.items())
        ) as response:
            payload = await response.read()
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in response.raw_headers
            }
            return response.status, headers, payload


class DynamoGetItem:
    """``GetItem`` on the runtime table, signed with botocore's SigV4 and sent with aiohttp,
    without botocore's per-call machinery (parameter validation, serialisation, the event
    hooks, response parsing): the cache miss's only network call.

    Through an aiobotocore client a miss cost about 1 ms of event-loop CPU, 0.8 ms of it the
    client's request machinery (``benchmarks/README.md`` has the figures before and after).
    What stays botocore's own: the endpoint (the client's ``meta.endpoint_url``, so
    ``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_DYNAMODB``, region and FIPS settings resolve as in
    every client), the credentials (the session's refreshable credentials, frozen afresh for
    each request, so never used past their expiry), the SigV4 signer, the retry policy
    (standard mode's conditions, backoff and retry quota, at most ``max_attempts`` attempts:
    one retry with jittered backoff on throttling, 5xx and connection errors), the error
    parsing (an error answer raises the same ``ClientError`` as a client's call, a network
    failure the same botocore exception) and DynamoDB's ``x-amz-crc32`` check. The body is
    built and the answer read with orjson; the item decodes with
    :func:`~link_tracking_runtime.wire.decode_item`, as before. The caller's deadline bounds
    the whole call, retries included (the store wraps it in one ``asyncio.wait_for``).
    ``tests/runtime/test_aws.py`` runs it against moto.
    """

    _TARGET: Final = "DynamoDB_20120810.GetItem"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        credentials: Any,
        endpoint_url: str,
        region: str,
        table_name: str,
        operation_model: Any,
        *,
        max_attempts: int = 2,
        jitter: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._send = SignedJsonPost(
            http,
            credentials,
            endpoint_url,
            "dynamodb",
            region,
            {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": self._TARGET,
                # The checksum covers the body as sent: no compression (as aiobotocore asks).
                "Accept-Encoding": "identity",
            },
        )
        self._url = self._send.url
        self._table = table_name
        self._operation_model = operation_model
        self._parser = create_parser(operation_model.service_model.metadata["protocol"])
        self._sleep = sleep
        # Standard mode as botocore registers it on a client (botocore.retries.standard).
        throttling = ThrottlingErrorDetector(RetryEventAdapter())
        self._retry_conditions = StandardRetryConditions(max_attempts=max_attempts)
        self._backoff = ExponentialBackoff(
            random=jitter, service_name="dynamodb", throttling_detector=throttling
        )
        self._quota = RetryQuotaChecker(quota.RetryQuota(), throttling)

    def body(self, key: Mapping[str, str]) -> bytes:
        """The ``GetItem`` request body for ``key`` (string key attributes)."""
        return orjson.dumps(
            {"TableName": self._table, "Key": {name: {"S": value} for name, value in key.items()}}
        )

    async def get_item(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        body = self.body(key)
        request_context: dict[str, Any] = {}
        attempt = 1
        while True:
            failure: Exception | None = None
            parsed: dict[str, Any] | None = None
            response: Any = None
            try:
                status, headers, payload = await self._send(body)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                failure = _connection_error(exc, self._url)
            else:
                response = AWSResponse(self._url, status, headers, None)
                response._content = payload  # where botocore's checks read the body
                checksum = headers.get("x-amz-crc32")
                intact = checksum is None or zlib.crc32(payload) == int(checksum)
                if status == 200 and intact:
                    self._quota.release_retry_quota(request_context, response)
                    item = orjson.loads(payload).get("Item")
                    return decode_item(item) if item else None
                if status == 200:
                    failure = ChecksumError(
                        checksum_type="crc32",
                        expected_checksum=checksum,
                        actual_checksum=zlib.crc32(payload),
                    )
                else:
                    parsed = self._parser.parse(
                        {"status_code": status, "headers": response.headers, "body": payload},
                        self._operation_model.output_shape,
                    )
            context = RetryContext(
                attempt_number=attempt,
                operation_model=self._operation_model,
                parsed_response=parsed,
                http_response=response,
                caught_exception=failure,
                request_context=request_context,
            )
            if not (
                self._retry_conditions.is_retryable(context)
                and self._quota.acquire_retry_quota(context)
            ):
                if failure is not None:
                    raise failure
                raise ClientError(parsed, "GetItem")
            await self._sleep(self._backoff.delay_amount(context))
            attempt += 1


def _connection_error(error: BaseException, url: str) -> Exception:
    """The botocore exception aiobotocore raises for the same aiohttp failure."""
    mapped: Exception
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        mapped = ConnectionClosedError(error=error, request=None, endpoint_url=url)
    elif isinstance(error, aiohttp.ServerTimeoutError):
        if str(error).lower().startswith("connect"):
            mapped = ConnectTimeoutError(endpoint_url=url, error=error)
        else:
            mapped = ReadTimeoutError(endpoint_url=url, error=error)
    elif isinstance(error, aiohttp.ClientConnectionError | socket.gaierror):
        mapped = EndpointConnectionError(endpoint_url=url, error=error)
    elif isinstance(error, TimeoutError):
        mapped = ReadTimeoutError(endpoint_url=url, error=error)
    else:
        mapped = HTTPClientError(error=error)
    return mapped


class DynamoTable:
    """The runtime table: reads through :class:`DynamoGetItem`; click counting (max-clicks
    links only) through an aiobotocore DynamoDB client."""

    def __init__(self, client: Any, table_name: str, reads: DynamoGetItem) -> None:
        self._client = client
        self._table_name = table_name
        self._reads = reads

    async def get_item(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        return await self._reads.get_item(key)

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
        self._send = SignedJsonPost(
            http,
            credentials,
            endpoint_url,
            "firehose",
            region,
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": self._TARGET},
        )
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
        status, _, payload = await self._send(self.body(records))
        if status != 200:
            try:
                error = str(orjson.loads(payload).get("__type", ""))
            except orjson.JSONDecodeError:
                error = ""
            raise FirehoseCallFailed(f"PutRecordBatch answered {status} {error}".strip())
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


#: Attempts of the own region's ``GetItem`` when a fallback region is configured: one. The
#: read in the other region is the retry; standard mode's backoff before a second attempt in
#: the same region (up to a second, jittered) would spend the whole deadline on a refused
#: connection (``benchmarks/fallback_read_bench.py``).
OWN_READ_ATTEMPTS_WITH_FALLBACK: Final = 1


class AwsServices:
    """Opens the clients the runtime needs, for the life of the app.

    ``async with AwsServices(settings) as aws:`` gives ``aws.table``, ``aws.firehose`` (``None``
    when no stream is configured), ``aws.secrets`` and ``aws.fallback_reads``: ``GetItem`` on
    the replica in ``DYNAMODB_FALLBACK_REGION`` (``None`` when it is not set), a second
    :class:`DynamoGetItem` with its own connection pool, endpoint and region, sharing the
    credentials.
    """

    table: DynamoTable
    firehose: FirehoseStream | None
    secrets: SecretsManager
    fallback_reads: DynamoGetItem | None

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> AwsServices:
        settings = self._settings
        session = get_session()
        # Click counting and secrets: retried once (standard mode adds jittered backoff).
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
            # The session's credentials (refreshable ones are frozen afresh for each request),
            # shared by the two calls on the request path.
            credentials = await session.get_credentials()
            if credentials is None:
                raise RuntimeError("no AWS credentials found")
            # GetItem on a cache miss: the client's endpoint and region, its timeouts and pool
            # (64 connections, aiobotocore's 12 s keep-alive), one retry: a slow DynamoDB costs
            # at most about two timeouts on a miss, never on a hit.
            reads = await self._reads(
                dynamodb,
                credentials,
                OWN_READ_ATTEMPTS_WITH_FALLBACK if settings.dynamodb_fallback_region else 2,
            )
            self.table = DynamoTable(dynamodb, settings.dynamodb_table_name, reads)
            self.fallback_reads = None
            if settings.dynamodb_fallback_region:
                # A client only to resolve the other region's endpoint as every client does
                # (unless one is given), and to sign for that region.
                fallback = await self._stack.enter_async_context(
                    session.create_client(
                        "dynamodb",
                        region_name=settings.dynamodb_fallback_region,
                        endpoint_url=settings.dynamodb_fallback_endpoint_url or None,
                        config=dynamo_config,
                    )
                )
                self.fallback_reads = await self._reads(fallback, credentials)
            self.secrets = SecretsManager(secrets)
            self.firehose = None
            if settings.firehose_stream_name:
                # A botocore client only to resolve the endpoint exactly as every client does.
                resolver = await self._stack.enter_async_context(
                    session.create_client("firehose", region_name=settings.aws_region)
                )
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

    async def _reads(self, client: Any, credentials: Any, max_attempts: int = 2) -> DynamoGetItem:
        """``GetItem`` on the runtime table at ``client``'s endpoint and region, with its own
        pool (64 connections, aiobotocore's 12 s keep-alive), the read deadline as its
        connect and read timeouts, and ``max_attempts``."""
        timeout = self._settings.dynamodb_timeout_seconds
        http = await self._stack.enter_async_context(
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout),
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=12),
            )
        )
        return DynamoGetItem(
            http,
            credentials,
            client.meta.endpoint_url,
            client.meta.region_name,
            self._settings.dynamodb_table_name,
            client.meta.service_model.operation_model("GetItem"),
            max_attempts=max_attempts,
        )

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

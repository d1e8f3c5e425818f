"""The AWS adapters against moto (AWS_ENDPOINT_URL points botocore at it), some through the
fault proxy (``tests/support/fault_proxy.py``) to throttle, refuse or record requests."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import get_session
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import (
    ChecksumError,
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.session import get_session as get_sync_session

from link_tracking_runtime import counter_key, from_item, item_key
from link_tracking_runtime.wire import decode_item
from runtime_service.aws import AwsServices, DynamoGetItem, FirehoseCallFailed, FirehoseStream
from runtime_service.config import Settings
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.records import HOST, record
from tests.support.stack import LocalAws


def test_table_reads_records_and_counts_clicks_atomically(moto_aws: LocalAws) -> None:
    table = moto_aws.create_table()
    published = record(
        "ABC123",
        routing_rules={
            "type": "ab_test",
            "split": 0.25,
            "variant_a": "https://a.example.com/",
            "variant_b": "https://b.example.com/",
        },
        max_clicks=3,
    )
    LocalAws.publish(table, [published])
    settings = Settings(dynamodb_table_name=table.name)

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            item = await aws.table.get_item(item_key(HOST, "ABC123"))
            assert item is not None and from_item(item) == published
            assert await aws.table.get_item(item_key(HOST, "MISSING")) is None
            key = counter_key(HOST, "ABC123")
            assert await aws.table.clicks(key) == 0
            # Sequential: moto does not serialise concurrent conditional writes as DynamoDB
            # does, so atomicity under concurrency is DynamoDB's promise, not testable here.
            results = [await aws.table.count_click(key, 3) for _ in range(5)]
            assert results == [True, True, True, False, False]
            assert await aws.table.clicks(key) == 3
            assert aws.firehose is None  # no stream configured

    asyncio.run(scenario())
    # The counter is its own item: republishing the record does not reset it.
    LocalAws.publish(table, [published])
    stored = table.get_item(Key=counter_key(HOST, "ABC123"))["Item"]
    assert stored["click_count"] == 3


def test_table_errors_are_raised_for_the_store_to_handle(moto_aws: LocalAws) -> None:
    settings = Settings(dynamodb_table_name="no-such-table")

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            with pytest.raises(ClientError) as raised:
                await aws.table.get_item(item_key(HOST, "ABC123"))
            # The same error a botocore client raises: DynamoDB's code, the operation named.
            assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
            assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert "when calling the GetItem operation" in str(raised.value)

    asyncio.run(scenario())


def test_get_item_decodes_exactly_as_a_botocore_client_does(moto_aws: LocalAws) -> None:
    """Every attribute type a low-level client returns, read by the lean GetItem and by an
    aiobotocore client, decodes to the same item."""
    table = moto_aws.create_table()
    key = item_key(HOST, "TYPES")
    table.put_item(
        Item={
            **key,
            "text": 'a "quoted" \\ é ☃ line\nbreak',
            "whole": 42,
            "decimal": Decimal("-12.500"),
            "big": Decimal("123456789012345678901234567890"),
            "flag": True,
            "nothing": None,
            "binary": b"\x00\xffbytes",
            "nested": {"list": [1, "two", {"three": False}], "empty": {}},
            "empty_list": [],
        }
    )
    settings = Settings(dynamodb_table_name=table.name)

    async def scenario() -> tuple[Any, Any]:
        async with AwsServices(settings) as aws:
            lean = await aws.table.get_item(key)
            async with get_session().create_client(
                "dynamodb", region_name=settings.aws_region
            ) as client:
                answer = await client.get_item(
                    TableName=table.name, Key={k: {"S": v} for k, v in key.items()}
                )
            return lean, decode_item(answer["Item"])

    lean, reference = asyncio.run(scenario())
    assert lean == reference
    assert lean is not None and lean["binary"] == b"\x00\xffbytes"
    assert lean["decimal"] == Decimal("-12.5") and isinstance(lean["whole"], Decimal)


@pytest.fixture
def dynamodb_proxy(moto_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of moto, the runtime's DynamoDB endpoint
    (``AWS_ENDPOINT_URL_DYNAMODB``; ``AWS_ENDPOINT_URL`` still points at moto itself)."""
    with fault_proxy(moto_aws.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        yield proxy


def test_get_item_uses_the_dynamodb_endpoint_variable(
    moto_aws: LocalAws, dynamodb_proxy: FaultProxy
) -> None:
    table = moto_aws.create_table()
    published = record("ABC123")
    LocalAws.publish(table, [published])

    async def scenario() -> None:
        async with AwsServices(Settings(dynamodb_table_name=table.name)) as aws:
            item = await aws.table.get_item(item_key(HOST, "ABC123"))
            assert item is not None and from_item(item) == published

    asyncio.run(scenario())
    assert dynamodb_proxy.stats["pass"] == 1  # through the per-service endpoint, once


def test_get_item_retries_once_when_throttled(
    moto_aws: LocalAws, dynamodb_proxy: FaultProxy
) -> None:
    table = moto_aws.create_table()
    published = record("ABC123")
    LocalAws.publish(table, [published])

    async def scenario() -> None:
        async with AwsServices(Settings(dynamodb_table_name=table.name)) as aws:
            dynamodb_proxy.throttle_next = 1
            item = await aws.table.get_item(item_key(HOST, "ABC123"))
            assert item is not None and from_item(item) == published
            assert (dynamodb_proxy.stats["throttled"], dynamodb_proxy.stats["pass"]) == (1, 1)
            # Throttled twice: one retry only, then DynamoDB's error is raised.
            dynamodb_proxy.throttle_next = 2
            with pytest.raises(ClientError) as raised:
                await aws.table.get_item(item_key(HOST, "ABC123"))
            code = raised.value.response["Error"]["Code"]
            assert code == "ProvisionedThroughputExceededException"
            assert (dynamodb_proxy.stats["throttled"], dynamodb_proxy.stats["pass"]) == (3, 1)
            # 5xx: retried once as well.
            dynamodb_proxy.mode = "unavailable"
            with pytest.raises(ClientError, match="ServiceUnavailable"):
                await aws.table.get_item(item_key(HOST, "ABC123"))
            assert dynamodb_proxy.stats["unavailable"] == 2
            # An error no retry can help (the request itself is wrong) is not retried.
            dynamodb_proxy.mode = "pass"
            with pytest.raises(ClientError, match="ValidationException"):
                await aws.table.get_item({"PK": "only-half-the-key"})
            assert dynamodb_proxy.stats["pass"] == 2

    asyncio.run(scenario())


def test_get_item_unreachable_or_unanswered_raises_a_connection_error(
    moto_aws: LocalAws, dynamodb_proxy: FaultProxy
) -> None:
    table = moto_aws.create_table()
    settings = Settings(dynamodb_table_name=table.name, dynamodb_timeout_seconds=0.2)

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            dynamodb_proxy.mode = "refuse"
            with pytest.raises(EndpointConnectionError):
                await aws.table.get_item(item_key(HOST, "ABC123"))
            dynamodb_proxy.mode = "hang"
            with pytest.raises(ReadTimeoutError):
                await aws.table.get_item(item_key(HOST, "ABC123"))
            assert dynamodb_proxy.stats["hang"] == 2  # the read timed out, and its retry
            dynamodb_proxy.mode = "pass"
            assert await aws.table.get_item(item_key(HOST, "ABC123")) is None

    asyncio.run(scenario())


def test_get_item_signs_with_credentials_refreshed_at_expiry(
    moto_aws: LocalAws, dynamodb_proxy: FaultProxy
) -> None:
    """Refreshable credentials are frozen afresh for each request: once they expire, the next
    request is signed with the refreshed ones (never with the expired ones)."""
    table = moto_aws.create_table()
    now = [datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)]
    issued: list[str] = []

    async def refresh() -> dict[str, str]:
        issued.append(f"ASIAREFRESHED{len(issued) + 1}")
        return {
            "access_key": issued[-1],
            "secret_key": "secret",
            "token": f"token-{len(issued)}",
            "expiry_time": (now[0] + datetime.timedelta(hours=1)).isoformat(),
        }

    credentials = AioDeferredRefreshableCredentials(refresh, "test", time_fetcher=lambda: now[0])
    operation = get_sync_session().get_service_model("dynamodb").operation_model("GetItem")
    dynamodb_proxy.keep_headers = True
    region = moto_aws.env["AWS_REGION"]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            reads = DynamoGetItem(
                http, credentials, dynamodb_proxy.url, region, table.name, operation
            )
            for _ in range(2):
                assert await reads.get_item(item_key(HOST, "ABC123")) is None
            now[0] += datetime.timedelta(minutes=59, seconds=30)  # within the refresh window
            assert await reads.get_item(item_key(HOST, "ABC123")) is None

    asyncio.run(scenario())
    assert issued == ["ASIAREFRESHED1", "ASIAREFRESHED2"]
    signed = [
        (h["authorization"].split("Credential=")[1].split("/")[0], h["x-amz-security-token"])
        for h in dynamodb_proxy.headers
    ]
    assert signed == [
        ("ASIAREFRESHED1", "token-1"),
        ("ASIAREFRESHED1", "token-1"),
        ("ASIAREFRESHED2", "token-2"),
    ]
    assert all(
        f"/{region}/dynamodb/aws4_request" in h["authorization"] for h in dynamodb_proxy.headers
    )


def test_firehose_batches_and_secrets(moto_aws: LocalAws) -> None:
    stream, bucket = moto_aws.create_stream()
    moto_aws.create_keyring_secret("signing/test", {"current": {"kid": "k1", "secret": "x" * 20}})
    settings = Settings(firehose_stream_name=stream)

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            assert aws.firehose is not None
            records = [json.dumps({"n": i}).encode() + b"\n" for i in range(7)]
            assert await aws.firehose.put_record_batch(records) == [None] * 7
            secret = await aws.secrets.get_secret_string("signing/test")
            assert json.loads(secret)["current"]["kid"] == "k1"

    asyncio.run(scenario())
    bodies = [
        moto_aws.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in moto_aws.s3.list_objects_v2(Bucket=bucket)["Contents"]
    ]
    assert sorted(json.loads(line)["n"] for body in bodies for line in body.splitlines()) == list(
        range(7)
    )


def test_firehose_call_refused_as_a_whole_raises(moto_aws: LocalAws) -> None:
    settings = Settings(firehose_stream_name="no-such-stream")

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            assert aws.firehose is not None
            with pytest.raises(FirehoseCallFailed, match="ResourceNotFound"):
                await aws.firehose.put_record_batch([b"{}\n"])

    asyncio.run(scenario())


def test_firehose_per_record_errors_and_signed_request() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["headers"] = dict(request.headers)
        seen["body"] = json.loads(await request.read())
        answers = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}
            if index == 1
            else {"RecordId": f"r{index}"}
            for index, _ in enumerate(seen["body"]["Records"])
        ]
        return web.json_response({"FailedPutCount": 1, "RequestResponses": answers})

    async def scenario() -> list[str | None]:
        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        credentials = Credentials("AKIDEXAMPLE", "secret-example-key")
        try:
            async with aiohttp.ClientSession() as http:
                stream = FirehoseStream(
                    http, _Frozen(credentials), f"http://127.0.0.1:{port}", "eu-west-1", "clicks"
                )
                return await stream.put_record_batch([b'{"a":1}\n', b'{"a":2}\n', b"x\n"])
        finally:
            await runner.cleanup()

    assert asyncio.run(scenario()) == [None, "ServiceUnavailableException", None]
    assert seen["body"]["DeliveryStreamName"] == "clicks"
    assert [base64.b64decode(r["Data"]) for r in seen["body"]["Records"]] == [
        b'{"a":1}\n',
        b'{"a":2}\n',
        b"x\n",
    ]
    headers = seen["headers"]
    assert headers["X-Amz-Target"] == "Firehose_20150804.PutRecordBatch"
    assert (
        headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/firehose/aws4_request" in headers["Authorization"]
    )


class _Frozen:
    """aiobotocore credentials' async interface over fixed credentials."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    async def get_frozen_credentials(self) -> Any:
        return self._credentials.get_frozen_credentials()


@pytest.mark.parametrize(
    "records",
    [[], [b"{}\n"], [b'{"a":"\\u00e9"}\n', b"x" * 1000, b"", bytes(range(256))]],
)
def test_firehose_body_is_the_put_record_batch_json(records: list[bytes]) -> None:
    stream = FirehoseStream(None, None, "http://127.0.0.1:1", "us-east-1", 'click "events"')  # type: ignore[arg-type]
    assert json.loads(stream.body(records)) == {
        "DeliveryStreamName": 'click "events"',
        "Records": [{"Data": base64.b64encode(data).decode()} for data in records],
    }


def test_get_item_request_is_signed_as_sent_and_its_answer_checksummed() -> None:
    """An AWS-style check of what arrived: the signature recomputed from the headers it lists
    as signed, with their values as received, matches (so aiohttp sent what was signed: host,
    content type, body). A body whose ``x-amz-crc32`` does not match is retried once, then
    refused."""
    credentials = Credentials("AKIDEXAMPLE", "secret-example-key", "session-token")
    operation = get_sync_session().get_service_model("dynamodb").operation_model("GetItem")
    item = {"PK": {"S": "go.example.com#ABC123"}, "SK": {"S": "LINK"}, "n": {"N": "7"}}
    received: list[tuple[dict[str, str], bytes, str]] = []
    corrupt = [0]

    async def handler(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read(), request.path_qs))
        body = json.dumps({"Item": item}).encode()
        checksum = zlib.crc32(body) + (1 if corrupt[0] > 0 else 0)
        corrupt[0] -= 1
        return web.Response(
            body=body,
            content_type="application/x-amz-json-1.0",
            headers={"x-amz-crc32": str(checksum)},
        )

    async def scenario() -> list[Any]:
        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        results: list[Any] = []
        try:
            async with aiohttp.ClientSession() as http:
                reads = DynamoGetItem(
                    http,
                    _Frozen(credentials),
                    f"http://127.0.0.1:{port}",
                    "eu-west-1",
                    "link-runtime",
                    operation,
                    jitter=lambda: 0.0,
                )
                key = {"PK": "go.example.com#ABC123", "SK": "LINK"}
                results.append(await reads.get_item(key))
                corrupt[0] = 1  # one bad body, then a good one
                results.append(await reads.get_item(key))
                corrupt[0] = 2
                with pytest.raises(ChecksumError):
                    await reads.get_item(key)
        finally:
            await runner.cleanup()
        return results

    assert asyncio.run(scenario()) == [decode_item(item), decode_item(item)]
    assert len(received) == 1 + 2 + 2
    headers, body, path = received[0]
    assert json.loads(body) == {
        "TableName": "link-runtime",
        "Key": {"PK": {"S": "go.example.com#ABC123"}, "SK": {"S": "LINK"}},
    }
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert headers["X-Amz-Security-Token"] == "session-token"
    authorization = headers["Authorization"]
    credential, signed, signature = (part.split("=", 1)[1] for part in authorization.split(", "))
    assert credential.startswith("AKIDEXAMPLE/") and credential.endswith(
        "/eu-west-1/dynamodb/aws4_request"
    )
    names = signed.split(";")
    assert {"host", "content-type", "x-amz-date", "x-amz-target"} <= set(names)
    lowered = {name.lower(): value for name, value in headers.items()}
    as_received = AWSRequest(
        method="POST",
        url=f"http://{lowered['host']}{path}",
        data=body,
        headers={name: lowered[name] for name in names},
    )
    signer = SigV4Auth(credentials, "dynamodb", "eu-west-1")
    as_received.context["timestamp"] = lowered["x-amz-date"]
    expected = signer.signature(
        signer.string_to_sign(as_received, signer.canonical_request(as_received)), as_received
    )
    assert signature == expected

"""The aiobotocore adapters against moto (AWS_ENDPOINT_URL points botocore at it)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from link_tracking_runtime import counter_key, from_item, item_key
from runtime_service.aws import AwsServices, FirehoseCallFailed, FirehoseStream
from runtime_service.config import Settings
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
            with pytest.raises(ClientError):
                await aws.table.get_item(item_key(HOST, "ABC123"))

    asyncio.run(scenario())


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

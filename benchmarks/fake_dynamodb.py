"""A DynamoDB stand-in that answers ``GetItem`` for the benchmark's links after a fixed delay.

    FAKE_DYNAMODB_DELAY_MS=5 uvicorn benchmarks.fake_dynamodb:app --port 8001

For the cache-miss case of :mod:`benchmarks.runtime_bench`: "DynamoDB answering in 5 ms"
without moto's own milliseconds of CPU per request on the shared cores (moto through
:mod:`benchmarks.delay_proxy` answers a GetItem in 20 ms or more on a busy 2-core machine, so
its latency, not the runtime's, would set the p99). The items are those
:func:`benchmarks.runtime_bench.bench_records` publishes, in DynamoDB's JSON wire form, made
once at start; any other operation is refused with DynamoDB's error shape. Not a test double
for correctness: the runtime's DynamoDB client is tested against moto.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from benchmarks.runtime_bench import bench_records
from link_tracking_runtime import to_item
from link_tracking_runtime.wire import encode_item

DELAY = float(os.environ.get("FAKE_DYNAMODB_DELAY_MS", "5")) / 1000
_HEADERS = [(b"content-type", b"application/x-amz-json-1.0")]
_ITEMS: dict[tuple[str, str], bytes] = {}
for _record in bench_records():
    _item = to_item(_record)
    _ITEMS[_item["PK"], _item["SK"]] = json.dumps({"Item": encode_item(_item)}).encode()
_NOT_FOUND = b"{}"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    target = dict(scope["headers"]).get(b"x-amz-target", b"")
    if target == b"DynamoDB_20120810.GetItem":
        key = json.loads(body)["Key"]
        answer = _ITEMS.get((key["PK"]["S"], key["SK"]["S"]), _NOT_FOUND)
        status = 200
    else:
        answer = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#UnknownOperationException"}
        ).encode()
        status = 400
    await asyncio.sleep(DELAY)
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": answer})

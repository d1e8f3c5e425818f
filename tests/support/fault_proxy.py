"""An HTTP proxy in front of the moto server whose behaviour a test switches at run time.

The runtime is pointed at it with the per-service botocore variables
(``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_ENDPOINT_URL_FIREHOSE``), one proxy per service, so a
fault hits one AWS service and not the others. It runs its own event loop in a background
thread of the test process; :attr:`FaultProxy.mode` can be changed at any moment:

* ``pass``: every request is forwarded to moto and moto's answer returned (with
  ``Content-Length``, keep-alive);
* ``refuse``: the proxy stops listening (new connections are refused: ``ECONNREFUSED``) and
  closes its idle connections; a request already being forwarded still gets its answer;
* ``hang``: requests are read and never answered (packets dropped somewhere); the connection is
  closed when the client gives up or the mode changes;
* ``unavailable``: every request gets ``503`` ``ServiceUnavailableException`` without reaching
  moto;
* ``partial``: for Firehose ``PutRecordBatch``, a seeded random share (:attr:`reject_share`) of
  the records is not forwarded: moto gets the others, and the answer is moto's answer merged
  with a ``ServiceUnavailableException`` entry for each record held back (``FailedPutCount``
  says how many). Other requests pass;
* ``hold``: a ``PutRecordBatch`` is held for :attr:`hold_seconds` before it is forwarded, and
  never forwarded if the client disconnects meanwhile (a slow Firehose that only takes records
  it answers for). Other requests pass.

Whatever the mode, the next :attr:`FaultProxy.throttle_next` requests are answered ``400``
``ProvisionedThroughputExceededException`` without reaching moto (DynamoDB throttling), and
:attr:`FaultProxy.headers` keeps each request's headers when :attr:`FaultProxy.keep_headers`
is set.

moto does not check signatures, so a request whose body the proxy rewrote is still taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson

__all__ = ["MODES", "FaultProxy", "fault_proxy"]

MODES = ("pass", "refuse", "hang", "unavailable", "partial", "hold")

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "upgrade",
        "te",
        "trailer",
        "host",
        "accept-encoding",
    }
)
_PUT_RECORD_BATCH = "Firehose_20150804.PutRecordBatch"
_REASONS = {200: "OK", 400: "Bad Request", 502: "Bad Gateway", 503: "Service Unavailable"}


class _Request:
    def __init__(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class FaultProxy:
    """The proxy (see the module docstring). Use :func:`fault_proxy` to run one."""

    def __init__(self, upstream: str, *, seed: int = 0, reject_share: float = 0.3) -> None:
        self.upstream = upstream.rstrip("/")
        self.reject_share = reject_share
        self.hold_seconds = 3.0
        #: Requests still to be answered as throttled (then the mode applies again).
        self.throttle_next = 0
        #: When set, each request's headers are appended to :attr:`headers`.
        self.keep_headers = False
        self.headers: list[dict[str, str]] = []
        self.port = 0
        #: Requests answered, by mode; records forwarded and held back (``partial``).
        self.stats: Counter[str] = Counter()
        self._mode = "pass"
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._session: aiohttp.ClientSession | None = None
        self._connections: dict[asyncio.StreamWriter, bool] = {}  # writer -> busy
        self._changed: asyncio.Event | None = None

    # --- control (called from the test's thread) ----------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        asyncio.run_coroutine_threadsafe(self._set_mode(mode), self._loop).result(10)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # --- the proxy's loop -------------------------------------------------------------------

    async def _start(self) -> None:
        self._changed = asyncio.Event()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), auto_decompress=False
        )
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections):
            writer.close()
        # Closed connections end their handlers (a read sees the end); wait for them.
        handlers = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
        if handlers:
            _, stuck = await asyncio.wait(handlers, timeout=5)
            for task in stuck:
                task.cancel()
        if self._session is not None:
            await self._session.close()

    async def _set_mode(self, mode: str) -> None:
        previous, self._mode = self._mode, mode
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()
        if mode == "refuse" and previous != "refuse":
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer, busy in list(self._connections.items()):
                if not busy:
                    writer.close()
        elif previous == "refuse" and mode != "refuse":
            await self._listen()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections[writer] = False
        try:
            while self._mode != "refuse":
                request = await _read_request(reader)
                if request is None:
                    break
                self._connections[writer] = True
                if self.keep_headers:
                    self.headers.append({k.lower(): v for k, v in request.headers})
                if self.throttle_next > 0:
                    self.throttle_next -= 1
                    self.stats["throttled"] += 1
                    writer.write(_response(*_throttled()))
                    await writer.drain()
                    self._connections[writer] = False
                    continue
                mode = self._mode
                self.stats[mode] += 1
                if mode == "hang" or mode == "refuse":
                    await self._wait_change_or_eof(reader)
                    break
                if mode == "hold" and request.header("x-amz-target") == _PUT_RECORD_BATCH:
                    if not await self._hold(reader):
                        self.stats["held_and_abandoned"] += 1
                        break
                    self.stats["held_then_forwarded"] += 1
                if mode == "unavailable":
                    status, headers, body = _unavailable()
                else:
                    try:
                        if (
                            mode == "partial"
                            and request.header("x-amz-target") == _PUT_RECORD_BATCH
                        ):
                            status, headers, body = await self._partial(request)
                        else:
                            status, headers, body = await self._forward(request)
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        self.stats["upstream_failed"] += 1
                        body = f"fault proxy: upstream failed: {type(exc).__name__}".encode()
                        status, headers = 502, [("Content-Type", "text/plain")]
                writer.write(_response(status, headers, body))
                await writer.drain()
                self._connections[writer] = False
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        finally:
            self._connections.pop(writer, None)
            writer.close()

    async def _wait_change_or_eof(self, reader: asyncio.StreamReader) -> bool:
        """Wait for a mode change (``True``) or for the client to close (``False``)."""
        assert self._changed is not None
        changed = asyncio.ensure_future(self._changed.wait())
        eof = asyncio.ensure_future(reader.read(1))
        done, pending = await asyncio.wait({changed, eof}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return changed in done

    async def _hold(self, reader: asyncio.StreamReader) -> bool:
        """Wait ``hold_seconds``; ``False`` if the client disconnected meanwhile."""
        sleep = asyncio.ensure_future(asyncio.sleep(self.hold_seconds))
        eof = asyncio.ensure_future(reader.read(1))
        done, pending = await asyncio.wait({sleep, eof}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return sleep in done

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._session is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP]
        async with self._session.request(
            request.method, self.upstream + request.target, data=request.body, headers=headers
        ) as response:
            body = await response.read()
            return (
                response.status,
                [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP],
                body,
            )

    async def _partial(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        payload = orjson.loads(request.body)
        records = payload["Records"]
        rejected = [self._rng.random() < self.reject_share for _ in records]
        kept = [record for record, no in zip(records, rejected, strict=True) if not no]
        self.stats["records_rejected"] += len(records) - len(kept)
        self.stats["records_forwarded"] += len(kept)
        answers: list[dict[str, Any]] = []
        failed = 0
        headers: list[tuple[str, str]] = [("Content-Type", "application/x-amz-json-1.1")]
        if kept:
            body = orjson.dumps({**payload, "Records": kept})
            forwarded = _Request(request.method, request.target, request.headers, body)
            status, headers, answer = await self._forward(forwarded)
            if status != 200:
                return status, headers, answer
            decoded = orjson.loads(answer)
            answers = decoded["RequestResponses"]
            failed = decoded.get("FailedPutCount", 0)
        merged = []
        taken = iter(answers)
        for no in rejected:
            if no:
                merged.append(
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                )
                failed += 1
            else:
                merged.append(next(taken))
        body = orjson.dumps(
            {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": merged}
        )
        return 200, [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"], body


def _unavailable() -> tuple[int, list[tuple[str, str]], bytes]:
    body = orjson.dumps(
        {"__type": "ServiceUnavailableException", "message": "Service unavailable (fault proxy)"}
    )
    return 503, [("Content-Type", "application/x-amz-json-1.1")], body


def _throttled() -> tuple[int, list[tuple[str, str]], bytes]:
    body = orjson.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput was exceeded (fault proxy)",
        }
    )
    return 400, [("Content-Type", "application/x-amz-json-1.0")], body


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    head += [f"{name}: {value}" for name, value in headers]
    head += [f"Content-Length: {len(body)}", "Connection: keep-alive", "", ""]
    return "\r\n".join(head).encode("latin-1") + body


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """One HTTP/1.1 request (Content-Length or chunked body); ``None`` at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    request = _Request(method, target, headers, b"")
    length = request.header("content-length")
    if length is not None:
        request.body = await reader.readexactly(int(length))
    elif (request.header("transfer-encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        request.body = b"".join(chunks)
    return request


@contextlib.contextmanager
def fault_proxy(upstream: str, **kwargs: Any) -> Iterator[FaultProxy]:
    """A started :class:`FaultProxy` in front of ``upstream``, stopped on exit."""
    proxy = FaultProxy(upstream, **kwargs)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()

"""The floor the runtime is measured against: a bare ASGI app answering every request with
the same 302 (same headers as a real redirect), served by the same uvicorn settings.

With ``BARE_APP_WORK_LOOPS`` set, every redirect first runs :func:`spin` for that many loops:
the benchmark's "bare + N µs of Python" case, which shows what N µs of Python per request
(measured by the benchmark in a tight loop, :func:`spin_cost`) costs under a loaded server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

_HEADERS = [
    (b"location", b"https://shop.example.com/abc123?utm_source=sms&click_id=constant"),
    (b"cache-control", b"private, no-store"),
    (b"x-robots-tag", b"noindex"),
    (b"content-length", b"0"),
]


def spin(loops: int) -> int:
    """Pure-Python work: ``loops`` additions."""
    total = 0
    for i in range(loops):
        total += i
    return total


def spin_cost(loops: int, calls: int = 20000) -> float:
    """CPU microseconds of one ``spin(loops)`` called in a tight loop."""
    start = time.process_time()
    for _ in range(calls):
        spin(loops)
    return (time.process_time() - start) / calls * 1e6


def loops_for(microseconds: float) -> int:
    """Loops of :func:`spin` that take about ``microseconds`` in a tight loop (refined three
    times, each step on the median of three measurements: the per-call overhead makes the
    cost not quite linear, and a busy machine makes single measurements jump)."""
    loops = 500
    for _ in range(3):
        cost = sorted(spin_cost(loops, 5000) for _ in range(3))[1]
        loops = max(1, round(loops * microseconds / cost))
    return loops


WORK_LOOPS = int(os.environ.get("BARE_APP_WORK_LOOPS", "0") or 0)


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        if scope["path"] == "/health":  # for the readiness poll, which follows redirects
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        if WORK_LOOPS:
            spin(WORK_LOOPS)
        await send({"type": "http.response.start", "status": 302, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": b""})

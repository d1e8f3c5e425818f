"""The floor the runtime is measured against: a bare ASGI app answering every request with
the same 302 (same headers as a real redirect), served by the same uvicorn settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

_HEADERS = [
    (b"location", b"https://shop.example.com/abc123?utm_source=sms&click_id=constant"),
    (b"cache-control", b"private, no-store"),
    (b"x-robots-tag", b"noindex"),
    (b"content-length", b"0"),
]


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
        await send({"type": "http.response.start", "status": 302, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": b""})

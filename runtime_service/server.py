"""The runtime's HTTP/1.1 protocol for uvicorn, and the gunicorn worker that uses it.

    uvicorn runtime_service.asgi:app --http runtime_service.server:RuntimeHttpProtocol
    gunicorn -k runtime_service.server.RuntimeWorker runtime_service.asgi:app

uvicorn's httptools protocol, with one change: a request whose target is in absolute form
(``GET http://go.example.com/ABC123 HTTP/1.1``) is answered for the target's authority, not
for its ``Host`` line. RFC 9112 §3.2.2: an origin server that receives an absolute-form target
MUST ignore the ``Host`` header and use the target's host. ASGI gives the application the path
and query alone, so without this the application would key the click on a ``Host`` the client
chose to differ from the URL it asked for (a proxy in front reads the URL's authority).

A target that is neither origin form (``/…``) nor ``*`` and does not parse as a URL is a 400,
answered by uvicorn as before. This module is interpreted, not compiled with mypyc: its class
extends uvicorn's.
"""

from __future__ import annotations

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

__all__ = ["RuntimeHttpProtocol", "RuntimeWorker", "target_authority"]


def target_authority(target: bytes) -> bytes | None:
    """The ``host[:port]`` of an absolute-form request target, or ``None`` for origin form
    (``/path``), ``*``, or a target with no host. An IPv6 host is bracketed again. Raises
    :class:`httptools.HttpParserInvalidURLError` for a target that is not a URL."""
    if target[:1] == b"/" or target == b"*":
        return None
    parsed = httptools.parse_url(target)
    host: bytes | None = parsed.host
    if not host:
        return None
    if b":" in host:
        host = b"[" + host + b"]"
    port: int | None = parsed.port
    return host if port is None else host + b":" + str(port).encode("ascii")


class RuntimeHttpProtocol(HttpToolsProtocol):
    """:class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` answering an
    absolute-form target for its own authority (see the module's documentation)."""

    def on_headers_complete(self) -> None:
        authority = target_authority(self.url)
        if authority is not None:
            # The scope's "headers" is this same list: replace its Host lines in place.
            self.headers[:] = [(n, v) for n, v in self.headers if n != b"host"]
            self.headers.append((b"host", authority))
        super().on_headers_complete()


class RuntimeWorker(UvicornWorker):  # type: ignore[misc]
    """gunicorn's worker for the runtime: uvicorn's, with :class:`RuntimeHttpProtocol`."""

    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "http": f"{__name__}:{RuntimeHttpProtocol.__qualname__}",
    }

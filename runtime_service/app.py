"""The ASGI application: routes, origin check, rate limit, never a 500, and the lifespan.

Plain ASGI rather than a framework: the service has four routes and its hot path is measured
against a bare ASGI app (``benchmarks/``), so every microsecond of routing counts.

Routes, in order: ``/health`` (exempt from the origin check and the rate limit, for the ALB),
then the CloudFront origin-secret check (403), the per-IP rate limit (429 + Retry-After),
``/robots.txt``, ``/disabled`` (the default ``fallback_url`` of every link is
``https://{domain}/disabled``), the domain's app-link files
(``/.well-known/apple-app-site-association``, ``/.well-known/assetlinks.json``: 200 JSON from
its app-links record, 404 without one; no redirect, no click event), other reserved names and
``/.well-known/`` paths (404), and ``GET``/``HEAD`` ``/{slug}``.
An unexpected error anywhere in a redirect is answered with a redirect to
``DEFAULT_FALLBACK_URL``; a traceback only ever reaches the log. With a fallback region, a link
that neither region's replica could read is answered ``503`` (CloudFront's origin group then
asks the other region); ``/health`` shows each region's replica as a background probe last
found it, and stays ``200`` (it is the ALB's and ECS's liveness check).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping
from typing import Any, Final, TextIO, cast

from link_tracking_runtime import canonical_host
from link_tracking_runtime.applinks import PATH_ATTRIBUTES

from . import __version__
from .aws import AwsServices, ClickCounter, RecordBatchWriter, RecordReader, SecretReader
from .config import Settings
from .emitter import ClickEmitter, EventSink, FileSink, FirehoseSink
from .errors import StoreUnavailable
from .journal import Journal
from .logs import configure_logging
from .metrics import Metrics
from .ratelimit import RateLimiter, rate_key
from .redirect import Redirector
from .signatures import SignatureVerifier
from .store import AppLinksStore, RecordStore, StoreProbe
from .visitor import IpHasher, forwarded_ip

__all__ = ["Backends", "RuntimeApp", "create_app", "new_click_id"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_REDIRECT_HEADERS: Final = [
    (b"cache-control", b"private, no-store"),
    (b"x-robots-tag", b"noindex"),
    (b"content-length", b"0"),
]
_ROBOTS: Final = b"User-agent: *\nDisallow: /"
#: What a bot, a link preview or a ``HEAD`` gets for a link that keeps its destination secret
#: (``max_clicks`` or a signature): nothing of the link, not cacheable, not indexable.
_WITHHELD_PAGE: Final = (
    b"<!doctype html><html lang=en><meta charset=utf-8>"
    b"<meta name=robots content='noindex,nofollow'><title>Link</title>"
    b"<p>Open this link on your device to continue.</p></html>"
)
_WITHHELD: Final = (
    200,
    [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(_WITHHELD_PAGE)).encode()),
        (b"cache-control", b"private, no-store"),
        (b"x-robots-tag", b"noindex"),
        (b"referrer-policy", b"no-referrer"),
    ],
    _WITHHELD_PAGE,
)
_DISABLED_PAGE: Final = (
    b"<!doctype html><html lang=en><meta charset=utf-8>"
    b"<meta name=viewport content='width=device-width,initial-scale=1'>"
    b"<meta name=robots content=noindex><title>Link unavailable</title>"
    b"<body style='font-family:system-ui,sans-serif;margin:3em auto;max-width:32em;padding:0 1em'>"
    b"<h1>This link is no longer available</h1>"
    b"<p>The link you followed has expired or has been turned off.</p></body></html>"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Backends:
    """The AWS seams the app uses; built from aiobotocore when not given (see :mod:`.aws`).

    ``firehose`` ``None`` means click events go to ``CLICK_EVENTS_FILE``; ``fallback_records``
    reads the replica in ``DYNAMODB_FALLBACK_REGION`` (``None``: one region).
    """

    records: RecordReader
    counter: ClickCounter
    secrets: SecretReader
    firehose: RecordBatchWriter | None = None
    fallback_records: RecordReader | None = None


Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def _plain(status: int, body: bytes, content_type: bytes, *extra: tuple[bytes, bytes]) -> Response:
    return (
        status,
        [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-robots-tag", b"noindex"),
            *extra,
        ],
        body,
    )


def _redirect_response(location: str) -> Response:
    return 302, [(b"location", location.encode("latin-1")), *_REDIRECT_HEADERS], b""


_TEXT: Final = b"text/plain; charset=utf-8"
#: App-link files are public and change rarely; Apple's CDN and Android's verifier fetch them.
APP_LINKS_CACHE_CONTROL: Final = b"public, max-age=3600"
_NOT_FOUND: Final = b"Not Found"
#: A link neither region's replica could read (:class:`~.errors.StoreUnavailable`).
_UNAVAILABLE: Final = _plain(503, b"Service Unavailable", _TEXT, (b"retry-after", b"5"))
#: Deadline of the DynamoDB read made once at startup (:meth:`RecordStore.warm_up`).
_WARM_UP_SECONDS: Final = 5.0


class RuntimeApp:
    """The ASGI callable. Build it with :func:`create_app`."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float],
        click_ids: Callable[[], str],
        backends: Backends | None,
        event_sink: EventSink | None,
        metrics_stream: TextIO | None,
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._click_ids = click_ids
        self._backends = backends
        self._event_sink = event_sink
        self._sleep = sleep
        self.metrics = Metrics(settings.metrics_namespace, clock=clock, stream=metrics_stream)
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.journal = Journal(settings.event_journal_dir)
        self._origin_header = settings.origin_verify_header.encode("latin-1")
        self._origin_secrets = tuple(s.encode() for s in settings.origin_verify_secret)
        self._ip_hasher = IpHasher(settings.ip_hash_key)
        self.redirector: Redirector | None = None
        self.emitter: ClickEmitter | None = None
        self.store: RecordStore | None = None
        self.app_links: AppLinksStore | None = None
        self.probe: StoreProbe | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._metrics_task: asyncio.Task[None] | None = None

    # --- life cycle --------------------------------------------------------------------------

    async def startup(self) -> None:
        """Open AWS clients and start the background tasks (the lifespan's startup)."""
        settings = self.settings
        stack = contextlib.AsyncExitStack()
        try:
            backends = self._backends
            if backends is None:
                aws = await stack.enter_async_context(AwsServices(settings))
                backends = Backends(
                    aws.table, aws.table, aws.secrets, aws.firehose, aws.fallback_reads
                )
            sink = self._event_sink
            if sink is None:
                sink = (
                    FirehoseSink(backends.firehose)
                    if backends.firehose is not None
                    else FileSink(settings.click_events_file)
                )
            # Link records and app-links records are cached alike (one store implementation).
            cache_options: dict[str, Any] = {
                "clock": self._clock,
                "metrics": self.metrics,
                "ttl": settings.cache_ttl_seconds,
                "negative_ttl": settings.cache_negative_ttl_seconds,
                "stale": settings.cache_stale_seconds,
                "max_size": settings.cache_max_size,
                "default_fallback_url": settings.default_fallback_url,
                "timeout": settings.dynamodb_timeout_seconds,
            }
            cache_options["fallback"] = backends.fallback_records
            self.store = RecordStore(backends.records, **cache_options)
            self.app_links = AppLinksStore(backends.records, **cache_options)
            readers = {settings.aws_region: backends.records}
            if backends.fallback_records is not None:
                readers[settings.dynamodb_fallback_region or "fallback"] = backends.fallback_records
            self.probe = StoreProbe(
                readers, clock=self._clock, timeout=settings.dynamodb_timeout_seconds
            )
            self.emitter = ClickEmitter(
                sink,
                self.journal,
                metrics=self.metrics,
                clock=self._clock,
                flush_interval=settings.event_flush_interval_seconds,
                buffer_max=settings.event_buffer_max,
                max_attempts=settings.firehose_max_attempts,
                # The file takes one batch at a time (in order, one write each).
                max_in_flight=(
                    settings.firehose_max_in_flight if isinstance(sink, FirehoseSink) else 1
                ),
                sleep=self._sleep,
            )
            self.redirector = Redirector(
                store=self.store,
                domains=self.app_links,
                counter=backends.counter,
                verifier=SignatureVerifier(
                    backends.secrets,
                    clock=self._clock,
                    cache_ttl=settings.signing_key_cache_ttl_seconds,
                    max_lifetime=settings.signed_link_max_lifetime_seconds,
                    timeout=settings.dynamodb_timeout_seconds,
                    prefix=settings.signing_keyring_prefix,
                ),
                emitter=self.emitter,
                metrics=self.metrics,
                click_ids=self._click_ids,
                ip_hasher=self._ip_hasher,
                default_fallback_url=settings.default_fallback_url,
                counter_timeout=settings.dynamodb_timeout_seconds,
            )
            if self._backends is None:
                # The clients just opened: their one-time costs are paid here, before the first
                # request is accepted, and bounded (an unreachable DynamoDB delays startup by at
                # most this long; the request path's deadline stays short).
                await self.store.warm_up(max(_WARM_UP_SECONDS, settings.dynamodb_timeout_seconds))
            self.emitter.start()
            self._metrics_task = asyncio.get_running_loop().create_task(self._write_metrics())
            # Everything loaded so far (botocore's service models above all: hundreds of
            # thousands of objects) lives as long as the process. Frozen, the cyclic GC stops
            # re-scanning it on every full collection, which the click events buffered for a
            # second or so would otherwise trigger again and again.
            gc.freeze()
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        logger.info(
            "runtime started",
            extra={
                "version": __version__,
                "event_sink": type(sink).__name__,
                "settings": settings.public(),
            },
        )

    async def shutdown(self) -> None:
        """Flush or journal every accepted click event, write the last metrics, close AWS."""
        if self.emitter is not None:
            await self.emitter.close(self.settings.shutdown_flush_seconds)
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._metrics_task
            self._metrics_task = None
        self.metrics.flush()
        if self.probe is not None:
            await self.probe.close()
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        logger.info("runtime stopped")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RuntimeApp]:
        """``startup()`` … ``shutdown()``, for tests that drive the app without a server."""
        await self.startup()
        try:
            yield self
        finally:
            await self.shutdown()

    async def _write_metrics(self) -> None:
        while True:
            await asyncio.sleep(self.settings.metrics_interval_seconds)
            try:
                self.metrics.flush()
            except Exception:
                logger.exception("writing metrics failed")

    # --- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            # Inlined (no coroutine per step): a cache hit awaits nothing but ``send``.
            started = time.perf_counter()
            try:
                answer = self._respond(scope, started)
                if type(answer) is not str and type(answer) is not tuple:
                    # The coroutine that does a redirect's I/O first (or makes a whole
                    # response: an app-link file).
                    answer = await answer  # type: ignore[misc]
                if type(answer) is str:
                    if answer:  # a redirect's Location
                        status, body = 302, b""
                        headers = [(b"location", answer.encode("latin-1")), *_REDIRECT_HEADERS]
                    else:  # an empty Location: a withheld destination (the neutral page)
                        status, headers, body = _WITHHELD
                else:  # a whole response
                    status, headers, body = cast(Response, answer)
            except StoreUnavailable:
                # Neither region's replica answered: CloudFront's origin group fails over on
                # this status to the other region, which serves (and counts) the click.
                status, headers, body = _UNAVAILABLE
            except Exception:
                # Never a 500, never a traceback in a response: whatever broke, the visitor is
                # sent somewhere safe and the traceback goes to the log.
                logger.exception("request failed, sending the visitor to the default fallback")
                self.metrics.count("Outcome.error")
                status, headers, body = _redirect_response(self.settings.default_fallback_url)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            if status == 302:
                self.metrics.latency((time.perf_counter() - started) * 1000.0)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("runtime failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except Exception as exc:
                    logger.exception("runtime failed to shut down cleanly")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _respond(
        self, scope: Scope, started: float
    ) -> Response | str | Coroutine[Any, Any, str | Response]:
        """The response; for a redirect, the ``Location`` or the coroutine that makes it
        (see :meth:`.redirect.Redirector.redirect`)."""
        path: str = scope["path"]
        if path == "/health":
            return self._health()
        # Raw names and values; as in a dict of the decoded ones, the last of a name wins.
        headers = scope["headers"]
        raw: dict[bytes, bytes] = dict(headers)
        if len(raw) != len(headers) and [n for n, _ in headers].count(b"host") > 1:
            # Two Host lines name two hosts: which one is meant is the client's secret (RFC 9112
            # §3.2: answer 400), and a proxy in front may have read the other one.
            self.metrics.count("BadRequest")
            return _plain(400, b"Bad Request", _TEXT)
        if self._origin_secrets and not self._origin_ok(raw):
            self.metrics.count("OriginRejected")
            return _plain(403, b"Forbidden", _TEXT)
        client = scope.get("client")
        peer = client[0] if client else None
        trusted = self.settings.trusted_proxy_count
        if trusted > 0:
            # Every X-Forwarded-For line, in order, as one list (RFC 9110 §5.3): a second
            # line must not replace the first.
            forwarded = b",".join([v for n, v in scope["headers"] if n == b"x-forwarded-for"])
            ip = forwarded_ip(forwarded.decode("latin-1") if forwarded else None, peer, trusted)
        else:
            ip = peer or ""
        now = self._clock()
        if self.rate_limiter.enabled:
            # IPv4 per address; IPv6 per /64 (one subscriber's allocation).
            wait = self.rate_limiter.check(ip if ":" not in ip else rate_key(ip), now)
            if wait > 0:
                self.metrics.count("RateLimited")
                retry = self.rate_limiter.retry_after(wait).encode()
                return _plain(429, b"Too Many Requests", _TEXT, (b"retry-after", retry))
        method: str = scope["method"]
        if path == "/robots.txt":
            return _plain(200, _ROBOTS, _TEXT)
        if path == "/disabled":
            return _plain(200, _DISABLED_PAGE, b"text/html; charset=utf-8")
        if method != "GET" and method != "HEAD":
            return _plain(405, b"Method Not Allowed", _TEXT, (b"allow", b"GET, HEAD"))
        if path in PATH_ATTRIBUTES:  # an app-link file, not a slug
            host = raw.get(b"host")
            return self._app_link_file(host.decode("latin-1") if host else "", path, method)
        redirector = self.redirector
        if redirector is None:
            logger.error("request before startup completed; is the lifespan on?")
            return _redirect_response(self.settings.default_fallback_url)
        answer = redirector.redirect(
            method,
            raw.get(b"host", b""),
            path,
            scope["query_string"].decode("latin-1"),
            raw,
            ip,
            started,
            now,
        )
        if answer is None:  # a reserved name
            return _plain(404, b"Not Found", _TEXT)
        return answer

    async def _app_link_file(self, host: str, path: str, method: str) -> Response:
        """The domain's app-link file at ``path``, from its app-links record (cached like link
        records): 200 JSON, 404 when the domain has none, 503 when it could not be read."""
        store = self.app_links
        if store is None:
            return _plain(503, b"Service Unavailable", _TEXT, (b"retry-after", b"5"))
        lookup = await store.record(canonical_host(host))
        if lookup.source == "error":
            # Not "no such file": a 404 would tell Apple's CDN and Android the domain has none.
            self.metrics.count("AppLinks.error")
            return _plain(503, b"Service Unavailable", _TEXT, (b"retry-after", b"30"))
        document = lookup.link.document(path) if lookup.link is not None else None
        if document is None:
            self.metrics.count("AppLinks.missing")
            return _plain(404, _NOT_FOUND, _TEXT)
        self.metrics.count("AppLinks.served")
        body = document.encode("utf-8")
        return (
            200,
            [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", APP_LINKS_CACHE_CONTROL),
                (b"x-content-type-options", b"nosniff"),
            ],
            b"" if method == "HEAD" else body,
        )

    def _origin_ok(self, headers: dict[bytes, bytes]) -> bool:
        presented = headers.get(self._origin_header, b"")
        ok = False
        for secret in self._origin_secrets:
            ok |= hmac.compare_digest(presented, secret)
        return ok

    def _health(self) -> Response:
        body = {
            "status": "ok",
            "version": __version__,
            "events_held": self.emitter.held if self.emitter is not None else 0,
            "region": self.settings.aws_region,
            "store": self.probe.state() if self.probe is not None else {},
        }
        return _plain(200, json.dumps(body).encode(), b"application/json")


#: A random byte with a UUID's version (4) in its high nibble (byte 6 of 16), and with its
#: variant (10xx) in its top bits (byte 8), as ``uuid.uuid4()`` sets them: tables for
#: ``bytes.translate``.
_VERSION_4: Final = bytes(b & 0x0F | 0x40 for b in range(256))
_VARIANT_10: Final = bytes(b & 0x3F | 0x80 for b in range(256))
#: Click ids made from one ``os.urandom`` call.
_IDS_PER_DRAW: Final = 256
#: Click ids drawn and not handed out yet, the next one last.
_ids: list[str] = []


def _forget_drawn_ids() -> None:
    # A forked worker must never hand out the ids its parent drew.
    _ids.clear()


os.register_at_fork(after_in_child=_forget_drawn_ids)


def new_click_id() -> str:
    """A random (version 4) UUID as a string, as ``str(uuid.uuid4())`` writes it: 122 bits
    from ``os.urandom`` (the operating system's CSPRNG; never the ``random`` module), drawn
    for :data:`_IDS_PER_DRAW` ids at a time (one ``getrandom`` system call costs about as
    much CPU as the rest of a click id; a forked child draws its own), their version and
    variant bits set and their hex digits written for all of them at once."""
    if not _ids:
        data = bytearray(os.urandom(16 * _IDS_PER_DRAW))
        data[6::16] = data[6::16].translate(_VERSION_4)
        data[8::16] = data[8::16].translate(_VARIANT_10)
        h = data.hex()
        _ids.extend(
            [
                f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
                f"{h[i + 20 : i + 32]}"
                for i in range(len(h) - 32, -1, -32)
            ]
        )
    return _ids.pop()


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    click_ids: Callable[[], str] | None = None,
    backends: Backends | None = None,
    event_sink: EventSink | None = None,
    metrics_stream: TextIO | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    configure_logs: bool = False,
) -> RuntimeApp:
    """Build the runtime for ``settings``.

    ``clock`` (Unix seconds) and ``click_ids`` make redirects reproducible in tests;
    ``backends`` replaces the AWS clients (fakes in tests); ``event_sink`` replaces where
    click events go; ``sleep`` is the emitter's backoff sleep.
    """
    if configure_logs:
        configure_logging(settings.log_level)
    return RuntimeApp(
        settings,
        clock=clock,
        click_ids=click_ids or new_click_id,
        backends=backends,
        event_sink=event_sink,
        metrics_stream=metrics_stream,
        sleep=sleep,
    )

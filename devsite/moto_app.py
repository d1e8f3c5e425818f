"""moto's server application (what ``python -m moto.server`` serves), for a WSGI server.

The local stack serves it with gunicorn (one process, so one in-memory state; threads; HTTP
keep-alive) instead of moto's own development server, which closes the connection after every
request and answered about a third fewer requests per second here (benchmarks/README.md).
Real DynamoDB keeps connections alive too, so latencies measured locally are closer to it.

DynamoDB requests (``X-Amz-Target: DynamoDB_20120810.*``), the bulk of the local traffic, go
straight to moto's DynamoDB application: moto's dispatcher works out the service of every
request from its headers and scans its list of service modules each time, which cost about a
fifth of a conditional ``PutItem`` (raw puts went from ~235 to ~300 a second). The dispatcher
gives those requests that same application (it keeps one per service); everything else goes
through it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_DYNAMODB_TARGET = "DynamoDB_20120810."

dispatcher = DomainDispatcherApplication(create_backend_app)
_dynamodb: Any = None


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    global _dynamodb
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith(_DYNAMODB_TARGET):
        if _dynamodb is None:
            _dynamodb = dispatcher.get_application(environ)
        result: Iterable[bytes] = _dynamodb(environ, start_response)
        return result
    dispatched: Iterable[bytes] = dispatcher(environ, start_response)
    return dispatched

"""boto3 access for the control plane: one place that builds clients, so every caller gets
the same region, timeouts and retry mode, and ``AWS_ENDPOINT_URL`` (moto server locally)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from .conf import app_settings

__all__ = [
    "TRANSIENT_ERROR_CODES",
    "UNREACHABLE_ERROR_CODES",
    "cloudwatch_client",
    "dynamodb_client",
    "is_transient",
    "is_unreachable",
    "runtime_table",
    "secondary_runtime_table",
]

#: DynamoDB error codes worth retrying: capacity, throttling and service-side trouble.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Whether a publish that raised ``exc`` may succeed if simply tried again later."""
    if isinstance(
        exc,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    ):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in TRANSIENT_ERROR_CODES
    return False


#: Errors that say a replica cannot be reached at all (no answer, or DynamoDB's own "service
#: unavailable"): the only ones for which a write may go to the secondary replica. Throttling
#: and capacity errors are not an outage; the outbox retries them as before.
UNREACHABLE_ERROR_CODES = frozenset(
    {"InternalServerError", "InternalFailure", "ServiceUnavailable"}
)


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the replica could not be reached (see ``PUBLISH_TO_SECONDARY``)."""
    if isinstance(
        exc,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    ):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in UNREACHABLE_ERROR_CODES
    return False


def _config(region: str | None = None) -> Config:
    return Config(
        region_name=region or app_settings.AWS_REGION,
        connect_timeout=app_settings.AWS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=app_settings.AWS_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=max(10, app_settings.BULK_PUBLISH_CONCURRENCY * 2),
    )


def _endpoint() -> str | None:
    # boto3 reads AWS_ENDPOINT_URL itself; passing it explicitly keeps behaviour the same on
    # older botocore releases that predate that support.
    return os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")


# Building a session and a client loads botocore's service models: tens of milliseconds of
# CPU, which a publish task must not pay on every run. Clients and resources are cached per
# thread (boto3 resources are not thread-safe) and per configuration, so a changed setting,
# endpoint or credential gets a new one.
_cache = threading.local()


def _cached(
    kind: str,
    service: str,
    build: Callable[[], Any],
    *,
    region: str | None = None,
    endpoint: str | None = None,
) -> Any:
    key = (
        kind,
        service,
        region or app_settings.AWS_REGION,
        app_settings.AWS_CONNECT_TIMEOUT_SECONDS,
        app_settings.AWS_READ_TIMEOUT_SECONDS,
        app_settings.BULK_PUBLISH_CONCURRENCY,
        endpoint
        or os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
        or os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_PROFILE"),
    )
    objects: dict[tuple[Any, ...], Any] = _cache.__dict__.setdefault("objects", {})
    if key not in objects:
        objects[key] = build()
    return objects[key]


def _replica(secondary: bool) -> tuple[str | None, str | None]:
    """Region and endpoint of the primary replica (``None, None``: the defaults) or of the
    secondary one (``SECONDARY_REGION``, ``SECONDARY_DYNAMODB_ENDPOINT_URL`` or, empty, the
    standard endpoint variables)."""
    if not secondary:
        return None, _endpoint()
    return (
        app_settings.SECONDARY_REGION,
        app_settings.SECONDARY_DYNAMODB_ENDPOINT_URL or _endpoint(),
    )


def dynamodb_client(*, secondary: bool = False) -> Any:
    """A DynamoDB client on the primary replica's region, or the secondary's."""
    region, endpoint = _replica(secondary)
    return _cached(
        "client",
        "dynamodb",
        lambda: boto3.session.Session().client(
            "dynamodb", config=_config(region), endpoint_url=endpoint
        ),
        region=region,
        endpoint=endpoint,
    )


def runtime_table(table_name: str | None = None, *, secondary: bool = False) -> Any:
    """The runtime table as a boto3 resource ``Table``: its primary replica, or the one in
    ``SECONDARY_REGION`` (the global table's other replica)."""
    region, endpoint = _replica(secondary)
    resource = _cached(
        "resource",
        "dynamodb",
        lambda: boto3.session.Session().resource(
            "dynamodb", config=_config(region), endpoint_url=endpoint
        ),
        region=region,
        endpoint=endpoint,
    )
    return resource.Table(table_name or app_settings.RUNTIME_TABLE_NAME)


def secondary_runtime_table(table_name: str | None = None) -> Any:
    """The secondary replica's ``Table``, or ``None`` when ``SECONDARY_REGION`` is empty."""
    if not app_settings.SECONDARY_REGION:
        return None
    return runtime_table(table_name, secondary=True)


def cloudwatch_client() -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH") or os.environ.get("AWS_ENDPOINT_URL")
    return _cached(
        "client",
        "cloudwatch",
        lambda: boto3.session.Session().client(
            "cloudwatch", config=_config(), endpoint_url=endpoint
        ),
    )


def service_client(service: str, *, secondary: bool = False) -> Any:
    """A cached boto3 client for ``service`` (``"s3"``, ``"sqs"``) in ``AWS_REGION``, or in
    ``SECONDARY_REGION`` (``secondary=True``), on the standard ``AWS_ENDPOINT_URL_<SERVICE>``
    / ``AWS_ENDPOINT_URL`` endpoint."""
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get(
        "AWS_ENDPOINT_URL"
    )
    region = app_settings.SECONDARY_REGION if secondary else None
    return _cached(
        "client",
        service,
        lambda: boto3.session.Session().client(
            service, config=_config(region), endpoint_url=endpoint
        ),
        region=region,
    )

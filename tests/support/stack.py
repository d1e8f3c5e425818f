"""The local AWS stack for end-to-end tests and benchmarks: a moto server, the runtime table,
a Firehose stream delivering to S3, and the runtime as a real uvicorn process.

Plain functions (no pytest), so ``tests/e2e/conftest.py`` and ``benchmarks/`` share them, and
the control plane's e2e test can publish into the same table and follow links the same way.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from devsite.processes import (
    ManagedProcess,
    free_port,
    local_aws_env,
    runtime_command,
    start_process,
    wait_for_http,
)
from link_tracking_runtime import RuntimeRecord, create_table_kwargs, to_item
from link_tracking_runtime.events import ClickEvent, decode_event

__all__ = [
    "LocalAws",
    "RuntimeProcess",
    "runtime_env",
    "start_runtime",
]


class LocalAws:
    """boto3 clients on a moto server endpoint, and the resources a test creates there."""

    def __init__(self, endpoint_url: str, region: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.env = local_aws_env(endpoint_url)
        if region is not None:  # one "region" of a two-region test (its own moto server)
            self.env.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
        kwargs = {
            "endpoint_url": endpoint_url,
            "region_name": self.env["AWS_REGION"],
            "aws_access_key_id": self.env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.env["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": self.env["AWS_SESSION_TOKEN"],
        }
        self.dynamodb = boto3.resource("dynamodb", **kwargs)
        self.firehose = boto3.client("firehose", **kwargs)
        self.s3 = boto3.client("s3", **kwargs)
        self.secretsmanager = boto3.client("secretsmanager", **kwargs)

    def create_table(self, name: str | None = None) -> Any:
        """A fresh runtime table (contract key schema and GSI); the boto3 Table."""
        kwargs = create_table_kwargs(name or f"link-runtime-{uuid.uuid4().hex[:8]}")
        table = self.dynamodb.create_table(**kwargs)
        table.wait_until_exists()
        return table

    @staticmethod
    def publish(table: Any, records: Sequence[RuntimeRecord]) -> None:
        with table.batch_writer() as batch:
            for record in records:
                batch.put_item(Item=to_item(record))

    def create_stream(self, name: str | None = None) -> tuple[str, str]:
        """A Firehose stream delivering to a fresh S3 bucket: (stream name, bucket name)."""
        suffix = uuid.uuid4().hex[:8]
        bucket = f"click-events-{suffix}"
        stream = name or f"link-click-events-{suffix}"
        self.s3.create_bucket(Bucket=bucket)
        self.firehose.create_delivery_stream(
            DeliveryStreamName=stream,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": "clicks/",
            },
        )
        return stream, bucket

    def delivered_events(self, bucket: str) -> list[ClickEvent]:
        """Every click event Firehose delivered to ``bucket`` (NDJSON objects)."""
        events: list[ClickEvent] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                body = self.s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
                events += [decode_event(line) for line in body.splitlines() if line.strip()]
        return events

    def create_keyring_secret(self, name: str, keyring: Mapping[str, Any]) -> str:
        self.secretsmanager.create_secret(Name=name, SecretString=json.dumps(keyring))
        return name


def runtime_env(
    aws: LocalAws,
    *,
    table_name: str,
    stream_name: str = "",
    var_dir: Path,
    fallback_url: str = "https://www.example.com/link-unavailable",
    **overrides: str,
) -> dict[str, str]:
    """The environment of a local runtime process on ``aws`` (production-like checks on)."""
    return {
        **aws.env,
        "ENVIRONMENT": "development",
        "DYNAMODB_TABLE_NAME": table_name,
        "FIREHOSE_STREAM_NAME": stream_name,
        "DEFAULT_FALLBACK_URL": fallback_url,
        "IP_HASH_KEY": "e2e-ip-hash-key-0123456789",
        "CLICK_EVENTS_FILE": str(var_dir / "click-events.ndjson"),
        "EVENT_JOURNAL_DIR": str(var_dir / "journal"),
        "EVENT_FLUSH_INTERVAL_SECONDS": "0.2",
        "METRICS_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        **overrides,
    }


class RuntimeProcess:
    def __init__(self, process: ManagedProcess, base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def stop(self) -> int | None:
        return self.process.stop()

    def output(self) -> str:
        return self.process.output()


@contextlib.contextmanager
def start_runtime(
    env: Mapping[str, str],
    log_path: Path,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    app: str = "runtime_service.asgi:app",
) -> Iterator[RuntimeProcess]:
    """``uvicorn runtime_service.asgi:app`` on 127.0.0.1 (``runtime_command``: no access log),
    stopped (SIGTERM) on exit."""
    port = port or free_port()
    process = start_process(
        runtime_command("127.0.0.1", port, app=app, extra_args=extra_args),
        env=env,
        log_path=log_path,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/health", timeout=30, proc=process.popen)
        yield RuntimeProcess(process, base_url)
    finally:
        process.stop()

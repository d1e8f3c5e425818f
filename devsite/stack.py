"""The local stack on embedded defaults: ``python -m devsite.stack`` (``make dev``).

Starts a moto server on 127.0.0.1 (DynamoDB, Firehose, S3, Secrets Manager), migrates the
SQLite database, runs ``setup_dynamodb``, creates a demo domain, campaign and link through the
service layer, starts a real Celery worker (filesystem broker: no server) that publishes it,
and prints the record the runtime will read. No AWS account, no Docker.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from .processes import (
    ManagedProcess,
    free_port,
    local_aws_env,
    moto_server,
    runtime_command,
    start_process,
    wait_for_http,
)

ROOT = Path(__file__).resolve().parent.parent
TABLE_NAME = "link-runtime-local"
DEFAULT_FALLBACK_URL = "https://www.example.com/link-unavailable"


class LocalStack:
    """The processes and commands of one local stack, sharing one environment."""

    def __init__(
        self, var_dir: Path, endpoint_url: str, extra_env: Mapping[str, str] | None = None
    ):
        self.var_dir = var_dir
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.endpoint_url = endpoint_url
        self.env = {
            **local_aws_env(endpoint_url),
            "LINK_TRACKING_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "devsite.settings",
            "LINK_RUNTIME_TABLE_NAME": TABLE_NAME,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.processes: list[ManagedProcess] = []
        self._own_database: str | None = None
        database_url = self.env.get("DATABASE_URL") or os.environ.get("DATABASE_URL", "")
        if database_url.startswith(("postgres://", "postgresql://")):
            # Every stack gets a database of its own, so stacks (and tests) never share rows.
            self._own_database = f"lt_stack_{os.getpid()}_{id(self):x}"
            _postgres_admin(database_url, f'CREATE DATABASE "{self._own_database}"')
            self.env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + self._own_database
            self._admin_url = database_url

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env={**os.environ, **self.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def start(
        self, name: str, args: Sequence[str], env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        proc = start_process(args, {**self.env, **(env or {})}, self.var_dir / f"{name}.log")
        self.processes.append(proc)
        return proc

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> ManagedProcess:
        return self.start(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "devsite",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}@%h",
            ],
        )

    def runtime_env(self, fallback_url: str = DEFAULT_FALLBACK_URL) -> dict[str, str]:
        """The runtime's settings on the local defaults: the stack's table, click events to an
        NDJSON file (no Firehose stream), development keys."""
        return {
            "ENVIRONMENT": "development",
            "DYNAMODB_TABLE_NAME": self.env["LINK_RUNTIME_TABLE_NAME"],
            "DEFAULT_FALLBACK_URL": fallback_url,
            "CLICK_EVENTS_FILE": str(self.var_dir / "click-events.ndjson"),
            "EVENT_JOURNAL_DIR": str(self.var_dir / "journal"),
            "LOG_LEVEL": "INFO",
        }

    def start_runtime(self, port: int) -> ManagedProcess:
        """The runtime on 127.0.0.1:``port`` (uvicorn), once it answers /health."""
        proc = self.start("runtime", runtime_command("127.0.0.1", port), env=self.runtime_env())
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc.popen)
        return proc

    def table(self) -> Any:
        return boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).Table(self.env["LINK_RUNTIME_TABLE_NAME"])

    def wait_for_item(
        self, key: Mapping[str, str], min_version: int = 1, timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        table = self.table()
        while True:
            item = table.get_item(Key=dict(key), ConsistentRead=True).get("Item")
            if item and int(item.get("runtime_version", 0)) >= min_version:
                return item
            if time.monotonic() > deadline:
                logs = "\n".join(p.output()[-3000:] for p in self.processes)
                raise TimeoutError(
                    f"{key} v{min_version} was not published in {timeout:.0f}s\n{logs}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()
        if self._own_database:
            _postgres_admin(
                self._admin_url, f'DROP DATABASE IF EXISTS "{self._own_database}" WITH (FORCE)'
            )
            self._own_database = None


def _postgres_admin(database_url: str, statement: str) -> None:
    """Run one statement on the server's maintenance database (outside a transaction)."""
    import psycopg

    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def _print_record(item: Mapping[str, Any]) -> None:
    from link_tracking_runtime import plain

    print(json.dumps(plain(dict(item)), indent=2, sort_keys=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsite.stack", description=__doc__)
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "dev"), help="State of the stack.")
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "5000")))
    parser.add_argument(
        "--runtime-port", type=int, default=int(os.environ.get("RUNTIME_PORT", "8080"))
    )
    parser.add_argument("--once", action="store_true", help="Exit after printing the record.")
    args = parser.parse_args(argv)

    port = args.moto_port if args.moto_port and _port_free(args.moto_port) else free_port()
    var_dir = Path(args.var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    with moto_server(port, log_path=var_dir / "moto.log") as endpoint:
        stack = LocalStack(var_dir, endpoint)
        try:
            print(f"moto server (DynamoDB, Firehose, S3, Secrets Manager): {endpoint}")
            stack.manage("migrate", "--no-input", "-v", "0")
            print(stack.manage("setup_dynamodb").stdout.strip())
            stack.start_worker()
            print("Celery worker started (filesystem broker, no server needed).")
            demo = json.loads(stack.manage("seed_demo").stdout.strip().splitlines()[-1])
            print(f"Demo link {demo['domain']}/{demo['slug']} (id {demo['link_id']}): publishing…")
            from link_tracking_runtime import item_key

            item = stack.wait_for_item(item_key(demo["domain"], demo["slug"]))
            print("Runtime record in DynamoDB, as the runtime will read it:")
            _print_record(item)

            runtime_port = args.runtime_port if _port_free(args.runtime_port) else free_port()
            stack.start_runtime(runtime_port)
            short_url = f"http://{demo['domain']}:{runtime_port}/{demo['slug']}?sms_msg_id=42"
            print(f"\nRuntime (uvicorn runtime_service.asgi:app) on 127.0.0.1:{runtime_port}.")
            print(f"Short URL of the demo link: {short_url}")
            print(f"  curl -i '{short_url}'")
            status, location = _follow_once(short_url)
            print(f"  -> {status} Location: {location}")
            print(f"Click events (NDJSON): {stack.var_dir / 'click-events.ndjson'}")
            if args.once:
                return 0 if status == 302 else 1
            stack.start(
                "beat",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "devsite",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(var_dir / "celerybeat-schedule"),
                ],
            )
            print(
                "Celery beat started: click events are counted every 30 s "
                "(python manage.py ingest_click_events --source "
                f"{stack.var_dir / 'click-events.ndjson'} to count them now)."
            )
            print("\nRunning. Logs in", var_dir, "- press Ctrl-C to stop.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            stack.stop()


def _follow_once(url: str) -> tuple[int, str]:
    """GET ``url`` without following the redirect: (status, Location)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        return response.status, response.getheader("location") or ""
    finally:
        connection.close()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())

"""The local stack on embedded defaults: ``python -m devsite.stack`` (``make dev``).

Starts a moto server on 127.0.0.1 (DynamoDB, Firehose, S3, Secrets Manager), migrates the
SQLite database, runs ``setup_dynamodb``, starts a real Celery worker (filesystem broker: no
server), republishes every link the fresh emulator lacks, creates a demo domain, campaign and
link through the service layer, and serves the runtime and the control plane (admin, REST API,
the interactive API page). No AWS account, no Docker.

It runs again and again: the database under the state folder survives a stop and the
emulator's state does not, so each start republishes; processes left by a run that was killed
outright are stopped first; a port in use is reported and another is chosen; SIGINT, SIGTERM or
SIGHUP stop every process it started, and so does its own death (Linux).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from .processes import (
    LOCAL_AWS_ENV,
    ManagedProcess,
    free_port,
    local_aws_env,
    moto_server_command,
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
        self,
        var_dir: Path,
        endpoint_url: str,
        extra_env: Mapping[str, str] | None = None,
        *,
        own_database: bool = True,
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
        if own_database and database_url.startswith(("postgres://", "postgresql://")):
            # Every test stack gets a database of its own, so tests never share rows; the dev
            # stack (own_database=False) uses the DATABASE_URL it is given, as manage.py does.
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
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        die_with_parent: bool = False,
    ) -> ManagedProcess:
        proc = start_process(
            args,
            {**self.env, **(env or {})},
            self.var_dir / f"{name}.log",
            die_with_parent=die_with_parent,
        )
        proc.name = name
        self.processes.append(proc)
        return proc

    @staticmethod
    def celery_command(*args: str) -> list[str]:
        """``celery -A devsite …`` with the stack's interpreter, logging at INFO."""
        return [sys.executable, "-m", "celery", "-A", "devsite", *args, "--loglevel", "INFO"]

    @classmethod
    def worker_command(cls, name: str = "worker", concurrency: int = 2) -> list[str]:
        """A Celery worker of the devsite on the stack's broker."""
        return cls.celery_command(
            "worker", "--concurrency", str(concurrency), "--hostname", f"{name}@%h"
        )

    def beat_command(self) -> list[str]:
        """Celery beat of the devsite: the outbox sweepers, click ingestion, webhooks."""
        return self.celery_command("beat", "--schedule", str(self.var_dir / "celerybeat-schedule"))

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> ManagedProcess:
        return self.start(name, self.worker_command(name, concurrency))

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
            item: dict[str, Any] | None = table.get_item(Key=dict(key), ConsistentRead=True).get(
                "Item"
            )
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
        connection.execute(statement)


class StackStopped(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP, as KeyboardInterrupt is by SIGINT, so
    the same clean-up runs whichever way the stack is asked to stop."""


class StackError(Exception):
    """A failure the stack reports in one line (no traceback), with what to do."""


def _raise_stopped(signum: int, frame: object) -> None:
    raise StackStopped(signal.Signals(signum).name)


# --- processes left by an earlier run ------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _group_members(pgid: int, not_before: int) -> list[int]:
    """Live processes in process group ``pgid`` started no earlier than ``not_before``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and int(fields[19]) >= not_before:
            members.append(int(entry.name))
    return members


class PidFile:
    """``stack.pids`` in the state folder: the stack and each process it started (pid and
    start time, so a recycled pid is never mistaken for ours)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        try:
            entries: list[dict[str, Any]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return entries

    def add(self, name: str, pid: int) -> None:
        entries = self.read()
        entries.append({"name": name, "pid": pid, "started": _start_time(pid)})
        self.path.write_text(json.dumps(entries))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def running_stack(self) -> int | None:
        """The pid of another stack still running on this state folder, if any."""
        for entry in self.read():
            if entry["name"] == "stack" and entry["pid"] != os.getpid():
                if entry["started"] is not None and _start_time(entry["pid"]) == entry["started"]:
                    return int(entry["pid"])
        return None

    def stop_leftovers(self) -> list[str]:
        """Stop what an earlier run that died without cleaning up left running."""
        stopped = []
        for entry in self.read():
            if entry["name"] == "stack" or entry["started"] is None:
                continue
            members = _group_members(entry["pid"], entry["started"])
            if not members:
                continue
            for signum in (signal.SIGTERM, signal.SIGKILL):
                for pid in members:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signum)
                deadline = time.monotonic() + 5
                while members and time.monotonic() < deadline:
                    time.sleep(0.1)
                    members = _group_members(entry["pid"], entry["started"])
                if not members:
                    break
            stopped.append(f"{entry['name']} (pid {entry['pid']})")
        self.remove()
        return stopped


# --- the stack's own start-up --------------------------------------------------------------


def _choose_port(wanted: int, what: str) -> int:
    if _port_free(wanted):
        return wanted
    port = free_port()
    print(f"Port {wanted} is in use: {what} takes port {port} instead.")
    return port


def _write_stack_env(stack: LocalStack) -> Path:
    """``stack.env``: what ``manage.py`` run beside the stack needs to reach the same emulator
    (it reads the file; the environment wins). Removed when the stack stops."""
    path = stack.var_dir / "stack.env"
    names = (*LOCAL_AWS_ENV, "AWS_ENDPOINT_URL", "LINK_RUNTIME_TABLE_NAME")
    path.write_text("".join(f"{name}={stack.env[name]}\n" for name in names))
    return path


def _json_line(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout.strip().splitlines()[-1])


def _manage(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    result = stack.manage(*args, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise StackError(f"manage.py {' '.join(args)} failed: {lines[-1]}")
    return result


def _http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` without following redirects: (status, headers, body)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def check_stack(short_url: str, destination: str, web_url: str) -> list[tuple[bool, str]]:
    """What a person would look at first, over HTTP: (ok, what was seen) for each check."""
    seen: list[tuple[bool, str]] = []

    def look(ok: bool, text: str) -> bool:
        seen.append((ok, text))
        return ok

    status, headers, _ = _http_get(short_url)
    location = headers.get("location", "")
    look(
        status == 302 and location.startswith(destination),
        f"short URL {short_url} -> {status} Location: {location or '(none)'}",
    )

    login = f"{web_url}/admin/login/"
    status, headers, body = _http_get(login)
    page = body.decode("utf-8", "replace")
    stylesheet = re.search(r'href="([^"]*admin/css/base\.css)"', page)
    if look(
        status == 200 and 'name="password"' in page and stylesheet is not None,
        f"admin login page {login} -> {status}",
    ):
        assert stylesheet is not None
        css_url = web_url + stylesheet.group(1)
        status, headers, body = _http_get(css_url)
        look(
            status == 200 and headers.get("content-type", "").startswith("text/css") and bool(body),
            f"admin stylesheet {css_url} -> {status} {headers.get('content-type', '')}",
        )

    # The schema and its page need a login, like the rest of the API: anonymous is refused.
    schema_url = f"{web_url}/api/link_tracking/schema/?format=json"
    status, headers, body = _http_get(schema_url)
    look(status in (401, 403), f"API schema {schema_url} -> {status} (needs a login)")

    docs_url = f"{web_url}/api/link_tracking/schema/swagger-ui/"
    status, headers, body = _http_get(docs_url)
    look(status in (401, 403), f"interactive API page {docs_url} -> {status} (needs a login)")
    bundle_url = f"{web_url}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    status, headers, body = _http_get(bundle_url)
    look(status == 200 and bool(body), f"API page script {bundle_url} -> {status}")
    return seen


def _watch(processes: Sequence[ManagedProcess]) -> ManagedProcess:
    """Wait until one of ``processes`` exits, and return it (signals interrupt the wait)."""
    while True:
        for proc in processes:
            if proc.popen.poll() is not None:
                return proc
        time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    var_dir = Path(args.var_dir).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    pids = PidFile(var_dir / "stack.pids")
    other = pids.running_stack()
    if other:
        raise StackError(
            f"another stack (pid {other}) is running on {var_dir}: stop it first (Ctrl-C in its "
            f"terminal, or kill {other}), or give this one its own --var-dir"
        )
    left = pids.stop_leftovers()
    if left:
        print(f"Stopped what an earlier run left running: {', '.join(left)}.")
    pids.add("stack", os.getpid())

    moto_port = _choose_port(args.moto_port, "the moto server")
    endpoint = f"http://127.0.0.1:{moto_port}"
    stack = LocalStack(var_dir, endpoint, own_database=False)
    stack_env = _write_stack_env(stack)

    def start(name: str, command: Sequence[str], env: Mapping[str, str] | None = None) -> Any:
        proc = stack.start(name, command, env, die_with_parent=True)
        pids.add(name, proc.pid)
        return proc

    try:
        # The emulator gets dummy credentials but no AWS_ENDPOINT_URL: it is the endpoint.
        moto = start_process(
            moto_server_command("127.0.0.1", moto_port),
            {**LOCAL_AWS_ENV, "MOTO_PORT": str(moto_port)},
            var_dir / "moto.log",
            die_with_parent=True,
        )
        moto.name = "moto server"
        stack.processes.insert(0, moto)
        pids.add(moto.name, moto.pid)
        wait_for_http(f"{endpoint}/moto-api/", timeout=60, proc=moto.popen)
        print(f"moto server (DynamoDB, Firehose, S3, Secrets Manager): {endpoint}")
        _manage(stack, "migrate", "--no-input", "-v", "0")
        print(_manage(stack, "setup_dynamodb").stdout.strip())
        _manage(stack, "collectstatic", "--no-input", "-v", "0")
        worker = start("worker", stack.worker_command())
        print("Celery worker started (filesystem broker, no server needed).")
        beat = start("beat", stack.beat_command())
        print(
            "Celery beat started: click events are counted every 30 s (python manage.py "
            f"ingest_click_events --source {var_dir / 'click-events.ndjson'} counts them now)."
        )

        # The database outlives the emulator: put back every link the fresh table lacks.
        report = _json_line(_manage(stack, "reconcile_runtime", "--fix", "--json"))
        if report["fixed"]:
            print(f"Republishing {report['fixed']} link(s) into the fresh emulator.")
        demo = _json_line(_manage(stack, "seed_demo"))
        operator = _json_line(_manage(stack, "demo_operator"))
        print(f"Demo link {demo['domain']}/{demo['slug']} (id {demo['link_id']}): publishing…")
        from link_tracking_runtime import item_key

        item = stack.wait_for_item(
            item_key(demo["domain"], demo["slug"]), min_version=demo["runtime_version"]
        )
        print("Runtime record in DynamoDB, as the runtime will read it:")
        _print_record(item)

        runtime_port = _choose_port(args.runtime_port, "the runtime")
        runtime = start("runtime", runtime_command("127.0.0.1", runtime_port), stack.runtime_env())
        wait_for_http(f"http://127.0.0.1:{runtime_port}/health", timeout=60, proc=runtime.popen)
        web_port = _choose_port(args.web_port, "the control plane")
        web = start("web", web_command("127.0.0.1", web_port))
        web_url = f"http://127.0.0.1:{web_port}"
        wait_for_http(f"{web_url}/admin/login/", timeout=60, proc=web.popen)

        short_url = f"http://{demo['domain']}:{runtime_port}/{demo['slug']}?sms_msg_id=42"
        print(f"\nRuntime (uvicorn runtime_service.asgi:app) on 127.0.0.1:{runtime_port}.")
        print(f"Short URL of the demo link: {short_url}")
        print(f"  curl -i '{short_url}'")
        print(f"Control plane (gunicorn devsite.wsgi) on 127.0.0.1:{web_port}:")
        print(f"  admin                 {web_url}/admin/")
        print(f"  REST API              {web_url}/api/link_tracking/")
        print(f"  interactive API page  {web_url}/api/link_tracking/schema/swagger-ui/")
        print(f"  OpenAPI schema        {web_url}/api/link_tracking/schema/")
        if operator["password"]:
            print(f"  log in as {operator['username']!r} with password {operator['password']!r}")
            print(
                "  (shown this once; reset it with: .venv/bin/python manage.py changepassword demo)"
            )
        else:
            print(
                f"  log in as {operator['username']!r} (password shown when it was created; "
                "reset it with: .venv/bin/python manage.py changepassword demo)"
            )
        print(f"Click events (NDJSON): {stack.var_dir / 'click-events.ndjson'}")
        print(f"Logs: {var_dir}/*.log; manage.py beside the stack uses {stack_env.name} there.")

        destination = str(item.get("destination_url", ""))
        print("\nChecked over HTTP:")
        seen = check_stack(short_url, destination, web_url)
        for ok, text in seen:
            print(f"  {'ok    ' if ok else 'FAILED'} {text}")
        if not all(ok for ok, _ in seen):
            raise StackError("a check above failed; the logs are in " + str(var_dir))
        if args.once:
            return 0

        print("\nRunning. Press Ctrl-C to stop.")
        ended = _watch([moto, worker, beat, runtime, web])
        raise StackError(
            f"{ended.name} exited with status {ended.popen.returncode} (its log: "
            f"{ended.log_path}); the stack stopped. Run it again to start afresh."
        )
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
        stack_env.unlink(missing_ok=True)
        pids.remove()


def web_command(host: str, port: int) -> list[str]:
    """The control plane as production serves it: gunicorn, static files through WhiteNoise."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "devsite.wsgi",
        "--bind",
        f"{host}:{port}",
        "--workers",
        "2",
        "--log-level",
        "warning",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsite.stack", description=__doc__)
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "dev"), help="State of the stack.")
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "5000")))
    parser.add_argument(
        "--runtime-port", type=int, default=int(os.environ.get("RUNTIME_PORT", "8080"))
    )
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
    parser.add_argument(
        "--once", action="store_true", help="Check the stack over HTTP, print it, and exit."
    )
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stopped)
    try:
        return run(args)
    except (KeyboardInterrupt, StackStopped):
        print("\nStopped.")
        return 0
    except (StackError, TimeoutError, RuntimeError, subprocess.TimeoutExpired) as error:
        # One line: what failed and where its logs are (a timeout's message carries the logs).
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        print(f"\nmake dev: {first_line} (logs: {args.var_dir})", file=sys.stderr)
        return 1


def _print_record(item: Mapping[str, Any]) -> None:
    from link_tracking_runtime import plain

    print(json.dumps(plain(dict(item)), indent=2, sort_keys=True))


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        # As the servers bind: a port whose last connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())

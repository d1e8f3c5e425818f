"""Start and stop the real processes of the local stack: the moto server (DynamoDB, Firehose,
S3, Secrets Manager on 127.0.0.1), a Celery worker, the runtime.

Used by the dev stack (``make dev``), the end-to-end tests and the benchmarks, so all three
run the same processes the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = [
    "ManagedProcess",
    "free_port",
    "local_aws_env",
    "moto_server",
    "moto_server_command",
    "runtime_command",
    "start_process",
    "wait_for_http",
]

#: Credentials and region for the local moto server. Never real ones.
LOCAL_AWS_ENV: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def local_aws_env(endpoint_url: str) -> dict[str, str]:
    """Environment variables that point boto3 (and our code) at a local endpoint."""
    return {**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": endpoint_url}


def wait_for_http(
    url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers (any HTTP status), the process dies, or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.1)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: have Linux send SIGTERM when the parent dies, even by
    SIGKILL, so a stack that is killed outright leaves nothing running (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """A child process in its own process group, stopped with SIGTERM (then SIGKILL).

    ``die_with_parent``: the child gets SIGTERM when the process that started it dies (Linux).
    Only for processes started from the main thread: the signal is tied to the thread that
    forked, and fires when that thread ends.

    :meth:`stop` sends SIGTERM to the process itself, not its group: a Celery worker or a
    gunicorn master shuts its own children down in order, and a SIGTERM that reached the
    children too left the Celery main process waiting for pool processes that were already
    gone (a 15 s stall per worker). What is left of the group afterwards is SIGKILLed."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path | None,
        *,
        die_with_parent: bool = False,
    ) -> None:
        self.args = list(args)
        self.name = Path(self.args[0]).name if self.args else "process"
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.popen = subprocess.Popen(
            self.args,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        self.signal(signal.SIGKILL)  # whatever of the group outlived its leader
        if not isinstance(self._log, int):  # a file we opened, not subprocess.DEVNULL
            self._log.close()
        return self.popen.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def start_process(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    *,
    die_with_parent: bool = False,
) -> ManagedProcess:
    return ManagedProcess(args, env or {}, log_path, die_with_parent=die_with_parent)


def moto_server_command(host: str, port: int, *, threads: int = 16) -> list[str]:
    """The moto server: moto's application under gunicorn, one process (one in-memory state),
    ``threads`` threads (16), HTTP keep-alive (see :mod:`devsite.moto_app`).

    moto does not serialise conditional writes to one item the way DynamoDB does (its check
    and write take no lock), so two puts served at once could in principle both pass their
    condition (rare under the GIL; not seen in practice). ``threads=1`` serves one request at a
    time, for tests of concurrent conditional writes that must not depend on that."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "devsite.moto_app:app",
        "--bind",
        f"{host}:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]


#: The runtime's HTTP protocol for uvicorn: an absolute-form request target is answered for its
#: own authority, not the Host line (RFC 9112 §3.2.2; see runtime_service/server.py).
RUNTIME_HTTP_PROTOCOL = "runtime_service.server:RuntimeHttpProtocol"


def runtime_command(
    host: str, port: int, *, app: str = "runtime_service.asgi:app", extra_args: Sequence[str] = ()
) -> list[str]:
    """The runtime as a development server: ``uvicorn runtime_service.asgi:app`` with the
    runtime's HTTP protocol, without
    uvicorn's access log, as production runs without gunicorn's: it would hold every visitor's
    IP and query string (``sms_msg_id``, signatures), which docs/PRIVACY.md keeps out of logs."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--http",
        RUNTIME_HTTP_PROTOCOL,
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        *extra_args,
    ]


@contextlib.contextmanager
def moto_server(
    port: int | None = None,
    log_path: Path | None = None,
    *,
    threads: int = 16,
    prefix: Sequence[str] = (),
) -> Iterator[str]:
    """Run the moto server on 127.0.0.1 (``threads``: see :func:`moto_server_command`) and
    yield its endpoint URL. ``prefix`` goes before the command (a benchmark pins moto to a
    core with ``taskset -c N``)."""
    port = port or free_port()
    proc = start_process(
        [*prefix, *moto_server_command("127.0.0.1", port, threads=threads)],
        env={**LOCAL_AWS_ENV, "MOTO_PORT": str(port)},
        log_path=log_path,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/moto-api/", timeout=60, proc=proc.popen)
        yield endpoint
    finally:
        proc.stop()

"""The runtime writes no access log wherever the project starts it.

Before: the dev stack's uvicorn (and `make runtime`, docker-compose, the documented development
command) wrote uvicorn's access log, every visitor's IP and query string (``sms_msg_id``)
included, which docs/PRIVACY.md keeps out of logs (production's gunicorn writes none).
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from devsite.processes import runtime_command

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = [
    "README.md",
    "docs/RUNTIME.md",
    "docs/INTEGRATION.md",
    "Makefile",
    "docker-compose.yml",
]


def _command_lines(name: str, pattern: str) -> list[str]:
    """The lines of the project's file ``name`` that ``pattern`` finds (at least one)."""
    commands = [line for line in (ROOT / name).read_text().splitlines() if re.search(pattern, line)]
    assert commands, name
    return commands


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_uvicorn_command_the_project_gives_turns_the_access_log_off(name: str) -> None:
    commands = _command_lines(name, r"\buvicorn runtime_service\.asgi:app\b")
    assert all("--no-access-log" in line for line in commands), commands
    # And with the runtime's HTTP protocol (an absolute-form target answered for its own host).
    assert all("--http runtime_service.server:RuntimeHttpProtocol" in line for line in commands), (
        commands
    )


@pytest.mark.parametrize("name", ["README.md", "docs/RUNTIME.md", "Dockerfile"])
def test_every_gunicorn_command_the_project_gives_uses_the_runtimes_worker(name: str) -> None:
    commands = _command_lines(name, r"\bgunicorn\b.*runtime_service\.asgi:app")
    assert all("-k runtime_service.server.RuntimeWorker" in line for line in commands), commands


@pytest.mark.e2e
def test_the_dev_stacks_runtime_logs_no_visitor(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path / "runtime.log").open("wb")
    process = subprocess.Popen(
        runtime_command("127.0.0.1", port),
        cwd=ROOT,
        env={
            # /health reads nothing: the endpoint can be a closed port.
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "ENVIRONMENT": "development",
            "PATH": "/usr/bin:/bin",
            "AWS_REGION": "us-east-1",
            "CLICK_EVENTS_FILE": str(tmp_path / "events.ndjson"),
            "EVENT_JOURNAL_DIR": str(tmp_path / "journal"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health?sms_msg_id=777000777", timeout=2
                ) as response:
                    assert response.status == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
    written = (tmp_path / "runtime.log").read_text()
    assert "runtime started" in written  # the runtime's own log is there
    assert "777000777" not in written and '"GET /health' not in written, written

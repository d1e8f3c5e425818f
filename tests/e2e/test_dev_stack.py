"""The README's run command, end to end, and what makes it run again and again.

``make dev`` is ``python -m devsite.stack``: moto server, migrate, setup_dynamodb, a real Celery
worker, the demo link created through the service layer and published by the worker, the
runtime redirecting over real HTTP, and the control plane (admin, API, interactive API page)
under gunicorn with its static files. Held here: it works the first time and again on the same
state; SIGINT and SIGTERM stop every process it started; a child killed with SIGKILL stops the
stack with a one-line reason; a stack killed outright takes its children with it; leftovers of
a crashed run are stopped by the next run; a second stack on the same state is refused.

The stack's own embedded defaults are under test, so these run on SQLite whatever
``DATABASE_URL`` the suite runs with.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from devsite.processes import free_port
from devsite.stack import ROOT, LocalStack, _group_members
from tests.support.drive import drive

pytestmark = pytest.mark.e2e


def stack_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stack_args(var_dir: Path, *extra: str) -> list[str]:
    """The stack on free ports (the defaults may be taken by a developer's own stack)."""
    return [
        sys.executable,
        "-m",
        "devsite.stack",
        "--var-dir",
        str(var_dir),
        "--moto-port",
        str(free_port()),
        "--runtime-port",
        str(free_port()),
        "--web-port",
        str(free_port()),
        *extra,
    ]


def run_once(var_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        stack_args(var_dir, "--once"),
        cwd=ROOT,
        env=stack_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def alive(entries: list[dict[str, object]]) -> list[str]:
    """The recorded processes (and their groups) that still have a live member."""
    return [
        str(entry["name"])
        for entry in entries
        if entry["name"] != "stack"
        and _group_members(int(str(entry["pid"])), int(str(entry["started"])))
    ]


def wait_until_gone(entries: list[dict[str, object]], limit: float = 30) -> list[str]:
    """Poll until no recorded process is alive (bounded; returns what is still alive)."""
    deadline = time.monotonic() + limit
    while (left := alive(entries)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


class RunningStack:
    """``make dev`` in the background, read line by line until it says it is running."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.popen = subprocess.Popen(
            stack_args(var_dir),
            cwd=ROOT,
            env=stack_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)
            if line.startswith("Running."):
                break
        else:
            raise AssertionError("".join(self.lines))
        self.entries: list[dict[str, object]] = json.loads((var_dir / "stack.pids").read_text())

    def pid_of(self, name: str) -> int:
        return next(int(str(e["pid"])) for e in self.entries if e["name"] == name)

    def finish(self) -> tuple[int, str]:
        out, _ = self.popen.communicate(timeout=120)
        return self.popen.returncode, "".join(self.lines) + out

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningStack]:
    stack = RunningStack(tmp_path / "dev")
    try:
        yield stack
    finally:
        stack.kill()
        for entry in stack.entries:  # never leave anything behind, whatever the test did
            for pid in _group_members(int(str(entry["pid"])), int(str(entry["started"] or 0))):
                os.kill(pid, signal.SIGKILL)


def test_make_dev_once_works_and_works_again(tmp_path: Path) -> None:
    var_dir = tmp_path / "dev"
    first = run_once(var_dir)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    record = json.loads(out[out.index("{") : out.index("\n}") + 2])
    assert (record["PK"], record["SK"], record["runtime_version"]) == (
        "DOMAIN#127.0.0.1",
        "SLUG#DEMO",
        1,
    )
    location = re.search(r"-> 302 Location: (\S+)", out)
    assert location, out
    url = urlsplit(location.group(1))
    params = dict(parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://www.example.com/spring-sale"
    assert params["sms_msg_id"] == "42"  # forwarded from the SMS link
    assert params["utm_campaign"] == "SPRING26" and params["utm_medium"] == "sms"
    for seen in ("admin login page", "admin stylesheet", "API schema", "interactive API page"):
        assert re.search(rf"^  ok +{seen} ", out, re.M), out
    assert "FAILED" not in out
    password = re.search(r"log in as 'demo' with password '([^']+)'", out)
    assert password, out

    events = (var_dir / "click-events.ndjson").read_text().splitlines()
    assert len(events) == 1
    event = json.loads(events[0])
    assert event["link_id"] == record["link_id"]
    assert event["click_session_id"] == params["click_id"]
    assert (event["sms_msg_id"], event["outcome"], event["slug"]) == ("42", "ok", "DEMO")
    assert not (var_dir / "stack.env").exists() and not (var_dir / "stack.pids").exists()

    # Again on the same state: the database survived, the emulator did not, so the demo link is
    # republished; the password is not printed a second time.
    second = run_once(var_dir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Republishing 1 link(s) into the fresh emulator." in second.stdout
    assert "with password" not in second.stdout
    assert password.group(1) not in second.stdout
    assert len((var_dir / "click-events.ndjson").read_text().splitlines()) == 2


CHILDREN = ["moto server", "worker", "beat", "runtime", "web"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_every_process(running: RunningStack, signum: int) -> None:
    assert alive(running.entries) == CHILDREN  # all running before the signal
    running.popen.send_signal(signum)
    returncode, out = running.finish()
    assert returncode == 0, out
    assert alive(running.entries) == []
    assert not (running.var_dir / "stack.pids").exists()
    assert not (running.var_dir / "stack.env").exists()


def test_a_killed_child_stops_the_stack_with_a_reason(running: RunningStack) -> None:
    os.kill(running.pid_of("runtime"), signal.SIGKILL)
    returncode, out = running.finish()
    assert returncode == 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("make dev: runtime exited with status -9"), out
    assert "Traceback" not in out
    assert alive(running.entries) == []


def test_a_stack_killed_outright_takes_its_children_and_the_next_run_works(
    running: RunningStack,
) -> None:
    running.popen.kill()  # SIGKILL: no clean-up of its own
    running.popen.wait()
    assert wait_until_gone(running.entries) == []  # each child had SIGTERM from the kernel

    # A crashed run whose children outlived it (e.g. on a system without PDEATHSIG): the next
    # run stops them before it starts.
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    started = int(Path(f"/proc/{leftover.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    (running.var_dir / "stack.pids").write_text(
        json.dumps([{"name": "worker", "pid": leftover.pid, "started": started}])
    )
    result = run_once(running.var_dir)
    assert leftover.wait(timeout=10) == -signal.SIGTERM
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Stopped what an earlier run left running: worker (pid {leftover.pid})." in (
        result.stdout
    )


def test_a_second_stack_on_the_same_state_is_refused(running: RunningStack) -> None:
    result = run_once(running.var_dir)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"make dev: another stack (pid {running.popen.pid}) is running on {running.var_dir}: "
        f"stop it first (Ctrl-C in its terminal, or kill {running.popen.pid}), or give this one "
        f"its own --var-dir (logs: {running.var_dir})"
    ]
    assert running.popen.poll() is None  # the first one is untouched
    assert alive(running.entries) == CHILDREN


def test_concurrent_changes_to_one_link_get_consecutive_versions(tmp_path: Path) -> None:
    """Two processes change one link 25 times each, at once, on the devsite's database (SQLite
    by default; no worker: the publishes wait in the broker). Held: 51 consecutive versions
    (creation + 50 changes), each made by exactly one process, one outbox row each. Before
    the devsite's SQLite transactions were IMMEDIATE, a change failed with "database is
    locked" within the first few."""
    changes = 25
    stack = LocalStack(tmp_path / "var", "http://127.0.0.1:9")  # nothing calls AWS here
    try:
        stack.manage("migrate", "--no-input", "-v", "0")
        [link_id] = drive(stack, "create_links(1)")
        with ThreadPoolExecutor(max_workers=2) as pool:
            made = list(
                pool.map(
                    lambda tag: drive(stack, f"change_repeatedly({link_id!r}, {changes}, {tag!r})"),
                    ["a", "b"],
                )
            )
        [link] = drive(stack, f"state([{link_id!r}])")
    finally:
        stack.stop()
    assert sorted(made[0] + made[1]) == list(range(2, 2 * changes + 2))
    assert link["runtime_version"] == 2 * changes + 1
    assert [row[:2] for row in link["outbox"]] == [
        [version, "pending"] for version in range(1, 2 * changes + 2)
    ]

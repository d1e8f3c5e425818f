"""The README's run command, end to end: moto server, migrate, setup_dynamodb, the demo link
created through the service layer, a real Celery worker publishing it with LinkPublisher, the
runtime reading it from DynamoDB and redirecting over real HTTP, one click event written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from devsite.stack import ROOT, LocalStack
from tests.support.drive import drive

pytestmark = pytest.mark.e2e


def test_make_dev_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devsite.stack", "--once", "--var-dir", str(tmp_path / "dev")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
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

    events = (tmp_path / "dev" / "click-events.ndjson").read_text().splitlines()
    assert len(events) == 1
    event = json.loads(events[0])
    assert event["link_id"] == record["link_id"]
    assert event["click_session_id"] == params["click_id"]
    assert (event["sms_msg_id"], event["outcome"], event["slug"]) == ("42", "ok", "DEMO")


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

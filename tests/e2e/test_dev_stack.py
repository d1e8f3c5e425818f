"""The README's run command, end to end: moto server, migrate, setup_dynamodb, the demo link
created through the service layer, a real Celery worker publishing it with LinkPublisher, the
runtime reading it from DynamoDB and redirecting over real HTTP, one click event written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from devsite.stack import ROOT

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

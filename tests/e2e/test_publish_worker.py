"""End to end: a moto server process, a real Celery worker process, the service layer in a
separate process (manage.py), and the published records read back over HTTP from moto."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from devsite.processes import free_port
from devsite.stack import LocalStack
from link_tracking_runtime import from_item, item_key
from link_tracking_runtime.applinks import app_links_key
from link_tracking_runtime.events import decode_event

pytestmark = pytest.mark.e2e


def _shell(stack: LocalStack, code: str) -> str:
    return stack.manage("shell", "-v", "0", "-c", code).stdout.strip()


def test_worker_publishes_created_and_changed_links(stack: LocalStack) -> None:
    # The link is created before any worker runs: the broker keeps the publish until one does.
    demo = json.loads(
        stack.manage("seed_demo", "--domain", "go.example.com").stdout.splitlines()[-1]
    )
    stack.start_worker()
    key = item_key("go.example.com", "DEMO")
    record = from_item(stack.wait_for_item(key))
    assert record.link_id == demo["link_id"]
    assert (record.domain, record.slug, record.runtime_version, record.active) == (
        "go.example.com",
        "DEMO",
        1,
        True,
    )
    assert record.resolved_query_params == {
        "utm_campaign": "SPRING26",
        "utm_medium": "sms",
        "utm_source": "link-tracking",
    }
    assert record.dynamic_param_allowlist == ("click_id", "sms_msg_id")

    _shell(
        stack,
        "from link_tracking_publisher.models import Link;"
        "from link_tracking_publisher.services.links import update_link;"
        f"update_link(Link.objects.get(pk='{demo['link_id']}'),"
        " destination_url='https://www.example.com/v2', active=False, reason='e2e')",
    )
    changed = from_item(stack.wait_for_item(key, min_version=2))
    assert (changed.destination_url, changed.active) == ("https://www.example.com/v2", False)

    # The record lands before the worker marks the row: poll the outbox until it settles.
    deadline = time.monotonic() + 30
    while True:
        outbox = json.loads(
            _shell(
                stack,
                "import json; from link_tracking_publisher.models import PublishOutbox;"
                "print(json.dumps(list(PublishOutbox.objects.order_by('runtime_version')"
                ".values_list('runtime_version', 'status', 'result'))))",
            )
        )
        if all(status == "complete" for _, status, _ in outbox) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert outbox == [[1, "complete", "written"], [2, "complete", "written"]]


def test_republish_campaign_command_through_the_worker(stack: LocalStack) -> None:
    stack.manage("seed_demo", "--domain", "go.example.com")
    stack.start_worker()
    key = item_key("go.example.com", "DEMO")
    stack.wait_for_item(key)
    out = stack.manage("republish_campaign", "SPRING26").stdout
    assert "Enqueued republish of campaign SPRING26 (1 active links)" in out
    assert from_item(stack.wait_for_item(key, min_version=2)).runtime_version == 2


def test_runtime_serves_app_link_files_the_control_plane_published(stack: LocalStack) -> None:
    """Documents saved on a domain through the service layer reach the runtime through the
    outbox, a real worker and DynamoDB, and the runtime serves them over HTTP; QR scans of the
    domain's link are told apart from taps in the click events."""
    stack.manage("seed_demo", "--domain", "go.example.com")
    aasa = {
        "applinks": {
            "details": [{"appIDs": ["ABCDE12345.com.example.shop"], "components": [{"/": "/*"}]}]
        }
    }
    _shell(
        stack,
        "from link_tracking_publisher.models import Domain;"
        "from link_tracking_publisher.services import update_domain;"
        "update_domain(Domain.objects.get(domain_name='go.example.com'),"
        f" apple_app_site_association={aasa!r})",
    )
    stack.start_worker()
    stack.wait_for_item(item_key("go.example.com", "DEMO"))
    item = stack.wait_for_item(app_links_key("go.example.com"))
    assert json.loads(item["apple_app_site_association"]) == aasa
    port = free_port()
    stack.start_runtime(port)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
        headers = {"host": "go.example.com"}
        served = client.get("/.well-known/apple-app-site-association", headers=headers)
        assert served.status_code == 200
        assert served.headers["content-type"] == "application/json"
        assert served.json() == aasa
        missing = client.get("/.well-known/assetlinks.json", headers=headers)
        assert missing.status_code == 404 and "location" not in missing.headers
        phone = {**headers, "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4) Mobile"}
        scan = client.get("/DEMO?qr=1", headers=phone)
        tap = client.get("/DEMO", headers=phone)
        assert scan.status_code == tap.status_code == 302
        assert "qr=" not in scan.headers["location"]
    # The files are not clicks: only the two redirects wrote events.
    events_file = stack.var_dir / "click-events.ndjson"
    deadline = time.monotonic() + 30
    while True:
        lines = events_file.read_text().splitlines() if events_file.exists() else []
        if len(lines) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    events = [decode_event(line) for line in lines]
    assert [(e.slug, e.channel) for e in events] == [("DEMO", "qr"), ("DEMO", "sms")]

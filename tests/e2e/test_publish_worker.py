"""End to end: a moto server process, a real Celery worker process, the service layer in a
separate process (manage.py), and the published records read back over HTTP from moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devsite.processes import moto_server
from devsite.stack import LocalStack
from link_tracking_runtime import from_item, item_key

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with moto_server(log_path=tmp_path / "moto.log") as endpoint:
        local = LocalStack(tmp_path / "var", endpoint)
        local.manage("migrate", "--no-input", "-v", "0")
        local.manage("setup_dynamodb")
        try:
            yield local
        finally:
            local.stop()


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

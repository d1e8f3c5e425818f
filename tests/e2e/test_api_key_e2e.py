"""End to end with a client holding only an API key: the control plane under gunicorn, a real
Celery worker publishing to DynamoDB (moto server), the runtime redirecting over HTTP, click
events ingested, and the key reading its message's clicks back."""

from __future__ import annotations

import dataclasses
import http.client
import json
import time
from typing import Any

import pytest

from devsite.processes import free_port, wait_for_http
from devsite.stack import LocalStack, web_command
from link_tracking_runtime import item_key

pytestmark = pytest.mark.e2e

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def _request(
    port: int, method: str, path: str, *, body: Any = None, **headers: str
) -> tuple[int, Any, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = None if body is None else json.dumps(body)
    if payload is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    data = (
        json.loads(raw)
        if response.getheader("Content-Type", "").startswith("application/json")
        else raw
    )
    return response.status, data, {k.lower(): v for k, v in response.getheaders()}


@dataclasses.dataclass(frozen=True)
class KeyClient:
    """The seeded demo, an API key of its account, and the running processes' ports."""

    demo: dict[str, Any]
    account: Any
    domain: str
    bearer: dict[str, str]
    runtime_port: int
    web_port: int


def start_with_a_key(stack: LocalStack, scopes: list[str], setup: str = "") -> KeyClient:
    """Seed the demo, make an API key with ``scopes`` for its link's account (after ``setup``,
    Python run in ``manage.py shell`` with ``link`` and ``services`` in scope), then start a
    worker, the runtime and the control plane under gunicorn."""
    demo = json.loads(stack.manage("seed_demo").stdout.splitlines()[-1])
    made = stack.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "import json; from link_tracking_publisher.models import Link;"
        "from link_tracking_publisher import services;"
        f"link = Link.objects.get(pk='{demo['link_id']}');"
        f"{setup}"
        "key, raw = services.create_api_key(account=link.account, name='SMS app',"
        f" scopes={scopes!r});"
        "print(json.dumps({'key': raw, 'account': link.account_id, 'domain': str(link.domain_id)}))",
    )
    created = json.loads(made.stdout.strip().splitlines()[-1])
    stack.start_worker()
    runtime_port = free_port()
    stack.start_runtime(runtime_port)
    web_port = free_port()
    web = stack.start("web", web_command("127.0.0.1", web_port))
    wait_for_http(f"http://127.0.0.1:{web_port}/admin/login/", timeout=60, proc=web.popen)
    return KeyClient(
        demo,
        created["account"],
        created["domain"],
        {"Authorization": f"Bearer {created['key']}"},
        runtime_port,
        web_port,
    )


def test_a_key_only_client_creates_a_link_and_reads_its_message_clicks(
    stack: LocalStack,
) -> None:
    client = start_with_a_key(stack, ["links:write", "stats:read"])
    demo, bearer = client.demo, client.bearer
    runtime_port, web_port = client.runtime_port, client.web_port

    api = "/api/link_tracking"
    status, link, _ = _request(
        web_port,
        "POST",
        f"{api}/links/",
        body={
            "account": client.account,
            "domain": client.domain,
            "slug": "KEYED",
            "destination_url": "https://shop.example.com/keyed",
            "channel": "sms",
            "dynamic_param_allowlist": ["click_id", "sms_msg_id"],
            "reason": "from the SMS app",
        },
        **bearer,
    )
    assert status == 201, link
    status, refused, headers = _request(
        web_port, "GET", f"{api}/links/", Authorization="Bearer lt_nosuchke_" + "x" * 43
    )
    assert (status, refused) == (401, {"detail": "Invalid API key."})
    assert headers["www-authenticate"] == 'Bearer realm="api"'
    status, denied, _ = _request(web_port, "GET", f"{api}/links/", **bearer)
    assert status == 403 and "'links:read'" in denied["detail"]

    stack.wait_for_item(item_key(demo["domain"], "KEYED"))
    status, _, headers = _request(
        runtime_port,
        "GET",
        "/KEYED?sms_msg_id=m-e2e",
        Host=demo["domain"],
        **{"User-Agent": IPHONE},
    )
    assert status == 302 and headers["location"].startswith("https://shop.example.com/keyed")

    deadline = time.monotonic() + 60  # the runtime writes its click events in batches
    while True:
        stack.manage("ingest_click_events", "--source", str(stack.var_dir / "click-events.ndjson"))
        status, clicks, _ = _request(
            web_port, "GET", f"{api}/message-clicks/?sms_msg_id=m-e2e", **bearer
        )
        assert status == 200, clicks
        if clicks["results"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [(row["link"], row["human_clicks"]) for row in clicks["results"]] == [(link["id"], 1)]

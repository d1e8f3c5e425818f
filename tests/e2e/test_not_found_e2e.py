"""A domain's not-found page and its orphan clicks end to end, with only an API key: the control
plane under gunicorn takes the page, a real Celery worker publishes the domain's record, the
runtime sends a click on no link there over HTTP, and the ingested orphan clicks come back
through the API."""

from __future__ import annotations

import json
import time

import pytest

from devsite.processes import free_port, wait_for_http
from devsite.stack import LocalStack, web_command
from link_tracking_runtime.applinks import app_links_key

from .test_api_key_e2e import IPHONE, _request

pytestmark = pytest.mark.e2e

PAGE = "https://www.example.com/offer-ended"


def test_a_domain_sends_missing_slugs_to_its_page_and_counts_them(stack: LocalStack) -> None:
    demo = json.loads(stack.manage("seed_demo").stdout.splitlines()[-1])
    made = stack.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "import json; from link_tracking_publisher.models import Link;"
        "from link_tracking_publisher.services import create_api_key;"
        f"link = Link.objects.get(pk='{demo['link_id']}');"
        # The demo's domain is shared (staff only); here it is the account's own.
        "type(link.domain).objects.filter(pk=link.domain_id).update(account=link.account);"
        "key, raw = create_api_key(account=link.account, name='ops',"
        " scopes=['links:write', 'links:read', 'stats:read']);"
        "print(json.dumps({'key': raw, 'domain': str(link.domain_id)}))",
    )
    created = json.loads(made.stdout.strip().splitlines()[-1])
    bearer = {"Authorization": f"Bearer {created['key']}"}
    stack.start_worker()
    runtime_port = free_port()
    stack.start_runtime(runtime_port)
    web_port = free_port()
    web = stack.start("web", web_command("127.0.0.1", web_port))
    wait_for_http(f"http://127.0.0.1:{web_port}/admin/login/", timeout=60, proc=web.popen)

    api = "/api/link_tracking"
    status, domain, _ = _request(
        web_port,
        "PATCH",
        f"{api}/domains/{created['domain']}/",
        body={"not_found_url": PAGE},
        **bearer,
    )
    assert status == 200 and domain["not_found_url"] == PAGE, domain
    stack.wait_for_item(app_links_key(demo["domain"]))

    locations = []
    for path in ("/SPRNG", "/SPRNG", "/wp-login.php"):
        status, _, headers = _request(
            runtime_port, "GET", path, Host=demo["domain"], **{"User-Agent": IPHONE}
        )
        assert status == 302
        locations.append(headers["location"])
    assert locations == [PAGE] * 3

    deadline = time.monotonic() + 60  # the runtime writes its click events in batches
    while True:
        stack.manage("ingest_click_events", "--source", str(stack.var_dir / "click-events.ndjson"))
        status, orphans, _ = _request(
            web_port, "GET", f"{api}/domains/{created['domain']}/orphan-clicks/", **bearer
        )
        assert status == 200, orphans
        counted = sum(row["human_clicks"] for row in orphans["top_slugs"])
        if counted >= 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [(row["slug"], row["human_clicks"]) for row in orphans["top_slugs"]] == [
        ("SPRNG", 2),
        ("", 1),
    ]

"""A domain's not-found page and its orphan clicks end to end, with only an API key: the control
plane under gunicorn takes the page, a real Celery worker publishes the domain's record, the
runtime sends a click on no link there over HTTP, and the ingested orphan clicks come back
through the API."""

from __future__ import annotations

import time

import pytest

from devsite.stack import LocalStack
from link_tracking_runtime.applinks import app_links_key

from .test_api_key_e2e import IPHONE, _request, start_with_a_key

pytestmark = pytest.mark.e2e

PAGE = "https://www.example.com/offer-ended"


def test_a_domain_sends_missing_slugs_to_its_page_and_counts_them(stack: LocalStack) -> None:
    client = start_with_a_key(
        stack,
        ["links:write", "links:read", "stats:read"],
        # The demo's domain is shared (staff only); here it is the account's own.
        setup="type(link.domain).objects.filter(pk=link.domain_id).update(account=link.account);",
    )
    demo, bearer = client.demo, client.bearer
    runtime_port, web_port = client.runtime_port, client.web_port

    api = "/api/link_tracking"
    status, domain, _ = _request(
        web_port,
        "PATCH",
        f"{api}/domains/{client.domain}/",
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
            web_port, "GET", f"{api}/domains/{client.domain}/orphan-clicks/", **bearer
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

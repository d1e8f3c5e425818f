"""Per-message SMS links end to end, as an SMS application uses them with only an API key: the
control plane under gunicorn issues a send's URLs under the domain's keyring (moto's Secrets
Manager), a real Celery worker publishes the link with its keyring name, the runtime redirects
each token over HTTP without the control plane, and the ingested clicks are the host's message
ids, a forged token's click none."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from devsite.stack import LocalStack
from link_tracking_runtime import item_key

from .test_api_key_e2e import IPHONE, _request, start_with_a_key

pytestmark = pytest.mark.e2e

KEYRING = "link-signatures/messages/e2e"


def test_an_sms_app_sends_per_message_links_and_reads_its_message_ids_back(
    stack: LocalStack,
) -> None:
    boto3.client(
        "secretsmanager",
        endpoint_url=stack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_secret(
        Name=KEYRING, SecretString=json.dumps({"current": {"kid": "m1", "secret": "e" * 32}})
    )
    client = start_with_a_key(
        stack,
        ["links:write", "stats:read"],
        setup=f"services.update_domain(link.domain, message_keyring='{KEYRING}');",
    )
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
            "slug": "SEND1",
            "destination_url": "https://shop.example.com/send",
            "channel": "sms",
            "dynamic_param_allowlist": ["click_id", "sms_ref"],
            "query_message_id": False,
            "reason": "the spring send",
        },
        **bearer,
    )
    assert status == 201, link
    ids = ["host-msg-1", "host-msg-2", "host-msg-3"]
    status, issued, _ = _request(
        web_port, "POST", f"{api}/links/{link['id']}/sms-urls/", body={"message_ids": ids}, **bearer
    )
    assert status == 200, issued
    urls = [row["url"] for row in issued["urls"]]
    short = link["short_url"]
    assert all(url.startswith(short + "/") and len(url) <= len(short) + 10 for url in urls)
    assert not any(message_id in url for message_id in ids for url in urls)

    stack.wait_for_item(item_key(demo["domain"], "SEND1"))
    paths = [url.split(demo["domain"], 1)[1] for url in urls]
    forged = paths[0][:-1] + ("0" if paths[0][-1] != "0" else "1")
    for path in [paths[0], paths[1], paths[1], forged, "/SEND1?sms_msg_id=host-msg-3"]:
        status, _, headers = _request(
            runtime_port, "GET", path, Host=demo["domain"], **{"User-Agent": IPHONE}
        )
        assert status == 302, path
        assert headers["location"].startswith("https://shop.example.com/send")
        assert "host-msg" not in headers["location"]  # nothing of the host's ids leaves
        token = path.rsplit("/", 1)[1]
        assert (f"sms_ref={token}" in headers["location"]) == (path in paths)

    deadline = time.monotonic() + 60  # the runtime writes its click events in batches
    while True:
        stack.manage("ingest_click_events", "--source", str(stack.var_dir / "click-events.ndjson"))
        status, clicks, _ = _request(
            web_port, "GET", f"{api}/message-clicks/?link={link['id']}", **bearer
        )
        assert status == 200, clicks
        counted = sum(row["human_clicks"] for row in clicks["results"])
        if counted >= 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    rows = {row["sms_msg_id"]: row["human_clicks"] for row in clicks["results"]}
    # The forged token and the typed id (switched off on this link) name no message.
    assert rows == {"host-msg-1": 1, "host-msg-2": 2}

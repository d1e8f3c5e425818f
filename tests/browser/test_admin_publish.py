"""A real browser against a live server: an operator logs into the admin, creates a link (as
inactive), publishes it with the admin action, and the record appears in DynamoDB, written by
a real Celery worker. Every part is its own process: moto server, runserver, worker, Chromium.

Needs Debian's Chromium (``apt-get install chromium chromium-driver``) and Playwright's Python
package (never ``playwright install``: the browser is the system one).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devsite.processes import free_port, moto_server, wait_for_http
from devsite.stack import LocalStack
from link_tracking_runtime import from_item, item_key

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

SEED = """
import json
from devsite.crm.models import Account
from django.utils import timezone
from link_tracking_publisher.models import Domain
account = Account.objects.create(name="Browser account")
domain = Domain.objects.create(
    domain_name="go.example.com", account=account, status="active", verified_at=timezone.now()
)
print(json.dumps({"account": account.pk, "domain": str(domain.pk)}))
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LocalStack, str, dict[str, Any]]]:
    with moto_server(log_path=tmp_path / "moto.log") as endpoint:
        stack = LocalStack(tmp_path / "var", endpoint)
        try:
            stack.manage("migrate", "--no-input", "-v", "0")
            stack.manage("setup_dynamodb")
            stack.env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
            stack.manage("createsuperuser", "--no-input", "--username", "ops", "--email", "o@x.io")
            seeded = json.loads(
                stack.manage("shell", "-v", "0", "-c", SEED).stdout.strip().splitlines()[-1]
            )
            port = free_port()
            web = stack.start(
                "web",
                [
                    sys.executable,
                    "manage.py",
                    "runserver",
                    f"127.0.0.1:{port}",
                    "--noreload",
                    "--insecure",
                ],
            )
            wait_for_http(f"http://127.0.0.1:{port}/admin/login/", timeout=60, proc=web.popen)
            stack.start_worker()
            yield stack, f"http://127.0.0.1:{port}", seeded
        finally:
            stack.stop()


def test_operator_creates_and_publishes_a_link_in_the_admin(
    live: tuple[LocalStack, str, dict[str, Any]],
) -> None:
    from playwright.sync_api import sync_playwright

    stack, base, seeded = live
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/admin/login/?next=/admin/")
            page.fill("#id_username", "ops")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/admin/")

            page.goto(f"{base}/admin/link_tracking/link/add/")
            page.select_option("#id_account", str(seeded["account"]))
            page.select_option("#id_domain", seeded["domain"])
            page.fill("#id_slug_original", "Browser")
            page.fill("#id_destination_url", "https://shop.example.com/from-the-browser")
            page.fill("#id_keyword", "HELP")
            page.uncheck("#id_active")  # created inactive; the publish action activates it
            page.fill("#id_change_reason", "browser test")
            page.click("input[name=_save]")
            page.wait_for_url(f"{base}/admin/link_tracking/link/")
            assert "was added successfully" in page.content()

            page.check("input[name=_selected_action]")
            page.select_option("select[name=action]", "publish")
            page.click("button[name=index]")
            page.wait_for_selector("text=Published: 1.")

            page.click("text=https://go.example.com/Browser")
            page.wait_for_selector("text=redirects to")
            preview = page.inner_text("div.field-preview")
            assert "policy: ok" in preview
            # The preview of a plain click: the destination with the default click_id added.
            assert "https://shop.example.com/from-the-browser?click_id=" in preview
        finally:
            browser.close()

    # The worker published version 2 (created inactive = v1, published = v2).
    record = from_item(stack.wait_for_item(item_key("go.example.com", "BROWSER"), min_version=2))
    assert (record.active, record.runtime_version, record.keyword) == (True, 2, "HELP")
    assert record.destination_url == "https://shop.example.com/from-the-browser"

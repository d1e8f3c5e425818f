"""Clicks come back, end to end in real processes: a published link is clicked on the running
runtime (people and a link-preview bot), ``ingest_click_events`` counts the runtime's click
event file, and an operator sees the counts and the chart on the link's admin page in Chromium.
The screenshot of the chart is checked by its pixels: human and bot bars are drawn, in the
proportion of the clicks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from devsite.processes import free_port
from devsite.stack import LocalStack
from link_tracking_publisher.clicks.chart import BOT_COLOUR, HUMAN_COLOUR
from link_tracking_runtime import item_key

from .test_admin_publish import CHROMIUM, CHROMIUM_FLAGS, PASSWORD, live  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

CREATE_LINK = """
import json
from django.contrib.auth import get_user_model
from link_tracking_publisher.models import Domain
from link_tracking_publisher.services.links import create_link
domain = Domain.objects.get(pk="{domain}")
link = create_link(account=domain.account, domain=domain, slug="Clicks",
                   destination_url="https://shop.example.com/sale", keyword="SALE",
                   user=get_user_model().objects.get(username="ops"), reason="browser test")
print(json.dumps({{"link": str(link.pk)}}))
"""

#: Counts the screenshot's pixels of each bar colour, in the browser itself (a canvas).
COUNT_PIXELS = """async ([png, colours]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  const counts = colours.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    colours.forEach((hex, n) => {
      const [r, g, b] = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 12) {
        counts[n] += 1;
      }
    });
  }
  return counts;
}"""

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def test_operator_sees_clicks_and_their_chart(
    live: tuple[LocalStack, str, dict[str, Any]],  # noqa: F811  (the fixture, imported)
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    stack, base, seeded = live
    created = stack.manage("shell", "-v", "0", "-c", CREATE_LINK.format(domain=seeded["domain"]))
    link_id = json.loads(created.stdout.strip().splitlines()[-1])["link"]
    stack.wait_for_item(item_key("go.example.com", "CLICKS"))
    port = free_port()
    stack.start_runtime(port)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"host": "go.example.com"}
    ) as web:
        for n in range(6):
            response = web.get(f"/Clicks?sms_msg_id=m{n % 3}", headers={"user-agent": IPHONE})
            assert response.status_code == 302
        for _ in range(2):
            web.get("/Clicks?sms_msg_id=m0", headers={"user-agent": "Slackbot-LinkExpanding 1.0"})
    events = stack.var_dir / "click-events.ndjson"
    stack.processes[-1].stop()  # the runtime flushes its click events on shutdown
    report = json.loads(
        stack.manage("ingest_click_events", "--source", str(events), "--json").stdout
    )
    assert report["counted"] == 8, report

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
            page.goto(f"{base}/admin/link_tracking/link/{link_id}/change/")
            summary = page.inner_text("div.click-summary")
            assert "8 clicks: 6 human, 2 bot" in summary
            chart = page.locator("svg.click-chart")
            png = chart.screenshot(path=str(tmp_path / "click-chart.png"))
            human, bot = page.evaluate(
                COUNT_PIXELS, [base64.b64encode(png).decode(), [HUMAN_COLOUR, BOT_COLOUR]]
            )
        finally:
            browser.close()
    # One day, one stacked bar: the human part three times the bot part (6 vs 2 clicks).
    assert human > 500 and bot > 150, (human, bot)
    assert 2.5 < human / bot < 3.5, (human, bot)

"""The admin shows click counts and a chart on link and campaign pages; webhooks and their
deliveries are managed there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.models import (
    ClickIngestCheckpoint,
    ClickWebhook,
    ClickWebhookDelivery,
    MessageClick,
    OrphanClicks,
)
from tests.clicks.conftest import T0, click, write_ndjson
from tests.publisher.factories import (
    AccountFactory,
    DomainFactory,
    LinkCampaignFactory,
    LinkFactory,
)

pytestmark = pytest.mark.django_db
DAY = 86400.0


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("ops", "o@x.io", "pw"))
    return client


@pytest.fixture
def link(tmp_path: Path) -> Any:
    account = AccountFactory()
    link = LinkFactory(
        account=account,
        domain=DomainFactory(domain_name="go.example.com"),
        campaign=LinkCampaignFactory(account=account),
    )
    events = [click(link, at=T0 + i * 60, sms_msg_id="m1") for i in range(3)]
    events += [click(link, at=T0 + 2 * DAY, is_bot=True, bot_reason="head")]
    ingest_objects(local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 3 * DAY)
    ClickWebhook.objects.create(account=account, url="https://hooks.example.com/", secret="s")
    return link


def _bars(html: str) -> list[str]:
    chart = re.search(r'<svg class="click-chart".*?</svg>', html, re.S)
    assert chart, "no chart on the page"
    return re.findall(r"<rect [^>]*><title>([^<]*)</title>", chart.group(0))


def test_link_page_shows_counts_and_chart(client: Client, link: Any) -> None:
    html = client.get(reverse("admin:link_tracking_link_change", args=[link.pk])).content.decode()
    assert "<strong>4</strong> clicks: <strong>3</strong> human, 1 bot; 3 unique visitors" in html
    # One bar per day of the range, human and bot stacked: day 1 human, day 3 bot.
    assert _bars(html) == [
        "2026-11-02 00:00: 3 human, 0 bot",
        "2026-11-04 00:00: 0 human, 1 bot",
    ]
    assert "<p>Bot clicks of the chart's days by reason: head 1.</p>" in html


def test_campaign_page_shows_counts_and_chart(client: Client, link: Any) -> None:
    url = reverse("admin:link_tracking_linkcampaign_change", args=[link.campaign.pk])
    html = client.get(url).content.decode()
    assert "<strong>4</strong> clicks" in html and _bars(html)


def test_a_link_without_clicks_says_so(client: Client) -> None:
    account = AccountFactory()
    quiet = LinkFactory(account=account, domain=DomainFactory(domain_name="q.example.com"))
    html = client.get(reverse("admin:link_tracking_link_change", args=[quiet.pk])).content.decode()
    assert "No clicks yet." in html


@pytest.mark.parametrize(
    "model", [ClickWebhook, ClickWebhookDelivery, MessageClick, ClickIngestCheckpoint, OrphanClicks]
)
def test_click_models_list(client: Client, link: Any, model: type) -> None:
    url = reverse(f"admin:link_tracking_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200


def test_webhook_added_in_the_admin_gets_a_secret(client: Client, link: Any) -> None:
    response = client.post(
        reverse("admin:link_tracking_clickwebhook_add"),
        {"account": link.account.pk, "url": "https://new.example.com/", "active": "on"},
    )
    assert response.status_code == 302
    assert ClickWebhook.objects.get(url="https://new.example.com/").secret.startswith("whsec_")


def test_failed_deliveries_are_shown_and_retried(client: Client, link: Any) -> None:
    from django.utils import timezone

    delivery = ClickWebhookDelivery.objects.create(
        webhook=ClickWebhook.objects.get(),
        event_id="e1",
        payload={},
        next_attempt_at=timezone.now(),
        status=ClickWebhookDelivery.Status.FAILED,
        last_error="gave up after 8 attempts: timeout: ReadTimeout",
        attempts=8,
    )
    url = reverse("admin:link_tracking_clickwebhookdelivery_changelist")
    assert "gave up after 8 attempts" in client.get(url).content.decode()
    client.post(url, {"action": "retry", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_a_private_webhook_url_is_a_form_error(client: Client, link: Any) -> None:
    response = client.post(
        reverse("admin:link_tracking_clickwebhook_add"),
        {"account": link.account.pk, "url": "https://10.1.2.3/hook", "active": "on"},
    )
    assert response.status_code == 200 and "public host" in response.content.decode()


def test_switched_off_webhooks_are_listed_and_switched_on_again(client: Client, link: Any) -> None:
    from django.contrib.admin.models import LogEntry
    from django.utils import timezone

    on = ClickWebhook.objects.get()
    off = ClickWebhook.objects.create(
        account=link.account,
        url="https://dead.example.com/",
        secret="s",
        consecutive_failures=20,
        disabled_at=timezone.now(),
        disabled_reason="Switched off after 20 consecutive failed deliveries; the last: HTTP 503",
    )
    held = ClickWebhookDelivery.objects.create(
        webhook=off, event_id="held", payload={}, attempts=6, next_attempt_at=timezone.now()
    )
    url = reverse("admin:link_tracking_clickwebhook_changelist")
    listed = client.get(url, {"switched_off": "yes"}).content.decode()
    assert "dead.example.com" in listed and "hooks.example.com" not in listed
    listed = client.get(url, {"switched_off": "no"}).content.decode()
    assert "hooks.example.com" in listed and "dead.example.com" not in listed
    page = client.get(reverse("admin:link_tracking_clickwebhook_change", args=[off.pk]))
    assert "Switched off after 20 consecutive failed deliveries" in page.content.decode()

    response = client.post(
        url, {"action": "enable", "_selected_action": [str(off.pk), str(on.pk)]}, follow=True
    )
    assert "Switched on 1 webhook(s); 1 held deliveries replayed." in response.content.decode()
    off.refresh_from_db()
    held.refresh_from_db()
    assert (off.consecutive_failures, off.disabled_at, off.disabled_reason) == (0, None, "")
    assert held.attempts == 0
    entry = LogEntry.objects.get(object_id=str(off.pk))
    assert entry.user.get_username() == "ops" and "Switched on again" in entry.change_message
    assert not LogEntry.objects.filter(object_id=str(on.pk)).exists()


def test_orphan_clicks_list_the_most_clicked_missing_slugs_first(client: Client, link: Any) -> None:
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(T0 // DAY * DAY, UTC)
    for slug, human in (("RARE", 1), ("OFTEN", 9)):
        OrphanClicks.objects.create(
            domain=link.domain, day=day, slug=slug, human_clicks=human, last_click_at=day
        )
    html = client.get(reverse("admin:link_tracking_orphanclicks_changelist")).content.decode()
    assert html.index("OFTEN") < html.index("RARE")
    assert client.get(reverse("admin:link_tracking_orphanclicks_add")).status_code == 403

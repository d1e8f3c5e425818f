"""Click webhooks are only sent to public HTTPS endpoints, at the time they are sent.

Before: a webhook URL could carry credentials (``https://user:pass@…``, stored and echoed by
the API), a backslash (``https://127.0.0.1:443\\@example.com/``, which the HTTP client and the
validator read as different hosts) or any port (``:6379``); and a host name was checked only
when the webhook was saved, so a name pointing at a private address later was delivered to.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from link_tracking_publisher.clicks.webhooks import deliver_due, new_secret
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery
from link_tracking_publisher.validators import validate_webhook_url
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

REFUSED = {
    "https://user:pass@hooks.example.com/": "user name or password",
    "https://token@hooks.example.com/": "user name or password",
    "https://127.0.0.1:443\\@example.com/": "backslash",
    "https://hooks.example.com\\@example.org/": "backslash",
    "https://hooks.example.com:6379/": "port",
    "https://hooks.example.com:80/": "port",
    "https://hooks.example.com:8443/": "port",
    "https://[::ffff:127.0.0.1]/": "public host",
}


@pytest.mark.parametrize("url", list(REFUSED))
def test_refused_urls_are_a_field_error(alice_client: APIClient, account_a: Any, url: str) -> None:
    response = alice_client.post(
        f"{API}/webhooks/", {"account": account_a.pk, "url": url}, format="json"
    )
    assert response.status_code == 400
    assert REFUSED[url] in " ".join(response.json()["url"])
    assert not ClickWebhook.objects.exists()


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/", "https://hooks.example.com:443/in", "https://8.8.8.8/"]
)
def test_https_on_its_own_port_is_accepted(url: str) -> None:
    validate_webhook_url(url)


def test_allow_http_lifts_scheme_port_and_host_but_never_credentials(settings: Any) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_WEBHOOK_ALLOW_HTTP": True}
    validate_webhook_url("http://hooks.example.com:80/")
    validate_webhook_url("http://127.0.0.1:8123/hook")  # a local receiver in development
    for url in ("http://user:pw@127.0.0.1:8123/", "http://127.0.0.1:80\\@example.com/"):
        with pytest.raises(ValidationError):
            validate_webhook_url(url)


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1"])
def test_a_name_resolving_to_a_private_address_is_not_delivered_to(
    account_a: Any,
    webhook_dns: dict[str, list[str]],
    address: str,
) -> None:
    hook = ClickWebhook.objects.create(
        account=account_a, url="https://hooks.example.com/", secret=new_secret()
    )
    delivery = ClickWebhookDelivery.objects.create(
        webhook=hook, event_id="e1", payload={}, next_attempt_at=timezone.now()
    )
    webhook_dns["hooks.example.com"] = ["93.184.215.14", address]
    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    assert deliver_due(transport=httpx.MockTransport(receive)) == {"pending": 1}
    delivery.refresh_from_db()
    assert sent == [] and "private address" in delivery.last_error

    webhook_dns["hooks.example.com"] = ["93.184.215.14"]
    ClickWebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliver_due(transport=httpx.MockTransport(receive)) == {"delivered": 1}
    # Sent to the address just checked (no second lookup that could answer otherwise), under
    # the URL's host name.
    (request,) = sent
    assert request.url.host == "93.184.215.14" and request.headers["host"] == "hooks.example.com"

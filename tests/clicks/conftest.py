from __future__ import annotations

import http.server
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from link_tracking_publisher.clicks.webhooks import new_secret
from link_tracking_publisher.models import ClickWebhook
from link_tracking_runtime.events import ClickEvent, encode_event
from tests.publisher.conftest import _aws_env, aws  # noqa: F401  (shared fixtures)
from tests.publisher.factories import (
    AccountFactory,
    DomainFactory,
    LinkCampaignFactory,
    LinkFactory,
)

#: The stub DNS of webhook deliveries (LINK_TRACKING['CLICK_WEBHOOK_RESOLVER']): host → addresses;
#: a host not listed resolves to a public address, so no test asks a real nameserver.
RESOLVED: dict[str, list[str]] = {}
PUBLIC_ADDRESS = "93.184.215.14"


def stub_resolver(host: str, port: int) -> list[str]:
    return list(RESOLVED.get(host, [PUBLIC_ADDRESS]))


@pytest.fixture(autouse=True)
def webhook_dns(settings: Any) -> Iterator[dict[str, list[str]]]:
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "CLICK_WEBHOOK_RESOLVER": "tests.clicks.conftest.stub_resolver",
    }
    RESOLVED.clear()
    yield RESOLVED
    RESOLVED.clear()


#: 2026-11-02 10:00:00 UTC, a Monday: the events' clock in these tests.
T0 = 1793613600.0
_counter = itertools.count()


def click(link: Any, *, at: float = T0, **fields: Any) -> ClickEvent:
    """A click event on ``link`` as the runtime writes it (the contract's type)."""
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "timestamp": at,
        "domain": link.domain.domain_name,
        "slug": link.slug_canonical,
        "click_session_id": f"s{next(_counter)}",
        "ip_hash": f"ip{next(_counter)}",
        "final_url_hash": "f",
        "is_bot": False,
        "redirect_latency_ms": 1,
        "outcome": "ok",
        "link_id": str(link.pk),
        "channel": link.channel,
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    }
    values.update(fields)
    return ClickEvent(**values)


def write_ndjson(path: Path, events: list[ClickEvent], *, extra: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        for event in events:
            out.write(encode_event(event))
        out.write(extra)
    return path


@pytest.fixture
def account(db: None) -> Any:
    return AccountFactory()


@pytest.fixture
def campaign(account: Any) -> Any:
    return LinkCampaignFactory(account=account, campaign_id="SPRING26")


@pytest.fixture
def make_link(account: Any, campaign: Any) -> Callable[..., Any]:
    domain = DomainFactory(domain_name="go.example.com")

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("account", account)
        kwargs.setdefault("domain", domain)
        kwargs.setdefault("campaign", campaign)
        return LinkFactory(**kwargs)

    return make


@pytest.fixture
def link(make_link: Callable[..., Any]) -> Any:
    return make_link(keyword="SALE")


@pytest.fixture
def webhook(account: Any) -> ClickWebhook:
    return ClickWebhook.objects.create(
        account=account, url="https://hooks.example.com/clicks", secret=new_secret()
    )


class Receiver(http.server.BaseHTTPRequestHandler):
    """A local webhook receiver (the ``receiver`` fixture): answers 200, keeps what it got."""

    bodies: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).bodies.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    """The URL of a real HTTP server on loopback (``CLICK_WEBHOOK_ALLOW_HTTP`` to send to it)."""
    Receiver.bodies = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

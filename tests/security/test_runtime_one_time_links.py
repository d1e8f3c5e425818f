"""One-time and signed links stay secret until a person spends a click.

Before: a link-preview user agent, a scripted client or any ``HEAD`` request on a link that sets
``max_clicks`` (or requires a signature) got the ``302`` to the destination without spending a
click, as often as it liked, before the recipient ever tapped. Now such a request gets a
neutral page (200, no ``Location``, nothing of the destination in the body,
``Cache-Control: private, no-store``, ``X-Robots-Tag: noindex``); its click event says
``outcome = routing_reason = "withheld"`` and ``is_bot``, and no click is spent. The decision
is the contract's (``decide``), so the control plane's preview shows the same. Links with
neither keep answering bots with the redirect (recorded as a bot).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from link_tracking_runtime import Keyring, SigningKey, sign_url
from link_tracking_runtime.click import (
    WITHHELD,
    ClickInput,
    compile_link,
    decide,
    event_columns,
)
from tests.support.fakes import FakeSecrets
from tests.support.records import HOST, item, record
from tests.support.runtime import Harness

T = TypeVar("T")
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "Mobile/15E148 Safari/604.1"
)
SECRET = "link-signing-secret-0123456789"
KEY_ID = "link-signatures/one"

#: (method, headers): requests that do not spend a click.
NOT_A_CLICK: list[tuple[str, dict[str, str]]] = [
    ("HEAD", {"user-agent": PHONE}),
    ("GET", {"user-agent": "WhatsApp/2.24.6.77 A"}),
    ("GET", {"user-agent": "facebookexternalhit/1.1"}),
    ("GET", {"user-agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}),
    ("GET", {"user-agent": "curl/8.5.0"}),
    ("GET", {"user-agent": ""}),
    ("GET", {"user-agent": PHONE, "purpose": "prefetch"}),
    ("GET", {"user-agent": PHONE, "sec-purpose": "prefetch;prerender"}),
]


def _harness(tmp_path: Path) -> Harness:
    return Harness(
        tmp_path,
        items=[
            item("ONCE", max_clicks=1),
            item("SIGNED", signature_required=True, signature_key_id=KEY_ID),
            item("OPEN"),
        ],
        secrets=FakeSecrets({KEY_ID: SECRET}),
    )


def _drive(harness: Harness, scenario: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    async def run() -> T:
        async with harness.client() as client:
            client.headers.update({"host": HOST})
            return await scenario(client)

    return asyncio.run(run())


def _signed_path() -> str:
    keyring = Keyring(SigningKey("default", SECRET.encode()))
    url = sign_url(f"https://{HOST}/SIGNED", keyring, 1_767_225_600 + 10**7)
    return url.split(HOST, 1)[1]


def _assert_neutral(response: httpx.Response, destination: str) -> None:
    assert response.status_code == 200
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-robots-tag"] == "noindex"
    assert b"shop.example.com" not in response.content
    assert destination.encode() not in response.content
    if response.request.method == "GET":
        assert b"<title>Link</title>" in response.content


@pytest.mark.parametrize(("method", "headers"), NOT_A_CLICK)
def test_a_request_that_spends_no_click_never_learns_a_one_time_destination(
    tmp_path: Path, method: str, headers: dict[str, str]
) -> None:
    harness = _harness(tmp_path)
    signed = _signed_path()

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        answers = []
        for _ in range(3):  # as often as it likes
            answers.append(await client.request(method, "/ONCE", headers=headers))
            answers.append(await client.request(method, signed, headers=headers))
        # The recipient still has the one click.
        answers.append(await client.get("/ONCE", headers={"user-agent": PHONE}))
        return answers

    *neutral, person = _drive(harness, scenario)
    for response in neutral:
        _assert_neutral(response, "https://shop.example.com/")
    assert person.status_code == 302
    assert person.headers["location"].startswith("https://shop.example.com/once")
    events = harness.events()
    assert [(e.outcome, e.routing_reason, e.is_bot) for e in events[:-1]] == [
        (WITHHELD, WITHHELD, True)
    ] * 6
    assert (events[-1].outcome, events[-1].is_bot) == ("ok", False)
    counter = harness.table.items[("DOMAIN#go.example.com", "CLICKS#ONCE")]
    assert counter["click_count"] == 1


def test_a_person_with_a_valid_signature_still_goes_to_the_destination(tmp_path: Path) -> None:
    harness = _harness(tmp_path)
    signed = _signed_path()
    response = _drive(harness, lambda c: c.get(signed, headers={"user-agent": PHONE}))
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://shop.example.com/signed")


def test_links_without_max_clicks_or_signature_still_redirect_bots(tmp_path: Path) -> None:
    harness = _harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.request(method, "/OPEN", headers=headers)
            for method, headers in NOT_A_CLICK
        ]

    for response in _drive(harness, scenario):
        assert response.status_code == 302
        assert response.headers["location"].startswith("https://shop.example.com/open")
    assert {(e.outcome, e.is_bot) for e in harness.events()} == {("ok", True)}


@pytest.mark.parametrize(
    "fields", [{"max_clicks": 1}, {"signature_required": True, "signature_key_id": KEY_ID}]
)
def test_the_contract_decides_it_so_the_preview_shows_the_same(fields: dict[str, Any]) -> None:
    link = compile_link(record("ONE", **fields), "https://www.example.com/unavailable")
    click = ClickInput(now=1_767_300_000, click_id="c1", user_agent="WhatsApp/2.24.6.77 A")
    decision = decide(link, click)
    assert (decision.location, decision.outcome, decision.reason) == ("", WITHHELD, WITHHELD)
    assert decision.destination == "" and event_columns(decision)["is_bot"]
    person = decide(link, click._replace(user_agent=PHONE))
    assert person.outcome == "ok" and person.location.startswith("https://shop.example.com/one")


def test_the_control_plane_preview_of_a_bot_shows_the_neutral_answer() -> None:
    from link_tracking_publisher.services.preview import SimulatedClick, preview_record

    preview = preview_record(
        record("ONE", max_clicks=1), SimulatedClick(user_agent="WhatsApp/2.24.6.77 A", at=1e9)
    )
    assert (preview.policy, preview.redirect_url, preview.destination_url) == (WITHHELD, "", "")

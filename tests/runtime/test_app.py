"""The ASGI app over httpx: routes, headers, policy, signing, routing, bots, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from link_tracking_runtime import Keyring, SigningKey, item_key, sign_url
from runtime_service.store import WARM_UP_HOST
from tests.support.fakes import FakeFirehose, FakeSecrets
from tests.support.records import HOST, item
from tests.support.runtime import DEFAULT_FALLBACK, Harness

T = TypeVar("T")
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"  # noqa: E501 (a real User-Agent, verbatim)
ORIGIN_SECRET = "cloudfront-origin-secret-0123456789"


def drive(harness: Harness, scenario: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    async def run() -> T:
        async with harness.client() as client:
            client.headers.update({"host": HOST, "user-agent": PHONE})
            return await scenario(client)

    return asyncio.run(run())


def test_redirect_headers_and_event(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        items=[
            item(
                resolved_query_params={"utm_source": "sms"},
                dynamic_param_allowlist=["click_id", "sms_msg_id"],
            )
        ],
    )
    response = drive(
        harness,
        lambda c: c.get("/abc123?sms_msg_id=42&other=x", headers={"referer": "https://m.example/"}),
    )
    assert response.status_code == 302
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-robots-tag"] == "noindex"
    location = urlsplit(response.headers["location"])
    assert parse_qs(location.query) == {
        "utm_source": ["sms"],
        "click_id": ["c0ffee00-0000-4000-8000-000000000001"],
        "sms_msg_id": ["42"],
    }
    (event,) = harness.events()
    assert (event.outcome, event.link_id, event.slug, event.domain) == (
        "ok",
        "link-abc123",
        "ABC123",
        HOST,
    )
    assert event.sms_msg_id == "42" and event.forwarded_params == {"sms_msg_id": "42"}
    assert event.campaign_id == "SPRING26" and event.channel == "sms"
    assert event.referer == "https://m.example/" and event.user_agent == PHONE
    assert event.is_bot is False and event.routing_reason == "default"
    assert event.ip_hash and "203.0.113.7" not in json.dumps(event.as_dict())


def test_health_robots_and_disabled(tmp_path: Path) -> None:
    harness = Harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get(p)
            for p in ("/health", "/robots.txt", "/ROBOTS.TXT", "/disabled", "/favicon.ico")
        ]

    health, robots, upper_robots, disabled, favicon = drive(harness, scenario)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert robots.status_code == 200 and robots.text == "User-agent: *\nDisallow: /"
    assert upper_robots.status_code == 404  # reserved, never a slug lookup
    assert disabled.status_code == 200 and "no longer available" in disabled.text
    assert favicon.status_code == 404
    # The one read is /health's background probe of the store (a key no link has).
    assert harness.table.keys_read == [tuple(item_key(WARM_UP_HOST, "PROBE").values())]
    assert harness.events() == []


def test_slugs_that_cannot_be_valid_read_no_link_only_the_domains_record_once(
    tmp_path: Path,
) -> None:
    """No link record is read for a path that cannot be a slug; the domain's record (its
    not-found page) is, once for all of them (then cached, a missing one too)."""
    harness = Harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get(p)
            for p in ("/a/b", "/bad%20slug", "/" + "x" * 65, "/wp-login.php", "/")
        ]

    responses = drive(harness, scenario)
    assert [r.status_code for r in responses] == [302] * 5
    assert {r.headers["location"] for r in responses} == {DEFAULT_FALLBACK}
    assert harness.table.reads == 1
    assert [e.outcome for e in harness.events()] == ["not_found"] * 5


def test_inactive_and_expired_links_go_to_their_fallback(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        items=[
            item("OFF", active=False, fallback_url="https://shop.example.com/ended"),
            item("OLD", expires_at_epoch=1_767_299_999),
        ],
    )

    async def scenario(client: httpx.AsyncClient) -> list[str]:
        return [(await client.get(p)).headers["location"] for p in ("/OFF", "/OLD")]

    assert drive(harness, scenario) == [
        "https://shop.example.com/ended",
        f"https://{HOST}/disabled",
    ]
    assert [e.outcome for e in harness.events()] == ["inactive", "expired"]


def test_max_clicks_is_enforced_and_bots_do_not_spend_it(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item("TWICE", max_clicks=2)])

    async def scenario(client: httpx.AsyncClient) -> list[str]:
        preview = await client.get("/TWICE", headers={"user-agent": "WhatsApp/2.24.6.77 A"})
        head = await client.head("/TWICE")
        people = [await client.get("/TWICE") for _ in range(3)]
        late_preview = await client.get(
            "/TWICE", headers={"user-agent": "TelegramBot (like TwitterBot)"}
        )
        return [
            r.headers.get("location", str(r.status_code)).split("?")[0]
            for r in [preview, head, *people, late_preview]
        ]

    destination, fallback = "https://shop.example.com/twice", f"https://{HOST}/disabled"
    # Bots and HEAD get the neutral page (200, no Location), before and after the clicks run out.
    assert drive(harness, scenario) == ["200", "200", destination, destination, fallback, "200"]
    events = harness.events()
    assert [e.is_bot for e in events] == [True, True, False, False, False, True]
    assert [e.outcome for e in events] == [
        "withheld",
        "withheld",
        "ok",
        "ok",
        "max_clicks",
        "withheld",
    ]
    counter = harness.table.items[("DOMAIN#go.example.com", "CLICKS#TWICE")]
    assert counter["click_count"] == 2


def test_links_without_max_clicks_never_touch_the_counter(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item()])
    drive(harness, lambda c: c.get("/ABC123"))
    assert harness.table.counter_calls == 0


def test_an_unreachable_counter_lets_the_click_through(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item("LIM", max_clicks=1)])

    async def scenario(client: httpx.AsyncClient) -> str:
        await client.get("/LIM")  # cache the record
        harness.table.down = True
        return (await client.get("/LIM")).headers["location"]

    assert drive(harness, scenario).startswith("https://shop.example.com/lim")


def test_signed_links(tmp_path: Path) -> None:
    secret = "link-signing-secret-0123456789"
    harness = Harness(
        tmp_path,
        items=[
            item(
                "SIG",
                signature_required=True,
                signature_key_id="link-signatures/sig",
                dynamic_param_allowlist=["sms_msg_id"],
            )
        ],
        secrets=FakeSecrets({"link-signatures/sig": secret}),
    )
    keyring = Keyring(SigningKey("default", secret.encode()))
    now = int(harness.clock.now)
    good = sign_url(f"https://{HOST}/SIG?sms_msg_id=5", keyring, now + 3600).split(HOST)[1]
    expired = sign_url(f"https://{HOST}/SIG", keyring, now - 1).split(HOST)[1]

    async def scenario(client: httpx.AsyncClient) -> list[str]:
        paths = [good, good.replace("sms_msg_id=5", "sms_msg_id=6"), expired, "/SIG"]
        return [(await client.get(p)).headers["location"] for p in paths]

    fallback = f"https://{HOST}/disabled"
    assert drive(harness, scenario) == [
        "https://shop.example.com/sig?sms_msg_id=5",
        fallback,
        fallback,
        fallback,
    ]
    assert [e.outcome for e in harness.events()] == ["ok"] + ["signature_invalid"] * 3


def test_ab_variant_is_sticky_per_visitor_and_reported(tmp_path: Path) -> None:
    rules = {
        "type": "ab_test",
        "variants": [
            {"name": "a", "url": "https://a.example.com/", "weight": 1},
            {"name": "b", "url": "https://b.example.com/", "weight": 1},
        ],
    }
    harness = Harness(
        tmp_path,
        items=[
            item("AB", routing_rules=rules, dynamic_param_allowlist=["ab_variant", "sms_msg_id"])
        ],
    )

    async def scenario(client: httpx.AsyncClient) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for message in range(40):
            for _ in range(3):
                location = (await client.get(f"/AB?sms_msg_id=m{message}")).headers["location"]
                seen.setdefault(f"m{message}", set()).add(location)
        return seen

    seen = drive(harness, scenario)
    assert all(len(locations) == 1 for locations in seen.values())  # sticky
    hosts = {urlsplit(next(iter(v))).netloc for v in seen.values()}
    assert hosts == {"a.example.com", "b.example.com"}  # and both variants are used
    for locations in seen.values():
        location = urlsplit(next(iter(locations)))
        # The variant on the URL (allowlisted) is the one the host belongs to.
        assert parse_qs(location.query)["ab_variant"] == [location.netloc[0]]
    for event in harness.events():
        assert event.routing_reason == "ab_test"
        assert event.ab_variant in {"a", "b"}


def test_invalid_routing_rules_send_the_visitor_to_the_fallback(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        items=[item("RULES", routing_rules={"type": "geo", "europe": "https://eu.example.com/"})],
    )

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, int]:
        response = await client.get("/RULES", headers={"cloudfront-viewer-country": "DE"})
        return response, harness.app.metrics.counters["RecordProblem.invalid_rules"]

    response, counted = drive(harness, scenario)
    assert response.status_code == 302
    assert response.headers["location"] == f"https://{HOST}/disabled"
    (event,) = harness.events()
    assert event.outcome == "error" and event.routing_reason == "invalid_rules"
    assert counted == 1


def test_geo_routing_uses_the_cloudfront_header(tmp_path: Path) -> None:
    rules = {
        "type": "geo",
        "de": "https://de.example.com/",
        "default": "https://world.example.com/",
    }
    harness = Harness(
        tmp_path, items=[item("GEO", routing_rules=rules, dynamic_param_allowlist=["geo"])]
    )

    async def scenario(client: httpx.AsyncClient) -> list[str]:
        de = await client.get("/GEO", headers={"cloudfront-viewer-country": "DE"})
        other = await client.get("/GEO", headers={"cloudfront-viewer-country": "BR"})
        return [de.headers["location"], other.headers["location"]]

    assert drive(harness, scenario) == [
        "https://de.example.com/?geo=DE",
        "https://world.example.com/?geo=BR",
    ]
    assert [e.geo_country for e in harness.events()] == ["DE", "BR"]


def test_language_routing_reads_accept_language_per_click_from_one_cached_link(
    tmp_path: Path,
) -> None:
    """One link, rules compiled once: each click is routed by its own Accept-Language, and a
    header past the bound or with a q that does not parse goes to the default, never a 500."""
    rules = {
        "type": "language",
        "fr": "https://fr.example.com/",
        "fr-CA": "https://qc.example.com/",
        "default": "https://en.example.com/",
    }
    harness = Harness(
        tmp_path, items=[item("LANG", routing_rules=rules, dynamic_param_allowlist=[])]
    )
    headers = [
        "fr-CA,fr;q=0.9,en;q=0.8",
        "en;q=0.4, fr-CH;q=0.8",
        "de-CH, en;q=0.5",
        "fr;q=abc",
        "fr-CA," * 1400,  # 8.4 KB
        None,
    ]

    async def scenario(client: httpx.AsyncClient) -> tuple[list[tuple[int, str]], int]:
        answers = []
        for header in headers:
            response = await client.get(
                "/LANG", headers={} if header is None else {"accept-language": header}
            )
            answers.append((response.status_code, response.headers["location"]))
        return answers, harness.app.metrics.counters["CacheHit"]

    answers, cache_hits = drive(harness, scenario)
    assert cache_hits == len(headers) - 1
    assert answers == [
        (302, "https://qc.example.com/"),
        (302, "https://fr.example.com/"),
        (302, "https://en.example.com/"),
        (302, "https://en.example.com/"),
        (302, "https://en.example.com/"),
        (302, "https://en.example.com/"),
    ]
    events = harness.events()
    assert [e.routing_reason for e in events] == [
        "language:fr-ca",
        "language:fr",
        "language:default",
        "language:default",
        "language:default",
        "language:default",
    ]
    assert {e.outcome for e in events} == {"ok"}


def test_origin_secret_is_required_except_for_health(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        items=[item()],
        settings={"origin_verify_secret": (ORIGIN_SECRET, "next-origin-secret-0123456789")},
    )

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        return [
            (await client.get("/ABC123")).status_code,
            (
                await client.get("/ABC123", headers={"x-origin-verify": "wrong-secret-0123456789"})
            ).status_code,
            (await client.get("/ABC123", headers={"x-origin-verify": ORIGIN_SECRET})).status_code,
            (
                await client.get(
                    "/ABC123", headers={"x-origin-verify": "next-origin-secret-0123456789"}
                )
            ).status_code,
            (await client.get("/robots.txt")).status_code,
            (await client.get("/health")).status_code,
        ]

    assert drive(harness, scenario) == [403, 403, 302, 302, 403, 200]
    assert len(harness.events()) == 2


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path, items=[item()], settings={"rate_limit_per_minute": 60, "rate_limit_burst": 2}
    )

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/ABC123") for _ in range(3)] + [await client.get("/health")]

    first, second, third, health = drive(harness, scenario)
    assert (first.status_code, second.status_code, third.status_code) == (302, 302, 429)
    assert third.headers["retry-after"] == "1"
    assert health.status_code == 200
    assert len(harness.events()) == 2


def test_methods_other_than_get_and_head_are_refused(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item()])
    response = drive(harness, lambda c: c.post("/ABC123"))
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


@pytest.mark.interpreted_only(reason="replaces RecordStore.get on an instance of a compiled class")
def test_an_unexpected_error_is_a_redirect_to_the_default_fallback(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item()])

    async def broken(*_: Any) -> Any:
        raise ZeroDivisionError("a bug")

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        assert harness.app.store is not None
        harness.app.store.get = broken  # type: ignore[method-assign]
        return await client.get("/ABC123")

    response = drive(harness, scenario)
    assert response.status_code == 302 and response.headers["location"] == DEFAULT_FALLBACK
    assert "ZeroDivisionError" not in response.text and response.text == ""


def test_firehose_is_used_when_configured(tmp_path: Path) -> None:
    firehose = FakeFirehose()
    harness = Harness(tmp_path, items=[item()], firehose=firehose)

    async def scenario(client: httpx.AsyncClient) -> None:
        for _ in range(5):
            await client.get("/ABC123")

    drive(harness, scenario)
    assert len(firehose.records) == 5
    assert not harness.settings.click_events_file.exists()


def test_per_message_links_attribute_the_message_and_count_what_does_not_verify(
    tmp_path: Path,
) -> None:
    from link_tracking_runtime.messages import issue_token

    secret = "per-message-key-0123456789abcdef"
    harness = Harness(
        tmp_path,
        items=[
            item(
                "MSG",
                message_keyring="link-signatures/messages/go",
                dynamic_param_allowlist=["click_id", "sms_ref", "sms_msg_id"],
            ),
            item("PLAIN", query_message_id=False, dynamic_param_allowlist=["sms_msg_id"]),
        ],
        secrets=FakeSecrets({"link-signatures/messages/go": secret}),
    )
    keyring = Keyring(SigningKey("default", secret.encode()))
    token = issue_token(keyring, HOST, "MSG", 1234)
    edited = token[:-1] + ("0" if token[-1] != "0" else "1")

    async def scenario(client: httpx.AsyncClient) -> tuple[list[httpx.Response], dict[str, int]]:
        paths = [
            f"/msg/{token}",  # read from DynamoDB, then the keyring
            f"/MSG/{token.lower()}?sms_msg_id=forged",  # both cached: no I/O
            f"/MSG/{edited}",
            f"/MSG/{token}/",  # a trailing slash: still the link's token
            "/MSG/not-a-token",
            "/PLAIN?sms_msg_id=typed",
        ]
        responses = [await client.get(p) for p in paths]
        return responses, dict(harness.app.metrics.counters)

    responses, counters = drive(harness, scenario)
    assert [r.status_code for r in responses] == [302] * 6
    queries = [parse_qs(urlsplit(r.headers["location"]).query) for r in responses]
    assert [q.get("sms_ref") for q in queries[:4]] == [[token], [token], None, [token]]
    assert all("sms_msg_id" not in q for q in queries)
    events = harness.events()
    assert [e.message_seq for e in events] == [1234, 1234, None, 1234, None, None]
    assert [e.sms_msg_id for e in events] == [None] * 6
    assert [e.outcome for e in events] == ["ok", "ok", "ok", "ok", "not_found", "ok"]
    assert "MessageToken.ok" not in counters  # the events count those
    assert counters["MessageToken.invalid"] == 1
    assert counters["QueryMessageId.ignored"] == 1
    assert harness.secrets.calls == 1  # the keyring is read once, then cached


def test_an_unknown_slug_goes_to_the_domains_not_found_page(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        items=[
            {
                "PK": f"DOMAIN#{HOST}",
                "SK": "APPLINKS",
                "runtime_version": 1,
                "not_found_url": "https://www.example.com/no-such-offer",
            },
            {"PK": "DOMAIN#other.example.com", "SK": "APPLINKS", "runtime_version": 1},
            {
                "PK": "DOMAIN#bad.example.com",
                "SK": "APPLINKS",
                "runtime_version": 1,
                "not_found_url": "javascript:alert(1)",
            },
        ],
    )

    async def scenario(client: httpx.AsyncClient) -> tuple[list[str], dict[str, int]]:
        answers = []
        for host, path in (
            (HOST, "/NOSUCH"),
            (HOST, "/wp-login.php"),
            (HOST, "/NOSUCH/16JY8HCY"),
            ("other.example.com", "/NOSUCH"),
            ("bad.example.com", "/NOSUCH"),
        ):
            answers.append((await client.get(path, headers={"host": host})).headers["location"])
        return answers, dict(harness.app.metrics.counters)

    answers, counters = drive(harness, scenario)
    page = "https://www.example.com/no-such-offer"
    assert answers == [page, page, page, DEFAULT_FALLBACK, DEFAULT_FALLBACK]
    events = harness.events()
    assert [e.outcome for e in events] == ["not_found"] * 5
    assert [e.domain for e in events][:3] == [HOST] * 3
    assert counters["NotFound.domain_page"] == 3

from __future__ import annotations

from typing import get_args

import pytest

from link_tracking_runtime.bots import BOT_REASON_OF_KIND, BOT_REASONS, BotKind, classify
from link_tracking_runtime.click import ClickInput, compile_link, decide, event_columns
from link_tracking_runtime.record import RuntimeRecord
from link_tracking_runtime.routing import device_from_user_agent

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"  # noqa: E501 (a real User-Agent, verbatim)
IMESSAGE = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0"  # noqa: E501 (a real User-Agent, verbatim)


@pytest.mark.parametrize(
    ("user_agent", "kind"),
    [
        ("WhatsApp/2.24.6.77 A", "preview"),
        (IMESSAGE, "preview"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "preview"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "preview"),
        ("TelegramBot (like TwitterBot)", "preview"),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "preview"),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "preview"),
        (
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "preview",
        ),
        ("Twitterbot/1.0", "preview"),
        ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "scanner"),
        ("Mimecast URL Protect", "scanner"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0 Safari/537.36",
            "scanner",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "crawler"),
        ("curl/8.5.0", "script"),
        ("python-requests/2.32.3", "script"),
        ("Go-http-client/1.1", "script"),
        ("okhttp/4.12.0", "script"),
        ("", "script"),
        (None, "script"),
    ],
)
def test_automated_clients_are_recognised(user_agent: str | None, kind: str) -> None:
    assert classify(user_agent) == kind


@pytest.mark.parametrize(
    "user_agent",
    [
        IPHONE,
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",  # noqa: E501 (a real User-Agent, verbatim)
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0",  # noqa: E501 (a real User-Agent, verbatim)
        # A phone whose model name contains BOT is still a person.
        "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",  # noqa: E501 (a real User-Agent, verbatim)
        # In-app browsers are people tapping a link.
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/450.0]",  # noqa: E501 (a real User-Agent, verbatim)
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 330.0",  # noqa: E501 (a real User-Agent, verbatim)
    ],
)
def test_people_are_not_bots(user_agent: str) -> None:
    assert classify(user_agent) is None


def test_head_requests_and_prefetches_are_not_people() -> None:
    assert classify(IPHONE, method="HEAD") == "head"
    assert classify(IPHONE, "prefetch;prerender") == "prefetch"
    assert classify(IPHONE, "preview") == "prefetch"
    assert classify(IPHONE, None) is None


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # iPadOS asks for desktop sites by default: its header is a Mac's, and so is its class.
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",  # noqa: E501 (a real User-Agent, verbatim)
            "desktop",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",  # noqa: E501 (a real User-Agent, verbatim)
            "ios",
        ),
        # Android tablets send no "Mobile".
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",  # noqa: E501 (a real User-Agent, verbatim)
            "android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.3.1 like Chrome/124.0.6367.219 Safari/537.36",  # noqa: E501 (a real User-Agent, verbatim)
            "android",
        ),
        # In-app browsers: Facebook, Instagram, LINE, on both systems.
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/0]",  # noqa: E501 (a real User-Agent, verbatim)
            "ios",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/462.0.0.49.108;]",  # noqa: E501 (a real User-Agent, verbatim)
            "android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 16; Pixel 10 Pro XL Build/CP1A.260305.018; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/146.0.7680.174 Mobile Safari/537.36 MetaIAB Facebook",  # noqa: E501 (a real User-Agent, verbatim; crawler-user-agents lists it)
            "android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 330.0.3.18.85 (iPhone15,2; iOS 17_4; en_US; en; scale=3.00; 1179x2556; 592838398)",  # noqa: E501 (a real User-Agent, verbatim)
            "ios",
        ),
        (
            "Mozilla/5.0 (Linux; Android 15; CPH2557 Build/AP3A.240617.008; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.142 Mobile Safari/537.36 Instagram 406.0.0.58.159 Android (35/15; 480dpi; 1080x2400; OPPO; CPH2557; OP573DL1; mt6833; en_MY; 822918295; IABMV/1) NV/1",  # noqa: E501 (a real User-Agent, verbatim; crawler-user-agents lists it)
            "android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari Line/14.5.0",  # noqa: E501 (a real User-Agent, verbatim)
            "ios",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 Line/14.5.1/IAB",  # noqa: E501 (a real User-Agent, verbatim)
            "android",
        ),
    ],
)
def test_people_keep_their_device_class(user_agent: str, device: str) -> None:
    assert classify(user_agent) is None
    assert device_from_user_agent(user_agent) == device


@pytest.mark.parametrize(
    "user_agent",
    [
        "",
        " \t",
        "A" * 8192,
        "Mozilla/5.0 (" * 700,
        "bot " * 2048,
        bytes(range(256)).decode("latin-1") * 32,
        "\x00\xff\ud800 Googlebot",
        "GOOGLEBOT/2.1",
        "googlebot",
        "gOoGlEbOt/2.1 (+http://www.google.com/bot.html)",
        "Googleb",
        "Mozilla/5.0 (compatible; Goo",
        "WhatsAp",
        "facebookexternalh",
    ],
)
def test_bad_user_agents_are_classified(user_agent: str) -> None:
    kind = classify(user_agent)
    assert kind in (None, "preview", "scanner", "crawler", "script")


@pytest.mark.parametrize(
    "user_agent", ["GOOGLEBOT/2.1", "googlebot/2.1", "WHATSAPP/2.24", "Curl/8.5.0", "SLACKBOT"]
)
def test_bot_names_in_any_case_are_bots(user_agent: str) -> None:
    assert classify(user_agent) is not None


@pytest.mark.parametrize(
    ("user_agent", "kind"),
    [
        # Missed by the hand list this classifier replaces.
        ("Mozilla/5.0 (compatible; MJ12bot/v1.4.7; http://mj12bot.com/)", "crawler"),
        ("GoogleOther", "crawler"),
        ("APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)", "crawler"),
        ("2Bone_LinkChecker/1.0 libwww-perl/6.03", "script"),
        ("Mozilla/4.5 (compatible; HTTrack 3.0x; Windows 98)", "script"),
        ("findlinks/2.6 (+http://wortschatz.uni-leipzig.de/findlinks/)", "crawler"),
        # Kinds come from crawler-user-agents' tags.
        (
            "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
            "scanner",
        ),
        ("python-httpx/0.27.0", "script"),
        ("Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)", "preview"),
    ],
)
def test_clients_the_upstream_lists_name(user_agent: str, kind: str) -> None:
    assert classify(user_agent) == kind


def test_every_bot_kind_has_a_reason_of_the_vocabulary() -> None:
    assert set(BOT_REASON_OF_KIND) == set(get_args(BotKind))
    assert set(BOT_REASON_OF_KIND.values()) < set(BOT_REASONS)
    # Reserved for ingestion-time rules: no request classification gives it.
    assert "behaviour" in BOT_REASONS and "behaviour" not in BOT_REASON_OF_KIND.values()


@pytest.mark.parametrize(
    ("method", "user_agent", "purpose", "reason"),
    [
        ("HEAD", IPHONE, None, "head"),
        ("HEAD", "WhatsApp/2.24.6.77 A", "prefetch", "head"),
        ("GET", IPHONE, "prefetch;anonymous-client-ip", "prefetch_header"),
        ("GET", "WhatsApp/2.24.6.77 A", None, "user_agent"),
        ("GET", None, None, "user_agent"),
        ("GET", IPHONE, None, None),
    ],
)
def test_the_click_event_says_why_a_click_is_a_bots(
    method: str, user_agent: str | None, purpose: str | None, reason: str | None
) -> None:
    record = RuntimeRecord(
        domain="go.example.com",
        slug="WHY",
        link_id="link-why",
        destination_url="https://shop.example.com/why",
        fallback_url="https://go.example.com/disabled",
        active=True,
        runtime_version=1,
    )
    link = compile_link(record, "https://www.example.com/unavailable")
    click = ClickInput(
        now=1_700_000_000.0,
        click_id="c-why",
        method=method,
        user_agent=user_agent,
        purpose=purpose,
    )
    columns = event_columns(decide(link, click))
    assert columns["bot_reason"] == reason
    assert columns["is_bot"] is (reason is not None)

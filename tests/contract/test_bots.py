from __future__ import annotations

import pytest

from link_tracking_runtime.bots import classify

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

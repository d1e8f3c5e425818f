"""Bots and link previews: who fetched the link without a person tapping it.

Messaging apps and social networks fetch a link to draw its preview (WhatsApp, iMessage,
Facebook, Slack, Telegram, Discord, Skype, LinkedIn, X/Twitter, ...), mail security gateways
open every link of a message before delivering it, and scripts fetch links directly. They all
still get the redirect (a preview that cannot follow it shows a broken card), but their click
events say ``is_bot`` and they never spend a link's ``max_clicks``.

Classification is by User-Agent, by the prefetch/preview headers browsers send, and by method
(``HEAD`` is never a person tapping a link): the method first, then the headers, then the
User-Agent; which one decided is the click event's ``bot_reason`` (:data:`BOT_REASON_OF_KIND`).
Results are memoised per User-Agent, which repeat heavily, so the hot path pays a dict lookup;
the first sight of a User-Agent is measured by ``benchmarks/bots_bench.py``.

The User-Agent patterns come from maintained public lists, generated into
:mod:`.bot_patterns` by ``make bot-patterns`` (the sources and their versions are recorded
there): crawler-user-agents names clients one by one, tagged, which gives the kind; isbot's
general patterns catch automated clients nobody has named yet. Our own additions come first:
the messaging-app previewers and mail and web security gateways these lists lack or file
under another kind, and the in-app browsers (Facebook's FBAN/FBAV, Instagram, LINE, ...),
which are people tapping a link even where an upstream pattern would call them a bot. A
User-Agent is classified by its first :data:`AGENT_CLASSIFIED_LENGTH` characters, so an
enormous header costs no more than a long one.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from . import bot_patterns as _upstream

__all__ = [
    "AGENT_CLASSIFIED_LENGTH",
    "BOT_REASONS",
    "BOT_REASON_OF_KIND",
    "PURPOSE_HEADERS",
    "BotKind",
    "agent_kind",
    "classify",
    "is_prefetch",
]

BotKind = Literal["preview", "scanner", "crawler", "script", "prefetch", "head"]

#: Why a click was counted as a bot's (the click event's ``bot_reason``): its User-Agent, a
#: prefetch/preview header (:data:`PURPOSE_HEADERS`), its method (``HEAD``), or how its
#: visitor behaved (reserved for ingestion-time rules: nothing sets it yet).
BOT_REASONS: Final = ("user_agent", "prefetch_header", "head", "behaviour")

#: The ``bot_reason`` of each :data:`BotKind`.
BOT_REASON_OF_KIND: Final[dict[BotKind, str]] = {
    "preview": "user_agent",
    "scanner": "user_agent",
    "crawler": "user_agent",
    "script": "user_agent",
    "prefetch": "prefetch_header",
    "head": "head",
}

#: The characters of a User-Agent that are classified (twice what a click event keeps).
AGENT_CLASSIFIED_LENGTH: Final = 1024


def _lower_case(pattern: str) -> re.Pattern[str]:
    """A case-insensitive pattern, matched against the lower-cased User-Agent: several times
    faster in ``re`` than ``re.IGNORECASE`` over many alternatives (no escape here is a
    letter whose case matters)."""
    return re.compile(pattern.lower())


# Our own additions, before the generated lists: previewers of messaging apps.
_PREVIEW: Final = _lower_case(
    r"WhatsApp|facebookexternalhit|Facebot|meta-externalagent|Twitterbot|Slackbot|Slack-ImgProxy"
    r"|TelegramBot|Discordbot|SkypeUriPreview|LinkedInBot|Pinterestbot|Snap URL Preview"
    r"|redditbot|Embedly|Iframely|vkShare|MicrosoftPreview|Google-PageRenderer|Applebot"
    r"|Mastodon|Bluesky|kakaotalk-scrap"
)
# Mail and web security gateways that open links before a person can (and Office's link
# discovery, headless browsers).
_SCANNER: Final = _lower_case(
    r"Barracuda|Mimecast|Proofpoint|urlscan|Trend ?Micro|Symantec|Forcepoint|IronPort|Zscaler"
    r"|SafeLinks|BingPreview|Microsoft Office|MSOffice|ms-office|Outlook-iOS-Android|Sophos"
    r"|FortiGuard|Cloudmark|Netcraft|Google-Safety"
    r"|Google-InspectionTool|HeadlessChrome|PhantomJS|Lighthouse|Chrome-Lighthouse"
)
# In-app browsers (a full browser engine plus the app's marker) are people: crawler-user-agents
# lists some of them as previewers or scrapers (MetaIAB, an Instagram build id, Viber).
_IN_APP_BROWSER: Final = re.compile(
    r"AppleWebKit/.*(?:\[FB|\bFBAN/|\bFBAV/|\bFB_IAB/|\bFB4A\b|\bMetaIAB\b|\bInstagram\b"
    r"|\bLine/|\bSnapchat\b|\bmusical_ly|\bBytedanceWebview\b|\bViber/)"
)
_SCRIPT: Final = _lower_case(
    r"^(?:curl|Wget|python|aiohttp|Go-http-client|okhttp|Java/|Apache-HttpClient|libwww-perl"
    r"|PostmanRuntime|node-fetch|axios|undici|Dalvik|Ruby|PHP|Guzzle|HTTPie|insomnia|wrk"
    r"|ApacheBench|Deno|Bun|reqwest|Faraday|http\.rb|Jakarta|Scrapy|lua-resty)"
)
# "…bot"/"…Bot" after a letter, or "bot" as a word; case-sensitive on purpose, so "BOT" in a
# phone model (CUBOT) is not a bot.
_CRAWLER_NAME: Final = re.compile(r"[A-Za-z](?:bot|Bot)\b|\bbot\b")
_CRAWLER: Final = _lower_case(r"crawl|spider|slurp|archiver|scrapy|feedfetcher|mediapartners")
# The generated lists, one expression a kind: crawler-user-agents is case-sensitive by design;
# isbot's general patterns are lower case, for a case-insensitive match.
_UPSTREAM: Final[tuple[tuple[BotKind, re.Pattern[str]], ...]] = (
    ("preview", re.compile(_upstream.PREVIEW)),
    ("scanner", re.compile(_upstream.SCANNER)),
    ("script", re.compile(_upstream.SCRIPT)),
    ("crawler", re.compile(_upstream.CRAWLER)),
)
_ANY: Final = _lower_case(_upstream.ANY)
#: The headers (lower case) that say a request is a prefetch or a preview, first present wins.
PURPOSE_HEADERS: Final = ("sec-purpose", "purpose", "x-purpose")
_MEMO_MAX: Final = 4096
_memo: dict[str, BotKind | None] = {}


def _classify_agent(user_agent: str) -> BotKind | None:
    user_agent = user_agent[:AGENT_CLASSIFIED_LENGTH]
    if not user_agent.strip():
        return "script"
    lowered = user_agent.lower()
    if _PREVIEW.search(lowered):
        return "preview"
    if _SCANNER.search(lowered):
        return "scanner"
    if _IN_APP_BROWSER.search(user_agent):
        return None
    if _SCRIPT.search(lowered):
        return "script"
    for kind, pattern in _UPSTREAM:
        if pattern.search(user_agent):
            return kind
    if _ANY.search(lowered) or _CRAWLER_NAME.search(user_agent) or _CRAWLER.search(lowered):
        return "crawler"
    return None


def agent_kind(user_agent: str) -> BotKind | None:
    """What kind of automated client a User-Agent is (memoised), ``None`` for a browser."""
    kind = _memo.get(user_agent, "unknown")
    if kind == "unknown":
        kind = _classify_agent(user_agent)
        if len(_memo) >= _MEMO_MAX:
            _memo.clear()
        _memo[user_agent] = kind
    return kind  # type: ignore[return-value]


def is_prefetch(purpose: str | None) -> bool:
    """Whether a ``Sec-Purpose``/``Purpose``/``X-Purpose`` value asks for a prefetch or preview."""
    return purpose is not None and ("prefetch" in purpose or "preview" in purpose)


def classify(
    user_agent: str | None, purpose: str | None = None, method: str = "GET"
) -> BotKind | None:
    """What kind of automated client made the request, or ``None`` for a person's browser.

    ``purpose`` is the value of the first of :data:`PURPOSE_HEADERS` the request has.
    """
    if method == "HEAD":
        return "head"
    if purpose is not None and is_prefetch(purpose):
        return "prefetch"
    return agent_kind(user_agent or "")

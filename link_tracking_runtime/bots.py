"""Bots and link previews: who fetched the link without a person tapping it.

Messaging apps and social networks fetch a link to draw its preview (WhatsApp, iMessage,
Facebook, Slack, Telegram, Discord, Skype, LinkedIn, X/Twitter, ...), mail security gateways
open every link of a message before delivering it, and scripts fetch links directly. They all
still get the redirect (a preview that cannot follow it shows a broken card), but their click
events say ``is_bot`` and they never spend a link's ``max_clicks``.

Classification is by User-Agent, by the prefetch/preview headers browsers send, and by method
(``HEAD`` is never a person tapping a link). Results are memoised per User-Agent, which repeat
heavily, so the hot path pays a dict lookup.
"""

from __future__ import annotations

import re
from typing import Final, Literal

__all__ = ["PURPOSE_HEADERS", "BotKind", "agent_kind", "classify", "is_prefetch"]

BotKind = Literal["preview", "scanner", "crawler", "script", "prefetch", "head"]

_PREVIEW: Final = re.compile(
    r"WhatsApp|facebookexternalhit|Facebot|meta-externalagent|Twitterbot|Slackbot|Slack-ImgProxy"
    r"|TelegramBot|Discordbot|SkypeUriPreview|LinkedInBot|Pinterestbot|Snap URL Preview"
    r"|redditbot|Embedly|Iframely|vkShare|MicrosoftPreview|Google-PageRenderer|Applebot"
    r"|Mastodon|Bluesky|kakaotalk-scrap",
    re.IGNORECASE,
)
# Mail and web security gateways that open links before a person can. In-app browsers (LINE,
# Snapchat, Instagram, Facebook's FBAN/FB_IAB) are people and deliberately not listed.
_SCANNER: Final = re.compile(
    r"Barracuda|Mimecast|Proofpoint|urlscan|Trend ?Micro|Symantec|Forcepoint|IronPort|Zscaler"
    r"|SafeLinks|BingPreview|Microsoft Office|MSOffice|ms-office|Outlook-iOS-Android|Sophos"
    r"|FortiGuard|Cloudmark|Netcraft|Google-Safety"
    r"|Google-InspectionTool|HeadlessChrome|PhantomJS|Lighthouse|Chrome-Lighthouse",
    re.IGNORECASE,
)
# "…bot"/"…Bot" after a letter, or "bot" as a word; case-sensitive on purpose, so "BOT" in a
# phone model (CUBOT) is not a bot.
_CRAWLER_NAME: Final = re.compile(r"[A-Za-z](?:bot|Bot)\b|\bbot\b")
_CRAWLER: Final = re.compile(
    r"crawl|spider|slurp|archiver|scrapy|feedfetcher|mediapartners", re.IGNORECASE
)
_SCRIPT: Final = re.compile(
    r"^(?:curl|Wget|python|aiohttp|Go-http-client|okhttp|Java/|Apache-HttpClient|libwww-perl"
    r"|PostmanRuntime|node-fetch|axios|undici|Dalvik|Ruby|PHP|Guzzle|HTTPie|insomnia|wrk"
    r"|ApacheBench|Deno|Bun|reqwest|Faraday|http\.rb|Jakarta|Scrapy|lua-resty)",
    re.IGNORECASE,
)
#: The headers (lower case) that say a request is a prefetch or a preview, first present wins.
PURPOSE_HEADERS: Final = ("sec-purpose", "purpose", "x-purpose")
_MEMO_MAX: Final = 4096
_memo: dict[str, BotKind | None] = {}


def _classify_agent(user_agent: str) -> BotKind | None:
    if not user_agent.strip():
        return "script"
    if _PREVIEW.search(user_agent):
        return "preview"
    if _SCANNER.search(user_agent):
        return "scanner"
    if _CRAWLER_NAME.search(user_agent) or _CRAWLER.search(user_agent):
        return "crawler"
    if _SCRIPT.search(user_agent):
        return "script"
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

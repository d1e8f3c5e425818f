"""Link preview: what the runtime will do with one simulated click on a link.

The preview builds the link's runtime record exactly as the publisher does
(:meth:`LinkPublisher.build_record`), compiles it and runs the contract's click decision
(:func:`link_tracking_runtime.click.decide`) on the simulated click: the code the runtime
runs for every click, so a preview is what the runtime will do once the link's current state
is published (``max_clicks`` and signatures need the runtime's counter and keys, and are
reported as limits). Nothing is written anywhere.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from link_tracking_runtime.click import SMS_PARAM, ClickInput, compile_link, decide, event_columns
from link_tracking_runtime.record import RuntimeRecord, plain, to_item
from link_tracking_runtime.routing import device_from_user_agent
from link_tracking_runtime.scan import SCAN_PARAM, SCAN_VALUE, scan_url

from ..models import Link
from .publisher import LinkPublisher

__all__ = [
    "ACCEPT_LANGUAGE_INPUT_MAX_LENGTH",
    "ID_MAX_LENGTH",
    "USER_AGENT_MAX_LENGTH",
    "LinkPreview",
    "SimulatedClick",
    "preview_link",
    "preview_record",
]

#: Bounds of a simulated click's inputs, the API's query and the admin's form alike. An
#: ``Accept-Language`` is taken up to 8 KB (a browser's header can be that long) so that a
#: header over the contract's limit can be previewed: the runtime ignores it, and so does the
#: preview.
USER_AGENT_MAX_LENGTH = 1024
ACCEPT_LANGUAGE_INPUT_MAX_LENGTH = 8192
ID_MAX_LENGTH = 256


@dataclasses.dataclass(frozen=True)
class SimulatedClick:
    """The request a preview simulates. ``visitor_key`` is the visitor's ``ip_hash`` as its
    click events show it: with the User-Agent it fixes the A/B assignment of a click without
    an ``sms_msg_id``, exactly as the runtime keys that visitor (a click with an
    ``sms_msg_id`` is keyed by it). ``at`` is the click time in Unix seconds (default: now)."""

    country: str | None = None
    user_agent: str | None = None
    #: The request's ``Accept-Language`` header, as a browser sends it.
    accept_language: str | None = None
    sms_msg_id: str | None = None
    visitor_key: str | None = None
    at: float | None = None
    click_id: str | None = None
    #: A QR code's scan (the short URL with the contract's scan marker).
    scan: bool = False
    #: A click through a per-message link: the message's sequence number and its token, as
    #: the runtime has them once the token verified (both or neither).
    message_seq: int | None = None
    message_token: str | None = None


@dataclasses.dataclass(frozen=True)
class LinkPreview:
    """The outcome of one simulated click. ``redirect_url`` is where the visitor goes: the
    built URL when ``policy`` is ``ok``, empty when it is ``withheld`` (a bot on a link with
    ``max_clicks`` or a signature gets the runtime's neutral page), else the record's fallback
    URL."""

    short_url: str
    request_url: str
    policy: str
    redirect_url: str
    destination_url: str
    routing_reason: str | None
    ab_variant: str | None
    #: The click event's ``channel``: ``qr`` for a scan, else the link's.
    channel: str | None
    device: str
    click_id: str
    clicked_at: int
    resolved_utm_params: dict[str, str]
    forwarded_params: dict[str, str]
    signature_required: bool
    max_clicks: int | None
    record: dict[str, Any]


def click_input(click: SimulatedClick, now: float, click_id: str) -> ClickInput:
    """The contract's :class:`ClickInput` of a simulated click."""
    params = {SMS_PARAM: click.sms_msg_id} if click.sms_msg_id else {}
    if click.scan:
        params[SCAN_PARAM] = SCAN_VALUE
    query = urlencode(params, quote_via=quote)
    return ClickInput(
        now=now,
        click_id=click_id,
        query=query,
        user_agent=click.user_agent,
        country=click.country,
        ip_hash=click.visitor_key or "",
        accept_language=click.accept_language,
        message=None
        if click.message_seq is None or not click.message_token
        else (click.message_seq, click.message_token.upper()),
    )


def preview_record(
    record: RuntimeRecord, click: SimulatedClick, *, short_url: str = "", request_url: str = ""
) -> LinkPreview:
    """Simulate ``click`` on a runtime record."""
    now = time.time() if click.at is None else click.at
    click_id = click.click_id or str(uuid.uuid4())
    # Where the runtime sends a visitor whose record's own fallback is unusable is its
    # DEFAULT_FALLBACK_URL, a runtime setting; the publisher never writes such a record, and
    # the preview names the domain's /disabled page instead.
    link = compile_link(record, f"https://{record.domain}/disabled")
    decision = decide(link, click_input(click, now, click_id))
    return LinkPreview(
        short_url=short_url,
        request_url=request_url or short_url,
        policy=decision.outcome,
        redirect_url=decision.location,
        destination_url=decision.destination,
        routing_reason=decision.reason,
        ab_variant=decision.variant,
        channel=event_columns(decision)["channel"],
        device=device_from_user_agent(click.user_agent),
        click_id=click_id,
        clicked_at=int(now),
        resolved_utm_params=dict(record.resolved_query_params),
        forwarded_params=decision.forwarded,
        signature_required=record.signature_required,
        max_clicks=record.max_clicks,
        record=plain(to_item(record)),
    )


def preview_link(link: Link, click: SimulatedClick | None = None) -> LinkPreview:
    """Simulate ``click`` on ``link`` as it is now (not as it was last published)."""
    click = click or SimulatedClick()
    now = time.time() if click.at is None else click.at
    record = LinkPublisher().build_record(link, now=now)
    short_url = link.get_full_url()
    request_url = link.get_query_sms_url(click.sms_msg_id) if click.sms_msg_id else short_url
    return preview_record(
        record,
        dataclasses.replace(click, at=now),
        short_url=short_url,
        request_url=scan_url(request_url) if click.scan else request_url,
    )

"""Link preview: what the runtime will do with one simulated click on a link.

The preview builds the link's runtime record exactly as the publisher does
(:meth:`LinkPublisher.build_record`) and runs the contract's own policy check, routing and URL
builder on it: the same code the runtime runs, so a preview is what the runtime will do once
the link's current state is published. Nothing is written anywhere.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from link_tracking_runtime.policy import check_policy
from link_tracking_runtime.record import plain, to_item
from link_tracking_runtime.routing import RoutingContext, device_from_user_agent, route
from link_tracking_runtime.urls import build_redirect_url, forwarded_params

from ..models import Link
from .publisher import LinkPublisher

__all__ = ["LinkPreview", "SimulatedClick", "preview_link"]


@dataclasses.dataclass(frozen=True)
class SimulatedClick:
    """The request a preview simulates. ``visitor_key`` fixes the A/B assignment (default: the
    ``sms_msg_id`` when given, as the runtime does for SMS clicks); ``at`` is the click time in
    Unix seconds (default: now)."""

    country: str | None = None
    user_agent: str | None = None
    sms_msg_id: str | None = None
    visitor_key: str | None = None
    at: float | None = None
    click_id: str | None = None


@dataclasses.dataclass(frozen=True)
class LinkPreview:
    """The outcome of one simulated click. ``redirect_url`` is where the visitor goes: the
    built URL when ``policy`` is ``ok``, else the record's fallback URL."""

    short_url: str
    request_url: str
    policy: str
    redirect_url: str
    destination_url: str
    routing_reason: str | None
    ab_variant: str | None
    device: str
    click_id: str
    clicked_at: int
    resolved_utm_params: dict[str, str]
    forwarded_params: dict[str, str]
    signature_required: bool
    max_clicks: int | None
    record: dict[str, Any]


def preview_link(link: Link, click: SimulatedClick | None = None) -> LinkPreview:
    """Simulate ``click`` on ``link`` as it is now (not as it was last published)."""
    click = click or SimulatedClick()
    now = time.time() if click.at is None else click.at
    record = LinkPublisher().build_record(link, now=now)
    click_id = click.click_id or str(uuid.uuid4())
    request_params = {"sms_msg_id": click.sms_msg_id} if click.sms_msg_id else {}
    outcome = check_policy(record, now)
    short_url = link.get_full_url()
    request_url = link.get_sms_url(click.sms_msg_id) if click.sms_msg_id else short_url
    if outcome != "ok":
        redirect_url, destination, reason, variant = record.fallback_url, "", None, None
    else:
        decision = route(
            record,
            RoutingContext(
                now=now,
                visitor_key=click.visitor_key or click.sms_msg_id or "",
                geo_country=click.country,
                user_agent=click.user_agent,
            ),
        )
        destination, reason, variant = decision.destination, decision.reason, decision.ab_variant
        redirect_url = build_redirect_url(
            record,
            click_id=click_id,
            now=now,
            destination=decision.destination,
            geo_country=click.country,
            ab_variant=decision.ab_variant,
            request_params=request_params,
        )
    return LinkPreview(
        short_url=short_url,
        request_url=request_url,
        policy=outcome,
        redirect_url=redirect_url,
        destination_url=destination,
        routing_reason=reason,
        ab_variant=variant,
        device=device_from_user_agent(click.user_agent),
        click_id=click_id,
        clicked_at=int(now),
        resolved_utm_params=dict(record.resolved_query_params),
        forwarded_params=forwarded_params(record, request_params),
        signature_required=record.signature_required,
        max_clicks=record.max_clicks,
        record=plain(to_item(record)),
    )

"""The preview runs every contract redirect vector and names the runtime's redirect, variant
and reason (what only the runtime's I/O can refuse, a signature or ``max_clicks``, it reports
as a limit)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from link_tracking_publisher.services.preview import SimulatedClick, preview_record
from link_tracking_runtime import from_item, parse_request_query, vectors
from link_tracking_runtime.messages import split_message_path
from link_tracking_runtime.scan import is_scan

DOCUMENT = vectors.load_document("redirect")
#: A request path the runtime answers without the record (a second segment that is no token)
#: is the runtime's routing, not a click the preview simulates.
VECTORS = [
    v
    for v in DOCUMENT["vectors"]
    if v["item"] is not None
    and (
        "/" not in v["request"]["path"].strip("/")
        or split_message_path(v["request"]["path"].strip("/")) is not None
    )
]


def simulated(vector: dict[str, Any]) -> SimulatedClick:
    headers = {k.lower(): v for k, v in vector["request"]["headers"].items()}
    ip_hash = hmac.new(
        DOCUMENT["ip_hash_key"].encode(), DOCUMENT["client_ip"].encode(), hashlib.sha256
    ).hexdigest()
    message = split_message_path(vector["request"]["path"].strip("/"))
    # The runtime verified the token (or did not: then the click is the plain link's).
    sequence = vector["expected"].get("message_seq")
    return SimulatedClick(
        message_seq=sequence,
        message_token=message[1] if message and sequence is not None else None,
        country=headers.get("cloudfront-viewer-country"),
        user_agent=headers.get("user-agent"),
        accept_language=headers.get("accept-language"),
        sms_msg_id=parse_request_query(vector["request"]["query"]).get("sms_msg_id"),
        visitor_key=ip_hash,
        at=vector["now"],
        click_id=vector["click_id"],
        scan=is_scan(parse_request_query(vector["request"]["query"])),
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_preview_answers_vector(vector: dict[str, Any]) -> None:
    record = from_item(vector["item"])
    preview = preview_record(record, simulated(vector))
    expected = vector["expected"]
    if expected["outcome"] in ("signature_invalid", "max_clicks"):
        assert preview.policy == "ok"
        assert preview.signature_required or preview.max_clicks is not None
        return
    if vector["item"].get("fallback_url", "").startswith("https://") or expected["outcome"] == "ok":
        assert preview.redirect_url == expected["location"]
    else:  # the runtime's DEFAULT_FALLBACK_URL is a runtime setting: the preview names /disabled
        assert preview.redirect_url == f"https://{record.domain}/disabled"
    assert preview.policy == expected["outcome"]
    assert preview.routing_reason == expected.get("routing_reason", preview.routing_reason)
    assert preview.ab_variant == expected.get("ab_variant", preview.ab_variant)
    assert preview.channel == expected.get("channel", vector["item"].get("channel"))

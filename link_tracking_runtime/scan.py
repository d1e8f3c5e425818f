"""The QR scan marker: how a short URL printed in a QR code tells the runtime it was scanned.

A QR code encodes :func:`scan_url` of the link's short URL, ``https://go.example.com/ABC?qr=1``.
The click decision recognises the marker (exactly :data:`SCAN_PARAM` = :data:`SCAN_VALUE`;
any other value is no marker) and records the click with the event's ``channel`` column set to
:data:`SCAN_CHANNEL`, so the click statistics' breakdown by channel counts scans apart from
taps. The marker is never forwarded to the destination (only the names of
:data:`~.record.FORWARDED_FROM_REQUEST_PARAMS` ever are) and changes nothing else of the
decision: not the destination, routing, the A/B variant or the policy.

A visitor can type the marker onto a link by hand. Nothing can tell that apart from a scan
(a printed code is public; signing it would not stop anyone from copying the URL out of it),
and it can do no more than label that one click a scan, so it is accepted as one.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = ["SCAN_CHANNEL", "SCAN_PARAM", "SCAN_QUERY", "SCAN_VALUE", "is_scan", "scan_url"]

#: The query parameter a QR code's URL carries (short: every character enlarges the code).
SCAN_PARAM: Final = "qr"
SCAN_VALUE: Final = "1"
SCAN_QUERY: Final = f"{SCAN_PARAM}={SCAN_VALUE}"
#: The click event's ``channel`` of a scan (a choice of the link's ``channel`` too).
SCAN_CHANNEL: Final = "qr"


def is_scan(params: dict[str, str]) -> bool:
    """Whether a request's parsed query (:func:`.urls.parse_request_query`) carries the
    marker."""
    return params.get(SCAN_PARAM) == SCAN_VALUE


def scan_url(short_url: str) -> str:
    """The URL a QR code of ``short_url`` encodes: ``short_url`` with the marker added to its
    query (kept as it is otherwise)."""
    parts = urlsplit(short_url)
    query = f"{parts.query}&{SCAN_QUERY}" if parts.query else SCAN_QUERY
    return urlunsplit(parts._replace(query=query))

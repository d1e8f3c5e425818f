"""Who is clicking: the visitor's IP (behind CloudFront and the ALB), its keyed hash, and the
key that keeps a visitor's A/B variant the same from one click to the next."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

__all__ = ["IpHasher", "client_ip", "forwarded_ip", "visitor_key"]

_MEMO_MAX: Final = 8192


def client_ip(headers: Mapping[str, str], peer: str | None, trusted_proxy_count: int) -> str:
    """The visitor's IP address.

    With ``trusted_proxy_count`` proxies in front (CloudFront then the ALB: 2), each appends
    the address it was called from to ``X-Forwarded-For``, so the visitor is that many entries
    from the right; entries further left were sent by the client and cannot be trusted.
    """
    if trusted_proxy_count > 0:
        return forwarded_ip(headers.get("x-forwarded-for"), peer, trusted_proxy_count)
    return peer or ""


def forwarded_ip(forwarded: str | None, peer: str | None, trusted_proxy_count: int) -> str:
    """:func:`client_ip` given the ``X-Forwarded-For`` value (``trusted_proxy_count`` > 0)."""
    if forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-trusted_proxy_count] if len(hops) >= trusted_proxy_count else hops[0]
    return peer or ""


class IpHasher:
    """HMAC-SHA256 of an IP with a secret key: stable for joins, not reversible by enumerating
    the IPv4 space as a plain hash would be. Memoised (in memory only) per IP."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._memo: dict[str, str] = {}

    def __call__(self, ip: str) -> str:
        hashed = self._memo.get(ip)
        if hashed is None:
            hashed = hmac.new(self._key, ip.encode("utf-8"), hashlib.sha256).hexdigest()
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[ip] = hashed
        return hashed


def visitor_key(ip_hash: str, user_agent: str | None, sms_msg_id: str | None) -> str:
    """The A/B stickiness key: the SMS message id when the click has one (one message, one
    recipient, whatever network the phone is on), else the IP hash and User-Agent."""
    if sms_msg_id:
        return f"sms:{sms_msg_id}"
    return f"ip:{ip_hash}\n{user_agent or ''}"

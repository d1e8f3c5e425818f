"""Who is clicking: the visitor's IP (behind CloudFront and the ALB) and its keyed hash. The key
that keeps a visitor's A/B variant is the contract's (:func:`link_tracking_runtime.click.visitor_key`)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

__all__ = ["IpHasher", "client_ip", "forwarded_ip"]

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
        #: IP → its hash, for the IPs hashed lately (read it, never write it: a hot caller
        #: looks an IP up here before calling).
        self.memo: dict[str, str] = {}

    def __call__(self, ip: str) -> str:
        hashed = self.memo.get(ip)
        if hashed is None:
            hashed = hmac.new(self._key, ip.encode("utf-8"), hashlib.sha256).hexdigest()
            if len(self.memo) >= _MEMO_MAX:
                self.memo.clear()
            self.memo[ip] = hashed
        return hashed

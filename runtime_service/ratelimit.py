"""Per-IP rate limit, answered with ``429`` and ``Retry-After``.

GCRA (the generic cell rate algorithm, a token bucket kept as one number per IP): each IP has
a "theoretical arrival time"; a request moves it one emission interval into the future and is
refused when that would run more than ``burst`` intervals ahead of now. One float per IP,
constant time per request, and entries that have drained are pruned as the table grows.
This limit is per process; WAF's rate rule at CloudFront is the global one.

The bucket is per IPv4 address and per IPv6 /64 (:func:`rate_key`): a /64 is what one
subscriber or one phone gets, and it holds 2**64 addresses, so a bucket per IPv6 address would
be no limit at all.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Final

__all__ = ["RateLimiter", "rate_key"]

_PRUNE_AT: Final = 50_000
_KEYS_MAX: Final = 8192
_keys: dict[str, str] = {}


def rate_key(ip: str) -> str:
    """The rate-limit bucket of ``ip``: an IPv4 address itself; an IPv6 address's /64
    (``2001:db8:1:2::/64``), an IPv4-mapped one's IPv4 address; anything else as given.
    Memoised (a few thousand entries) so a busy visitor's key is one dict lookup."""
    if ":" not in ip:
        return ip
    key = _keys.get(ip)
    if key is None:
        try:
            address = ipaddress.IPv6Address(ip)
        except ValueError:
            key = ip
        else:
            mapped = address.ipv4_mapped
            if mapped is not None:
                key = str(mapped)
            else:
                network = ipaddress.IPv6Network((int(address) >> 64 << 64, 64))
                key = str(network)
        if len(_keys) >= _KEYS_MAX:
            _keys.clear()
        _keys[ip] = key
    return key


class RateLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.enabled = per_minute > 0
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._tolerance = self._interval * burst
        self._tat: dict[str, float] = {}

    def check(self, key: str, now: float) -> float:
        """0 when allowed (and counted), else the seconds until the next request is allowed."""
        if not self.enabled:
            return 0.0
        tat = self._tat.get(key, now)
        if tat < now:
            tat = now
        new_tat = tat + self._interval
        wait = new_tat - now - self._tolerance
        if wait > 0:
            return wait
        if len(self._tat) >= _PRUNE_AT and key not in self._tat:
            self._prune(now)
        self._tat[key] = new_tat
        return 0.0

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))

    def _prune(self, now: float) -> None:
        self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
        if len(self._tat) >= _PRUNE_AT // 2:
            # Too many IPs are active at once to track them all cheaply (a spray from many
            # addresses): forget them rather than pay a full scan per new IP. WAF limits those.
            self._tat.clear()

from __future__ import annotations

from runtime_service.ratelimit import RateLimiter


def test_burst_then_refusal_with_a_wait_then_recovery() -> None:
    limiter = RateLimiter(per_minute=60, burst=3)  # one a second sustained, three at once
    now = 1000.0
    assert [limiter.check("ip", now) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.check("ip", now)
    assert wait > 0
    assert RateLimiter.retry_after(wait) == "1"
    assert limiter.check("other-ip", now) == 0.0
    assert limiter.check("ip", now + wait) == 0.0


def test_sustained_rate_is_enforced() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    allowed = sum(limiter.check("ip", 2000.0 + i * 0.1) == 0.0 for i in range(100))  # 10 s
    assert 10 <= allowed <= 12


def test_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    assert not limiter.enabled
    assert all(limiter.check("ip", 0.0) == 0.0 for _ in range(1000))

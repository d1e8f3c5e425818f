"""Who the runtime thinks is clicking: rate-limit buckets, the forwarded address, click ids.

Before: a visitor with an IPv6 /64 got a fresh rate-limit bucket per address (2**64 buckets);
a second ``X-Forwarded-For`` header line replaced the first, so a client could choose the
address the runtime hashed and rate-limited; click ids came from a Mersenne Twister (seeded
from the OS, but predictable from its output). Now IPv6 is limited per /64 (IPv4 per address),
every ``X-Forwarded-For`` line is joined in order, and each click id is 122 bits from
``os.urandom``.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

import runtime_service.app as app_module
from runtime_service.app import new_click_id
from runtime_service.ratelimit import rate_key
from runtime_service.visitor import IpHasher
from tests.support.records import HOST, item
from tests.support.runtime import Harness


def _statuses(harness: Harness, peers: Sequence[str]) -> list[int]:
    async def run() -> list[int]:
        async with harness.app.running():
            statuses = []
            for peer in peers:
                transport = httpx.ASGITransport(app=harness.app, client=(peer, 50000))
                async with httpx.AsyncClient(
                    transport=transport, base_url=f"https://{HOST}"
                ) as client:
                    statuses.append((await client.get("/ABC123")).status_code)
            return statuses

    return asyncio.run(run())


def test_ipv6_visitors_share_one_bucket_per_64(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path, items=[item()], settings={"rate_limit_per_minute": 1, "rate_limit_burst": 2}
    )
    same_64 = [f"2001:db8:aa:bb:{i:x}::{i + 1:x}" for i in range(5)]
    other_64 = "2001:db8:aa:bc::1"
    # A burst of two for the whole /64, then the other /64 still has its own.
    assert _statuses(harness, [*same_64, other_64]) == [302, 302, 429, 429, 429, 302]


def test_ipv4_visitors_keep_a_bucket_per_address(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path, items=[item()], settings={"rate_limit_per_minute": 1, "rate_limit_burst": 1}
    )
    assert _statuses(harness, ["198.51.100.1", "198.51.100.2", "198.51.100.1"]) == [
        302,
        302,
        429,
    ]


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:0DB8:0001:0002:ffff::", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("not-an-ip:x", "not-an-ip:x"),
    ],
)
def test_rate_key(ip: str, key: str) -> None:
    assert rate_key(ip) == key


def test_every_x_forwarded_for_line_is_joined(tmp_path: Path) -> None:
    """Lines are one list in order: with the client's line, then the viewer's address
    appended by CloudFront, then the ALB's on a line of its own, the visitor is still two
    entries from the right (the last line alone would make every visitor the proxy)."""
    harness = Harness(tmp_path, items=[item()], settings={"trusted_proxy_count": 2})

    async def run() -> None:
        async with harness.app.running():
            transport = httpx.ASGITransport(app=harness.app, client=("10.0.0.5", 50000))
            async with httpx.AsyncClient(transport=transport, base_url=f"https://{HOST}") as c:
                headers = [
                    ("x-forwarded-for", "203.0.113.66, 198.51.100.10"),
                    ("x-forwarded-for", "130.176.0.1"),
                ]
                await c.get("/ABC123", headers=headers)
                # The same addresses on one line are the same visitor.
                await c.get(
                    "/ABC123",
                    headers={"x-forwarded-for": "203.0.113.66, 198.51.100.10, 130.176.0.1"},
                )

    asyncio.run(run())
    hasher = IpHasher(harness.settings.ip_hash_key)
    assert [e.ip_hash for e in harness.events()] == [hasher("198.51.100.10")] * 2


def test_click_ids_come_from_os_urandom(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []

    def urandom(n: int) -> bytes:
        drawn.append(n)
        return bytes(i % 251 for i in range(n))

    def no_prng(*args: object) -> int:
        raise AssertionError("click ids must not come from the random module")

    monkeypatch.setattr(app_module.os, "urandom", urandom)
    monkeypatch.setattr(random.Random, "getrandbits", no_prng)
    monkeypatch.setattr(app_module, "_ids", [])
    values = [new_click_id() for _ in range(300)]
    # Every id is 16 bytes of what os.urandom returned, in order, none used twice.
    assert drawn and all(n % 16 == 0 for n in drawn) and sum(drawn) >= 300 * 16
    stream = b"".join(bytes(i % 251 for i in range(n)) for n in drawn)
    expected = [str(uuid.UUID(bytes=stream[16 * i : 16 * i + 16], version=4)) for i in range(300)]
    assert values == expected


def test_a_forked_worker_never_hands_out_its_parents_click_ids() -> None:
    new_click_id()  # the parent has drawn ids it has not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, new_click_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    parent = [new_click_id() for _ in range(300)]
    assert uuid.UUID(child).version == 4 and child not in parent


def test_click_ids_are_unique_version_4_uuids() -> None:
    ids = {new_click_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(uuid.UUID(v).version == 4 and str(uuid.UUID(v)) == v for v in ids)

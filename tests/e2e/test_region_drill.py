"""The region-loss drill: two regions on this machine (``tests/support/regions.py``: a moto
server, a copy of the table and a runtime each), nginx in front as CloudFront's origin group
(``tests/support/origin_group.py``), steady load, and region A's runtime and DynamoDB killed
with SIGKILL mid-load (a lost region does not drain).

moto cannot replicate a global table between two servers: the links are written to both
regions' tables before the kill (:meth:`TwoRegions.publish`), which is what the global table's
replication would have done for links published before the outage.

What it proves: every request, before and after the kill, gets its link's own destination
(fallbacks counted: zero), region B served the requests after the kill, no click event is
recorded twice, and the click events lost with A are only those A had accepted in its last
flush interval (``EVENT_FLUSH_INTERVAL_SECONDS``) before it was killed: the click RPO.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import orjson
import pytest

from link_tracking_runtime import RuntimeRecord
from tests.support.load import click_id
from tests.support.origin_group import NGINX, origin_group
from tests.support.regions import Region, two_regions

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx)"),
]

HOST = "go.example.com"
HEADERS = {
    "host": HOST,
    "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
}
SLUGS = [f"DRILL{n:02d}" for n in range(40)]
FLUSH_SECONDS = 0.2
LOAD_SECONDS = 8.0
KILL_AT = 3.0
#: How late this process's event loop may read an answer (8 clients on a shared machine).
LOOP_LAG = 0.3


def _record(slug: str) -> RuntimeRecord:
    return RuntimeRecord(
        domain=HOST,
        slug=slug,
        link_id=f"link-{slug.lower()}",
        destination_url=f"https://shop.example.com/{slug.lower()}",
        fallback_url=f"https://{HOST}/disabled",
        active=True,
        runtime_version=1,
        dynamic_param_allowlist=("click_id",),
        channel="sms",
    )


def _events(region: Region) -> list[str]:
    path = region.var_dir / "click-events.ndjson"
    if not path.exists():
        return []
    return [orjson.loads(line)["event_id"] for line in path.read_bytes().splitlines() if line]


async def _load(base_url: str, kill: object, until: float) -> list[tuple[float, str, int, str]]:
    """Requests from 8 clients until ``until`` (monotonic); ``kill()`` at ``KILL_AT``. Each
    answer: (when, slug, status, Location)."""
    answers: list[tuple[float, str, int, str]] = []
    start = time.monotonic()
    killed = asyncio.Event()

    async def client(offset: int) -> None:
        async with httpx.AsyncClient(headers=HEADERS, timeout=10.0) as http:
            n = offset
            while time.monotonic() < until:
                if not killed.is_set() and time.monotonic() - start >= KILL_AT:
                    killed.set()
                    await asyncio.to_thread(kill)  # type: ignore[arg-type]
                slug = SLUGS[n % len(SLUGS)]
                n += 8
                answer = await http.get(f"{base_url}/{slug}")
                answers.append(
                    (time.monotonic(), slug, answer.status_code, answer.headers.get("location", ""))
                )

    await asyncio.gather(*(client(offset) for offset in range(8)))
    return answers


def test_region_a_killed_under_load_every_click_still_gets_its_destination(
    tmp_path: Path,
) -> None:
    settings = {
        "DYNAMODB_TIMEOUT_SECONDS": "0.3",
        "EVENT_FLUSH_INTERVAL_SECONDS": str(FLUSH_SECONDS),
        "RATE_LIMIT_PER_MINUTE": "0",  # every client is 127.0.0.1 here
    }
    with two_regions(tmp_path, runtime_settings=settings) as regions:
        regions.publish([_record(slug) for slug in SLUGS])  # replicated before the outage
        primary = regions.a.base_url.removeprefix("http://")
        secondary = regions.b.base_url.removeprefix("http://")
        with origin_group(primary, secondary, tmp_path / "nginx") as cloudfront:
            killed_at: list[float] = []

            def kill() -> None:
                killed_at.append(time.monotonic())
                regions.a.kill()  # returns once both processes are gone
                killed_at.append(time.monotonic())

            answers = asyncio.run(_load(cloudfront, kill, time.monotonic() + LOAD_SECONDS))
            time.sleep(4 * FLUSH_SECONDS)  # region B's last events reach its sink
        events_a, events_b = _events(regions.a), _events(regions.b)

    kill_time, dead_time = killed_at
    before = [a for a in answers if a[0] < kill_time]
    # An answer A sent just before it died can be read by this loop a little later.
    after = [a for a in answers if a[0] > dead_time + LOOP_LAG]
    assert len(before) > 50 and len(after) > 50, (len(before), len(after))
    fallbacks = [
        a
        for a in answers
        if a[2] != 302 or not a[3].startswith(f"https://shop.example.com/{a[1].lower()}?")
    ]
    assert fallbacks == [], fallbacks[:5]

    ids = [click_id(a[3]) for a in answers]
    assert None not in ids and len(set(ids)) == len(ids)
    assert not set(events_a) & set(events_b)  # each click event reaches one region's sink
    assert len(events_a) == len(set(events_a)) and len(events_b) == len(set(events_b))
    served_by_b = set(events_b) & set(ids)
    not_b = sorted(round(a[0] - dead_time, 3) for a in after if click_id(a[3]) not in served_by_b)
    assert not not_b, not_b  # after the kill: region B alone
    lost = set(ids) - set(events_a) - set(events_b)
    # The click RPO: what A had accepted and not yet written when it was killed, at most one
    # flush interval's worth (and a margin for the write itself).
    window = [
        a for a in answers if kill_time - FLUSH_SECONDS - LOOP_LAG <= a[0] <= dead_time + LOOP_LAG
    ]
    late = sorted(round(a[0] - kill_time, 3) for a in answers if click_id(a[3]) in lost)
    assert lost <= {click_id(a[3]) for a in window}, late
    print(
        f"drill: {len(answers)} clicks, {len(before)} before the kill, {len(after)} after, "
        f"0 fallbacks, {len(served_by_b)} served by region B, {len(lost)} click events lost "
        f"with region A (RPO: {len(window)} clicks answered in its last flush interval)"
    )

"""Each kind of regional outage, with real processes: two "regions" on this machine
(``tests/support/regions.py``: a moto server, a copy of the table and a runtime each), and
what is left of a region killed with SIGKILL.

Each test checks what the runtime does; CloudFront's part (its origin group retries the other
region's origin on a connection error, a timeout or a 5xx) is the step the test takes itself
when a region's runtime refuses the connection or answers 503: it asks the other region.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from link_tracking_runtime import RuntimeRecord
from tests.support.regions import TwoRegions, two_regions

pytestmark = pytest.mark.e2e

HOST = "go.example.com"
HEADERS = {
    "host": HOST,
    "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
}
SLUGS = ("SPRING1", "SPRING2", "SPRING3")


def _record(slug: str) -> RuntimeRecord:
    return RuntimeRecord(
        domain=HOST,
        slug=slug,
        link_id=f"link-{slug.lower()}",
        destination_url=f"https://shop.example.com/{slug.lower()}",
        fallback_url=f"https://{HOST}/disabled",
        active=True,
        runtime_version=1,
        channel="sms",
    )


def _destination(slug: str) -> str:
    return f"https://shop.example.com/{slug.lower()}?"


@pytest.fixture
def regions(tmp_path: Path) -> Iterator[TwoRegions]:
    with two_regions(tmp_path, runtime_settings={"DYNAMODB_TIMEOUT_SECONDS": "0.3"}) as both:
        both.publish([_record(slug) for slug in SLUGS])  # replicated before the outage
        yield both


def _get(base_url: str, slug: str) -> httpx.Response:
    return httpx.get(f"{base_url}/{slug}", headers=HEADERS, timeout=5.0)


def _through_cloudfront(regions: TwoRegions, slug: str) -> httpx.Response:
    """What CloudFront's origin group does: region A, then B on a connection error or a 5xx."""
    try:
        answer = _get(regions.a.base_url, slug)
    except httpx.TransportError:
        return _get(regions.b.base_url, slug)
    if answer.status_code >= 500:
        return _get(regions.b.base_url, slug)
    return answer


def test_dynamodb_only_lost_region_a_serves_from_region_bs_replica(
    regions: TwoRegions,
) -> None:
    regions.a.kill(runtime=False)
    for slug in SLUGS:
        answer = _get(regions.a.base_url, slug)  # region A's runtime itself, no failover
        assert answer.status_code == 302, answer.text
        assert answer.headers["location"].startswith(_destination(slug))
    assert regions.a.runtime is not None
    output = regions.a.runtime.output()
    assert "dynamodb read failed" in output  # its own replica is gone ...
    assert "dynamodb fallback region read failed" not in output  # ... region B's answered


def test_both_dynamodbs_lost_a_cached_link_redirects_and_a_new_one_is_503(
    regions: TwoRegions,
) -> None:
    served = _get(regions.a.base_url, SLUGS[0])
    assert served.headers["location"].startswith(_destination(SLUGS[0]))
    regions.a.kill(runtime=False)
    regions.b.kill(runtime=False)
    cached = _get(regions.a.base_url, SLUGS[0])
    assert cached.status_code == 302
    assert cached.headers["location"].startswith(_destination(SLUGS[0]))
    unread = _get(regions.a.base_url, SLUGS[1])
    assert unread.status_code == 503  # CloudFront's cue to ask region B
    assert "location" not in unread.headers
    assert httpx.get(f"{regions.a.base_url}/health").status_code == 200


def test_runtime_only_lost_cloudfront_reaches_region_b(regions: TwoRegions) -> None:
    regions.a.kill(dynamodb=False)
    with pytest.raises(httpx.ConnectError):  # what CloudFront fails over on
        _get(regions.a.base_url, SLUGS[0])
    for slug in SLUGS:
        answer = _through_cloudfront(regions, slug)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith(_destination(slug))


def test_whole_region_lost_region_b_serves_from_its_own_replica(regions: TwoRegions) -> None:
    regions.a.kill()
    for slug in SLUGS:
        answer = _through_cloudfront(regions, slug)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith(_destination(slug))
    assert regions.b.runtime is not None
    assert "dynamodb read failed" not in regions.b.runtime.output()  # its own replica served

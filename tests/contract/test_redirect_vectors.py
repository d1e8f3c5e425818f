"""The contract's own half of the redirect vectors: policy + URL builder, no runtime."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from link_tracking_runtime import (
    GEO_COUNTRY_HEADER,
    build_redirect_url,
    canonical_host,
    canonical_slug,
    check_policy,
    from_item,
    parse_request_query,
    record,
    vectors,
)

VECTORS = [v for v in vectors.load("redirect") if v["item"] is not None]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_redirect_vector(vector: dict) -> None:
    request = vector["request"]
    rec = from_item(vector["item"])
    # The request addresses exactly this record once canonicalised.
    assert record.make_pk(request["host"]) == vector["item"]["PK"]
    assert record.make_sk(urlsplit(request["path"]).path) == vector["item"]["SK"]

    outcome = check_policy(rec, vector["now"])
    if outcome != "ok":
        assert outcome == vector["expected"]["outcome"]
        assert rec.fallback_url == vector["expected"]["location"]
        return
    headers = {k.lower(): v for k, v in request["headers"].items()}
    location = build_redirect_url(
        rec,
        click_id=vector["click_id"],
        now=vector["now"],
        geo_country=headers.get(GEO_COUNTRY_HEADER),
        request_params=parse_request_query(request["query"]),
    )
    assert location == vector["expected"]["location"]


def test_vectors_cover_every_outcome_the_record_alone_decides() -> None:
    outcomes = {v["expected"]["outcome"] for v in vectors.load("redirect")}
    assert {"ok", "inactive", "expired", "not_found"} <= outcomes


def test_request_canonicalisation() -> None:
    assert canonical_host("GO.Example.com.:443") == "go.example.com"
    assert canonical_slug("/abc123/") == "ABC123"

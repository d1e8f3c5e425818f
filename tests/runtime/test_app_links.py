"""The runtime serves a domain's app-link files from its app-links record, over ASGI: 200
JSON byte for byte as published, cacheable, no redirect and no click event; 404 for a domain
without the file; cached like link records (negative caching too); 503 (not 404) when the
record cannot be read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from link_tracking_runtime import vectors, wire
from link_tracking_runtime.applinks import AASA_PATH, ASSETLINKS_PATH
from tests.support.runtime import DEFAULT_FALLBACK, Harness

VECTORS = vectors.load("applinks")
PATHS = (AASA_PATH, ASSETLINKS_PATH)


def _get(
    harness: Harness, requests: list[tuple[str, str]], method: str = "GET"
) -> list[httpx.Response]:
    async def scenario() -> list[httpx.Response]:
        async with harness.client() as client:
            return [
                await client.request(method, path, headers={"host": host})
                for host, path in requests
            ]

    return asyncio.run(scenario())


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_runtime_serves_the_vectors_documents(vector: dict[str, Any], tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[wire.decode_item(vector["wire"])])
    host = vector["domain"]["domain_name"].upper() + ":443"  # canonicalised like link hosts
    responses = _get(harness, [(host, path) for path in PATHS])
    for path, response in zip(PATHS, responses, strict=True):
        served = vector["served"][path]
        assert "location" not in response.headers
        if served is None:
            assert response.status_code == 404
            assert response.headers["cache-control"] == "no-store"
        else:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            assert response.headers["cache-control"] == "public, max-age=3600"
            assert response.content == served.encode("utf-8")
            json.loads(response.content)
    assert harness.events() == []


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_an_unknown_slug_goes_to_the_vectors_not_found_page(
    vector: dict[str, Any], tmp_path: Path
) -> None:
    harness = Harness(tmp_path, items=[wire.decode_item(vector["wire"])])
    host = vector["domain"]["domain_name"].upper() + ":443"
    (response,) = _get(harness, [(host, "/NOSUCH1")])
    assert response.status_code == 302
    assert response.headers["location"] == (vector["not_found"] or DEFAULT_FALLBACK)
    assert [event.outcome for event in harness.events()] == ["not_found"]


def test_a_domain_without_a_record_gets_404_and_it_is_cached(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    responses = _get(harness, [("go.example.com", path) for path in (*PATHS, *PATHS)])
    assert [r.status_code for r in responses] == [404] * 4
    assert all("location" not in r.headers for r in responses)
    # One read per host: the record holds both files, and "none" is cached (negative cache).
    assert harness.table.reads == 1
    assert harness.events() == []


def test_the_record_is_cached_like_link_records(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[wire.decode_item(VECTORS[0]["wire"])])
    responses = _get(harness, [("go.example.com", AASA_PATH)] * 3)
    assert [r.status_code for r in responses] == [200] * 3
    assert harness.table.reads == 1


def test_head_answers_the_headers_only(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[wire.decode_item(VECTORS[0]["wire"])])
    (response,) = _get(harness, [("go.example.com", ASSETLINKS_PATH)], method="HEAD")
    assert response.status_code == 200 and response.content == b""
    served = VECTORS[0]["served"][ASSETLINKS_PATH].encode()
    assert response.headers["content-length"] == str(len(served))


def test_an_unreadable_record_is_503_not_404(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.table.down = True
    (response,) = _get(harness, [("go.example.com", AASA_PATH)])
    assert response.status_code == 503 and response.headers["retry-after"]


def test_a_malformed_record_is_not_served(tmp_path: Path) -> None:
    item = {"PK": "DOMAIN#go.example.com", "SK": "APPLINKS", "assetlinks": ["not", "text"]}
    harness = Harness(tmp_path, items=[item])
    (response,) = _get(harness, [("go.example.com", ASSETLINKS_PATH)])
    assert response.status_code == 503


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/security.txt",
        "/.well-known/assetlinks.json/x",
        "/.well-known/apple-app-site-association.json",
    ],
)
def test_other_well_known_paths_keep_their_404(path: str, tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[wire.decode_item(VECTORS[0]["wire"])])
    (response,) = _get(harness, [("go.example.com", path)])
    assert response.status_code == 404 and "location" not in response.headers
    assert harness.table.reads == 0
    assert harness.events() == []


def test_a_post_is_405(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[wire.decode_item(VECTORS[0]["wire"])])
    (response,) = _get(harness, [("go.example.com", AASA_PATH)], method="POST")
    assert response.status_code == 405

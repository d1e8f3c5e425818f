"""The app-links record: its key, item and wire forms against the shared vectors, and the
validation of Apple's and Google's documents."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from link_tracking_runtime import InvalidRecord, vectors, wire
from link_tracking_runtime.applinks import (
    AASA_PATH,
    ASSETLINKS_PATH,
    DOCUMENT_MAX_BYTES,
    app_links_key,
    from_app_links_item,
    to_app_links_item,
    validate_apple_app_site_association,
    validate_assetlinks,
)
from link_tracking_runtime.record import COUNTER_SK_PREFIX, SK_PREFIX, plain

VECTORS = vectors.load("applinks")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_item_round_trips_through_the_wire_form(vector: dict[str, Any]) -> None:
    item = wire.decode_item(vector["wire"])
    assert plain(item) == vector["item"]
    record = from_app_links_item(item)
    assert plain(to_app_links_item(record)) == vector["item"]
    assert wire.encode_item(to_app_links_item(record)) == vector["wire"]
    for path, served in vector["served"].items():
        assert record.document(path) == served
        if served is not None:
            json.loads(served)  # the stored text is JSON


def test_the_key_is_the_domains_partition_and_never_a_link_or_counter_key() -> None:
    key = app_links_key("GO.Example.com.")
    assert key == {"PK": "DOMAIN#go.example.com", "SK": "APPLINKS"}
    assert not key["SK"].startswith((SK_PREFIX, COUNTER_SK_PREFIX))


def test_unknown_path_has_no_document() -> None:
    record = from_app_links_item(wire.decode_item(VECTORS[0]["wire"]))
    assert record.document(AASA_PATH) and record.document(ASSETLINKS_PATH)
    assert record.document("/.well-known/security.txt") is None


@pytest.mark.parametrize(
    "item",
    [
        {"PK": "DOMAIN#go.example.com", "SK": "SLUG#ABC"},
        {"PK": "go.example.com", "SK": "APPLINKS"},
        {"PK": "DOMAIN#go.example.com", "SK": "APPLINKS", "assetlinks": ["x"]},
        {"PK": "DOMAIN#go.example.com", "SK": "APPLINKS", "runtime_version": "3"},
    ],
)
def test_malformed_items_are_refused(item: dict[str, Any]) -> None:
    with pytest.raises(InvalidRecord):
        from_app_links_item(item)


AASA = VECTORS[0]["domain"]["apple_app_site_association"]
ASSETLINKS = VECTORS[0]["domain"]["assetlinks"]


def test_the_vectors_documents_are_valid() -> None:
    for vector in VECTORS:
        fixture = vector["domain"]
        if fixture["apple_app_site_association"] is not None:
            assert validate_apple_app_site_association(fixture["apple_app_site_association"]) == []
        if fixture["assetlinks"] is not None:
            assert validate_assetlinks(fixture["assetlinks"]) == []


def _aasa(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(AASA)
    document["applinks"]["details"][0].update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "JSON object"),
        ({}, "'applinks' is required"),
        ({"applinks": []}, "'applinks' is required"),
        ({"applinks": {}}, "'applinks.details' is required"),
        ({"applinks": {"details": []}}, "'applinks.details' is required"),
        ({"applinks": {"apps": ["x"], "details": AASA["applinks"]["details"]}}, "applinks.apps"),
        ({"applinks": {"details": ["x"]}}, "must be an object"),
        ({"applinks": {"details": [{"components": [{"/": "/*"}]}]}}, "needs 'appIDs'"),
        (_aasa(appIDs=[]), "non-empty list of app IDs"),
        (_aasa(appIDs=["com.example.shop"]), "is not an app ID"),
        (_aasa(appIDs=["abcde12345.com.example.shop"]), "is not an app ID"),
        ({"applinks": {"details": [{"appID": "ABCDE12345.x"}]}}, "needs 'components'"),
        (_aasa(components="/*"), "components' must be a list of objects"),
        (_aasa(paths=[1]), "paths' must be a list of strings"),
        ({**AASA, "webcredentials": {"apps": "x"}}, "'webcredentials'"),
        (_aasa(components=[{"/": "x" * DOCUMENT_MAX_BYTES}]), "bytes as compact JSON"),
    ],
)
def test_aasa_errors(document: Any, fragment: str) -> None:
    errors = validate_apple_app_site_association(document)
    assert any(fragment in error for error in errors), errors


def _statement(**target: Any) -> list[dict[str, Any]]:
    document = copy.deepcopy(ASSETLINKS)
    document[0]["target"].update(target)
    return document


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({}, "non-empty JSON list"),
        ([], "non-empty JSON list"),
        (["x"], "must be an object"),
        ([{"target": ASSETLINKS[0]["target"]}], "'relation'"),
        ([{"relation": [], "target": ASSETLINKS[0]["target"]}], "'relation'"),
        ([{"relation": ASSETLINKS[0]["relation"]}], "'target' is required"),
        (_statement(namespace="ios_app"), "'target.namespace'"),
        (_statement(package_name="shop"), "package_name"),
        (_statement(sha256_cert_fingerprints=[]), "sha256_cert_fingerprints"),
        (_statement(sha256_cert_fingerprints=["14:6d:e9"]), "sha256_cert_fingerprints"),
        ([{"relation": ["x"], "target": {"namespace": "web"}}], "needs 'site'"),
    ],
)
def test_assetlinks_errors(document: Any, fragment: str) -> None:
    errors = validate_assetlinks(document)
    assert any(fragment in error for error in errors), errors


def test_a_web_target_is_accepted() -> None:
    statement = {"relation": ["x"], "target": {"namespace": "web", "site": "https://a.example"}}
    assert validate_assetlinks([statement]) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "/relative",
        "https://ok.example.com/a\r\nSet-Cookie: x=1",
        "https://ok.example.com/ä",
        "https://ok.example.com/a b",
        "",
    ],
)
def test_a_not_found_url_that_cannot_be_a_location_reads_as_none(url: str) -> None:
    item = {"PK": "DOMAIN#go.example.com", "SK": "APPLINKS", "runtime_version": 1}
    assert from_app_links_item({**item, "not_found_url": url}).not_found_url is None
    good = "https://www.example.com/offer-ended?from=sms"
    assert from_app_links_item({**item, "not_found_url": good}).not_found_url == good
    with pytest.raises(InvalidRecord):
        from_app_links_item({**item, "not_found_url": 7})

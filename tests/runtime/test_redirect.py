"""The redirect core's own pieces: the memoised URL builder and click ids."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from link_tracking_runtime import build_redirect_url, forwarded_params
from runtime_service.app import new_click_id
from runtime_service.redirect import UrlTemplates
from runtime_service.store import prepare
from tests.support.records import record

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    (
        {"dynamic_param_allowlist": ("click_id", "click_ts", "geo", "ab_variant", "sms_msg_id")},
        {"country": "DE", "ab_variant": "b", "request": {"sms_msg_id": "42"}},
    ),
    ({"resolved_query_params": {"utm_source": "sms", "click_id": "static"}}, {}),
    ({"append_query_params": False, "resolved_query_params": {"utm_source": "sms"}}, {}),
    ({"dynamic_param_allowlist": ("sms_msg_id",)}, {"request": {"sms_msg_id": "a+b&c"}}),
    (
        {"destination_url": "https://shop.example.com/p?x=1#frag"},
        {"destination": "https://b.example.com/?y=2"},
    ),
]


@pytest.mark.parametrize(("fields", "request_"), CASES)
def test_templates_build_exactly_what_the_contract_builds(
    fields: dict[str, Any], request_: dict[str, Any]
) -> None:
    link = prepare(record("T", **fields))
    templates = UrlTemplates()
    params = request_.get("request", {})
    forwarded = forwarded_params(link.record, params)
    destination = request_.get("destination", link.record.destination_url)
    for now, click_id in [
        (1_767_300_000.0, str(uuid.uuid4())),
        (1_767_300_001.5, new_click_id()),
        (1_767_300_001.9, "x"),
    ]:
        expected = build_redirect_url(
            link.record,
            click_id=click_id,
            now=now,
            destination=destination,
            geo_country=request_.get("country"),
            ab_variant=request_.get("ab_variant"),
            request_params=params,
        )
        built = templates.build(
            link,
            click_id,
            now,
            destination,
            request_.get("country"),
            request_.get("ab_variant"),
            forwarded,
        )
        assert built == expected


def test_ids_that_quote_would_change_are_built_directly() -> None:
    link = prepare(record("T"))
    built = UrlTemplates().build(link, "a b/c", 0.0, link.record.destination_url, None, None, {})
    assert built == build_redirect_url(link.record, click_id="a b/c", now=0.0)
    assert "a%20b%2Fc" in built


def test_a_template_is_not_reused_for_a_new_version_of_the_link() -> None:
    templates = UrlTemplates()
    old = prepare(record("T", resolved_query_params={"utm_source": "old"}))
    new = prepare(record("T", resolved_query_params={"utm_source": "new"}))
    assert "utm_source=old" in templates.build(
        old, "id1", 0.0, old.record.destination_url, None, None, {}
    )
    assert "utm_source=new" in templates.build(
        new, "id2", 0.0, new.record.destination_url, None, None, {}
    )


def test_click_ids_are_random_version_4_uuids() -> None:
    ids = {new_click_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in list(ids)[:50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def test_one_template_serves_every_sms_message_id() -> None:
    link = prepare(
        record(
            "SMS",
            destination_url="https://shop.example.com/p?sms_msg_id=old&keep=1#top",
            resolved_query_params={"utm_source": "sms"},
            dynamic_param_allowlist=("click_id", "sms_msg_id"),
        )
    )
    templates = UrlTemplates()
    for value in ["42", "a+b&c", "café", "x y", "%41", "lt0clickid"]:
        click_id = new_click_id()
        forwarded = forwarded_params(link.record, {"sms_msg_id": value})
        built = templates.build(
            link, click_id, 0.0, link.record.destination_url, None, None, forwarded
        )
        assert built == build_redirect_url(
            link.record, click_id=click_id, now=0.0, request_params={"sms_msg_id": value}
        )
    assert len(templates._templates) == 1


def test_a_forked_worker_gets_its_own_id_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    import runtime_service.app as app_module

    source = app_module._IdSource()
    monkeypatch.setattr(app_module.os, "getpid", lambda: 1000)
    parent = [source.bits() for _ in range(3)]
    monkeypatch.setattr(app_module.os, "getpid", lambda: 1001)  # as after a fork
    child = [source.bits() for _ in range(3)]
    assert not set(parent) & set(child)

"""The compiled link: what it keeps of a record, and what links with the same settings share
(the runtime caches one per link; ``benchmarks/scale_bench.py`` measures the bytes)."""

from __future__ import annotations

import gc

from link_tracking_runtime.click import ClickInput, compile_link, decide
from link_tracking_runtime.record import RuntimeRecord

FALLBACK = "https://www.example.com/unavailable"


def _record(slug: str, destination: str, **changes: object) -> RuntimeRecord:
    values: dict[str, object] = dict(
        domain="go.example.com",
        slug=slug,
        link_id=f"link-{slug}",
        destination_url=destination,
        fallback_url="https://go.example.com/disabled",
        active=True,
        runtime_version=1,
        resolved_query_params={"utm_source": "sms", "utm_campaign": "SPRING"},
        dynamic_param_allowlist=("click_id", "sms_msg_id"),
    )
    values.update(changes)
    return RuntimeRecord(**values)  # type: ignore[arg-type]


def _location(record: RuntimeRecord, query: str = "sms_msg_id=42") -> str:
    link = compile_link(record, FALLBACK)
    return decide(link, ClickInput(now=1_700_000_000.0, click_id="c-1", query=query)).location


def test_links_of_one_shape_share_their_location_template() -> None:
    first = compile_link(_record("A", "https://shop.example.com/a"), FALLBACK)
    second = compile_link(_record("B", "https://shop.example.com/b"), FALLBACK)
    names = ("sms_msg_id",)
    # Nothing of either link in it: one template (one object) serves both.
    template = first.template("https://shop.example.com/a", names)
    assert template is not None and "shop.example.com" not in repr(template)
    assert template is second.template("https://shop.example.com/b", names)
    click = ClickInput(now=1_700_000_000.0, click_id="c-1", query="sms_msg_id=42")
    assert decide(first, click).location == (
        "https://shop.example.com/a?utm_campaign=SPRING&utm_source=sms&click_id=c-1&sms_msg_id=42"
    )
    assert decide(second, click).location == (
        "https://shop.example.com/b?utm_campaign=SPRING&utm_source=sms&click_id=c-1&sms_msg_id=42"
    )


def test_a_url_that_does_not_extend_its_destination_keeps_a_template_of_its_own() -> None:
    # The fragment goes after the query: the URL does not start with the destination.
    destination = "https://shop.example.com/a#top"
    first = compile_link(_record("A", destination), FALLBACK)
    second = compile_link(_record("B", destination, link_id="other"), FALLBACK)
    names = ("sms_msg_id",)
    for link in (first, second):
        template = link.template(destination, names)
        assert template is not None
        assert (
            template[0] == "https://shop.example.com/a?utm_campaign=SPRING&utm_source=sms&click_id="
        )
    assert _location(_record("A", destination)) == (
        "https://shop.example.com/a?utm_campaign=SPRING&utm_source=sms&click_id=c-1"
        "&sms_msg_id=42#top"
    )


def test_a_compiled_link_does_not_keep_its_record() -> None:
    record = _record("A", "https://shop.example.com/a", max_clicks=3, signature_required=True)
    link = compile_link(record, FALLBACK)
    decide(link, ClickInput(now=1_700_000_000.0, click_id="c-1", query="sms_msg_id=42"))
    gc.collect()
    assert record not in gc.get_referents(link)
    assert not any(isinstance(o, RuntimeRecord) for o in gc.get_referents(link))
    # What the runtime's checks read of it is kept.
    assert (link.signature_required, link.max_clicks, link.secret, link.needs_io) == (
        True,
        3,
        True,
        True,
    )
    assert (link.domain, link.slug, link.link_id) == ("go.example.com", "A", "link-A")
    assert link.policy(1_700_000_000.0) == "ok"


def test_a_link_keeps_the_callers_host_and_slug_strings() -> None:
    record = _record("ABC", "https://shop.example.com/a")
    key = ("".join(["go.example", ".com"]), "".join(["AB", "C"]))
    assert key[0] is not record.domain and key[1] is not record.slug
    link = compile_link(record, FALLBACK, key)
    assert link.domain is key[0] and link.slug is key[1]
    # A key that is not the record's is not used.
    other = compile_link(record, FALLBACK, ("go.example.com", "XYZ"))
    assert other.slug == "ABC" and other.slug is record.slug

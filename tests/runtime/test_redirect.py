"""The redirect's one path (a cache hit awaits nothing) and click ids."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from pathlib import Path

from runtime_service.app import new_click_id
from tests.support.records import HOST, item
from tests.support.runtime import Harness


def test_click_ids_are_random_version_4_uuids() -> None:
    ids = {new_click_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in list(ids)[:50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def test_a_cache_hit_on_a_link_without_io_awaits_nothing(tmp_path: Path) -> None:
    """The one path is the fast one: a fresh hit on a link that needs neither a signature nor
    the counter is answered with its Location directly; a miss or a signed link with the
    coroutine that does the I/O first."""
    harness = Harness(
        tmp_path,
        items=[
            item("PLAIN"),
            item("SIGNED", signature_required=True, signature_key_id="link-signatures/k"),
        ],
    )

    def answer(slug: str) -> object:
        assert harness.app.redirector is not None
        return harness.app.redirector.redirect(
            "GET", HOST.encode(), f"/{slug}", "", {}, "203.0.113.7", 0.0, harness.clock.now
        )

    async def scenario() -> list[object]:
        async with harness.client():
            miss = answer("PLAIN")
            assert inspect.isawaitable(miss)
            first = await miss
            hit = answer("PLAIN")
            signed = answer("SIGNED")
            assert inspect.isawaitable(signed)
            await signed
            signed_again = answer("SIGNED")  # cached now, but the signature is still I/O
            assert inspect.isawaitable(signed_again)
            await signed_again
            return [first, hit]

    first, hit = asyncio.run(scenario())
    assert isinstance(hit, str) and hit == first.replace("000000000001", "000000000002")

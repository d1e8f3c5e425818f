"""The runtime reads one host from a request, and never one the client disguised.

Before: a request with two ``Host`` lines was answered for the last one (a proxy in front may
have read the first), and ``¹²7.0.0.1`` or ``ｇｏ.example.com`` were keyed as ``127.0.0.1`` and
``go.example.com`` (the IDNA codec's compatibility mapping). Now two ``Host`` lines are a 400
(RFC 9112 §3.2) with no click, and a non-ASCII label that the codec folds into plain ASCII
(rather than its punycode label) keeps the host as typed, which matches no record.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from link_tracking_runtime.record import canonical_host
from tests.support.records import HOST, item
from tests.support.runtime import Harness


@pytest.mark.parametrize(
    ("typed", "posing_as"),
    [
        ("¹²7.0.0.1", "127.0.0.1"),
        ("ｇｏ.example.com", "go.example.com"),
        ("go。example.com", "go.example.com"),
    ],
)
def test_a_host_folded_into_another_by_the_codec_is_not_that_host(
    typed: str, posing_as: str
) -> None:
    assert canonical_host(typed) != posing_as
    assert canonical_host(canonical_host(typed)) == canonical_host(typed)


def test_an_idn_still_keys_as_its_punycode() -> None:
    assert canonical_host("Bücher.Example:443") == "xn--bcher-kva.example"


def test_two_host_lines_are_a_400_and_no_click(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item("ABC123")])

    async def run() -> tuple[int, int, str]:
        async with harness.client() as client:
            two = await client.get(
                "/ABC123", headers=[("host", "evil.example.net"), ("host", HOST)]
            )
            one = await client.get("/ABC123", headers={"host": HOST})
            return two.status_code, one.status_code, one.headers["location"]

    two, one, location = asyncio.run(run())
    assert (two, one) == (400, 302) and location.startswith("https://shop.example.com/")
    assert len(harness.events()) == 1  # the good request's alone


def test_a_disguised_host_gets_the_fallback_not_the_link(tmp_path: Path) -> None:
    # A Host header's bytes are read as Latin-1: b"\xb9\xb27.0.0.1" is "¹²7.0.0.1".
    harness = Harness(tmp_path, items=[item("ABC123", domain="127.0.0.1")])

    async def run() -> list[str]:
        async with harness.client() as client:
            answers = []
            for host in (b"127.0.0.1", "¹²7.0.0.1".encode("latin-1")):
                response = await client.get("/ABC123", headers={"host": host})
                answers.append(response.headers["location"].split("?")[0])
            return answers

    plain, disguised = asyncio.run(run())
    assert plain.startswith("https://shop.example.com/")
    assert disguised == harness.settings.default_fallback_url

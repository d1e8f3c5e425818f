"""Slugs are ASCII as typed: no letter that upper-casing folds into another one's key.

Before: ``ſLUG``, ``ﬁx`` and ``ıd`` were accepted and stored as typed, while their keys fold to
``SLUG``, ``FIX`` and ``ID`` (``str.upper``), so ``short_url`` showed a form that was not the
key, and the runtime served ``/ſLUG`` as ``SLUG``'s link. Now the contract's ``is_valid_slug``
(the control plane's rule and the runtime's) refuses them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from link_tracking_runtime.record import canonical_slug, is_valid_slug
from tests.api.conftest import API
from tests.publisher.factories import AccountFactory, DomainFactory
from tests.support.records import HOST, item
from tests.support.runtime import Harness

FOLDING = ["ſLUG", "ﬁx", "ıd", "Straße"]  # ß upper-cases to SS


@pytest.mark.parametrize("slug", FOLDING)
def test_the_contract_refuses_a_slug_that_folds_into_ascii(slug: str) -> None:
    assert canonical_slug(slug).isascii()  # its key would look like an ordinary slug's
    assert not is_valid_slug(slug)
    assert is_valid_slug(canonical_slug(slug))  # the slug it would have collided with


@pytest.mark.parametrize("slug", FOLDING)
def test_the_api_refuses_it_naming_the_field(slug: str, db: None) -> None:
    from django.contrib.auth import get_user_model

    account = AccountFactory()
    domain = DomainFactory(account=account)
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = APIClient()
    client.force_authenticate(user)
    body: dict[str, Any] = {
        "account": account.pk,
        "domain": str(domain.pk),
        "slug": slug,
        "destination_url": "https://shop.example.com/x",
    }
    response = client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 400 and "slug" in response.json(), response.content


def test_the_runtime_does_not_serve_a_folded_path_as_the_ascii_slug(tmp_path: Path) -> None:
    harness = Harness(tmp_path, items=[item("SLUG")])

    async def run() -> list[str]:
        async with harness.client() as client:
            answers = []
            for path in ("/SLUG", "/" + quote("ſLUG")):
                response = await client.get(path, headers={"host": HOST})
                answers.append(response.headers["location"].split("?")[0])
            return answers

    ascii_answer, folded_answer = asyncio.run(run())
    assert ascii_answer == "https://shop.example.com/slug"
    assert folded_answer == harness.settings.default_fallback_url
    assert [e.outcome for e in harness.events()] == ["ok", "not_found"]

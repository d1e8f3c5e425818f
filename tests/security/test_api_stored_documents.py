"""A domain's stored app-link document past the bounds breaks neither the API nor the admin.

Before: a document nested 940 deep, saved before documents were bounded (here written through
the ORM, past validation), made ``GET domains/`` and ``GET domains/{id}/`` answer 500
(``RecursionError`` while decoding it at the view's stack depth); documents past the other
bounds (50,000 values, 1 MB) were sent whole in every page of domains.

Now the API shows such a document as ``null`` and names the bound in ``app_link_problems``;
one too deep for the decoder loads as its stored text (``documents.UndecodedDocument``), which
a save writes back unchanged, and the admin's domain page shows the same note.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from link_tracking_publisher.documents import UndecodedDocument
from link_tracking_publisher.models import Domain
from link_tracking_runtime.applinks import (
    DOCUMENT_MAX_BYTES,
    DOCUMENT_MAX_DEPTH,
    DOCUMENT_MAX_NODES,
)
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

VALID = {"applinks": {"details": [{"appIDs": ["ABCDE12345.com.example.app"], "paths": ["*"]}]}}


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


DEPTH = f"Nested deeper than {DOCUMENT_MAX_DEPTH} levels; at most {DOCUMENT_MAX_DEPTH}."
STORED = {
    # Deeper than the decoder can go at a view's stack depth, yet written by the ORM here.
    "deep": ({"applinks": _deep(940)}, DEPTH),
    "just past the depth bound": ({"applinks": _deep(DOCUMENT_MAX_DEPTH)}, DEPTH),
    "many values": (
        {"applinks": list(range(5 * DOCUMENT_MAX_NODES))},
        f"More than {DOCUMENT_MAX_NODES} values; at most {DOCUMENT_MAX_NODES}.",
    ),
    "large": (
        {"applinks": ["x" * 1000] * 1000},
        f"bytes as compact JSON; at most {DOCUMENT_MAX_BYTES}.",
    ),
}


@pytest.mark.parametrize("case", sorted(STORED))
def test_the_api_lists_and_shows_a_stored_document_past_the_bounds(
    alice_client: APIClient, domain_a: Any, case: str
) -> None:
    document, problem = STORED[case]
    Domain.objects.filter(pk=domain_a.pk).update(
        apple_app_site_association=document, assetlinks=None
    )
    listed = alice_client.get(f"{API}/domains/")
    one = alice_client.get(f"{API}/domains/{domain_a.pk}/")
    assert (listed.status_code, one.status_code) == (200, 200)
    (row,) = listed.json()["results"]
    for shown in (row, one.json()):
        assert shown["apple_app_site_association"] is None
        assert problem in shown["app_link_problems"]["apple_app_site_association"]
        assert "assetlinks" not in shown["app_link_problems"]
    assert len(listed.content) < 4096  # the document is not in the answer


def test_a_document_within_the_bounds_is_shown_as_stored(
    alice_client: APIClient, domain_a: Any
) -> None:
    Domain.objects.filter(pk=domain_a.pk).update(apple_app_site_association=VALID)
    shown = alice_client.get(f"{API}/domains/{domain_a.pk}/").json()
    assert (shown["apple_app_site_association"], shown["app_link_problems"]) == (VALID, {})


def _store_text(domain: Domain, text: str) -> None:
    table = Domain._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET apple_app_site_association = %s WHERE id = %s",  # noqa: S608
            [text, Domain._meta.pk.get_db_prep_value(domain.pk, connection)],
        )


def test_a_document_too_deep_for_any_decoder_is_kept_and_flagged(
    alice_client: APIClient, domain_a: Any
) -> None:
    """2,000 levels (as deep as SQLite's JSON1 takes): no Python stack decodes it (the
    recursion limit is 1,000), and none encodes it, so it is stored as text here, as another
    client of the database could. It loads as an UndecodedDocument, a save keeps it byte for byte, and a PATCH
    of another field is refused as for any stored document past the bounds (a field error:
    replace it), until the document is replaced."""
    text = "[" * 2000 + "]" * 2000
    _store_text(domain_a, text)
    domain = Domain.objects.get(pk=domain_a.pk)
    assert domain.apple_app_site_association == UndecodedDocument(text)
    domain.save()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT apple_app_site_association FROM {Domain._meta.db_table} WHERE id = %s",  # noqa: S608
            [Domain._meta.pk.get_db_prep_value(domain_a.pk, connection)],
        )
        assert cursor.fetchone()[0] == text

    listed = alice_client.get(f"{API}/domains/")
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert row["apple_app_site_association"] is None
    assert row["app_link_problems"] == {"apple_app_site_association": DEPTH}
    patched = alice_client.patch(f"{API}/domains/{domain_a.pk}/", {"active": False}, format="json")
    assert patched.status_code == 400, patched.content[:500]
    assert patched.json() == {"apple_app_site_association": [DEPTH]}
    replaced = alice_client.patch(
        f"{API}/domains/{domain_a.pk}/",
        {"apple_app_site_association": json.dumps(VALID)},
        format="json",
    )
    assert replaced.status_code == 200, replaced.content[:500]
    assert replaced.json()["app_link_problems"] == {}


@pytest.fixture
def operator_client() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 2000 + "]" * 2000, DEPTH),
        (json.dumps({"applinks": ["x" * 1000] * 1000}), f"at most {DOCUMENT_MAX_BYTES}"),
    ],
)
def test_the_admin_domain_pages_flag_it_too(
    operator_client: Client, domain_a: Any, text: str, problem: str
) -> None:
    _store_text(domain_a, text)
    for url in (
        reverse("admin:link_tracking_domain_changelist"),
        reverse("admin:link_tracking_domain_change", args=[domain_a.pk]),
        reverse("admin:link_tracking_link_add"),
    ):
        page = operator_client.get(url)
        assert page.status_code == 200, url
    page = operator_client.get(reverse("admin:link_tracking_domain_change", args=[domain_a.pk]))
    shown = page.content.decode()
    assert "The stored document is refused" in shown and problem in shown
    assert len(page.content) < 200_000  # the note, not the megabyte

"""Every user-supplied structure has a size and depth bound, checked before any work that grows
with it, and refused at the bound + 1 with an error naming the field and the limit.

Before: a CSV header repeating a column name 50,000 times held a worker for 30 s (duplicates
were counted with ``list.count`` inside a loop over the header) and a 30,000-column header
answered with a 6.8 MB error body; an app-link document of 900 nested lists was accepted,
stored and served, and then broke every admin page offering the domain.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from link_tracking_publisher.models import Domain, Link
from link_tracking_publisher.services.link_import import (
    IMPORT_MAX_COLUMNS,
    IMPORT_MAX_HEADER_BYTES,
    IMPORT_MAX_REPORTED_ERRORS,
)
from link_tracking_runtime import applinks, vectors
from link_tracking_runtime.applinks import DOCUMENT_MAX_DEPTH, DOCUMENT_MAX_NODES
from link_tracking_runtime.routing import MAX_VARIANTS
from tests.api.conftest import API
from tests.publisher.factories import DomainFactory

pytestmark = pytest.mark.django_db

AASA = vectors.load("applinks")[0]["domain"]["apple_app_site_association"]
ROW = "https://shop.example.com/1"


def _import(client: APIClient, account: Any, domain: Any, content: str) -> Any:
    upload = SimpleUploadedFile("links.csv", content.encode(), content_type="text/csv")
    return client.post(
        f"{API}/links/import/",
        {"file": upload, "account": account.pk, "domain": str(domain.pk)},
        format="multipart",
    )


def _header(columns: int) -> str:
    """A header of ``columns`` names: destination_url and unknown ones."""
    return ",".join(["destination_url"] + [f"c{n}" for n in range(columns - 1)])


@pytest.fixture
def operator_client() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


# --- CSV headers --------------------------------------------------------------------------------


def test_a_header_at_the_column_bound_is_read_and_one_more_is_refused(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    at_bound = _import(alice_client, account_a, domain_a, _header(IMPORT_MAX_COLUMNS) + "\n")
    assert at_bound.status_code == 400
    # Read name by name: the unknown columns are reported (each once), not the header's size.
    messages = [e["message"] for e in at_bound.json()["errors"]]
    assert "Unknown column" in messages[0]
    assert not any("IMPORT_MAX_COLUMNS" in m for m in messages)
    response = _import(alice_client, account_a, domain_a, _header(IMPORT_MAX_COLUMNS + 1) + "\n")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 1,
            "column": None,
            "message": f"{IMPORT_MAX_COLUMNS + 1} columns; at most {IMPORT_MAX_COLUMNS} "
            "(IMPORT_MAX_COLUMNS).",
        }
    ]


def test_a_header_at_the_byte_bound_is_read_and_one_byte_more_is_refused(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    name = "destination_url,slug,"
    header = name + "k" * (IMPORT_MAX_HEADER_BYTES - len(name))
    assert len(header.encode()) == IMPORT_MAX_HEADER_BYTES
    at_bound = _import(alice_client, account_a, domain_a, f"{header}\n{ROW},s1,x\n")
    assert at_bound.status_code == 400
    assert [e["column"] for e in at_bound.json()["errors"]] == ["k" * (len(header) - len(name))]
    response = _import(alice_client, account_a, domain_a, f"{header}k\n{ROW},s1,x\n")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 1,
            "column": None,
            "message": f"A header of {IMPORT_MAX_HEADER_BYTES + 1} bytes; at most "
            f"{IMPORT_MAX_HEADER_BYTES} (IMPORT_MAX_HEADER_BYTES).",
        }
    ]


def test_a_repeated_column_is_reported_once(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    header = ",".join(["destination_url"] + ["slug"] * (IMPORT_MAX_COLUMNS - 1))
    response = _import(alice_client, account_a, domain_a, header + "\n")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 1, "column": "slug", "message": "This column appears twice."}
    ]


def test_the_problems_reported_are_bounded(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    # Rows of the wrong width: one problem each, IMPORT_MAX_REPORTED_ERRORS of them reported.
    rows = "".join(f"{ROW},x,y\n" for _ in range(IMPORT_MAX_REPORTED_ERRORS))
    at_bound = _import(alice_client, account_a, domain_a, "destination_url,slug\n" + rows)
    assert len(at_bound.json()["errors"]) == IMPORT_MAX_REPORTED_ERRORS
    rows += f"{ROW},x,y\n" * 2
    errors = _import(alice_client, account_a, domain_a, "destination_url,slug\n" + rows).json()[
        "errors"
    ]
    assert len(errors) == IMPORT_MAX_REPORTED_ERRORS + 1
    assert errors[-1]["message"] == (
        f"And 2 more problems (the first {IMPORT_MAX_REPORTED_ERRORS} are shown)."
    )


def test_the_admin_import_refuses_a_header_past_the_bound(
    operator_client: Client, account_a: Any, domain_a: Any
) -> None:
    content = (_header(IMPORT_MAX_COLUMNS + 1) + "\n").encode()
    response = operator_client.post(
        reverse("admin:link_tracking_link_import"),
        {
            "account": account_a.pk,
            "domain": domain_a.pk,
            "dry_run": "on",
            "file": SimpleUploadedFile("links.csv", content, content_type="text/csv"),
        },
    )
    assert response.status_code == 200
    assert f"at most {IMPORT_MAX_COLUMNS} (IMPORT_MAX_COLUMNS)" in response.content.decode()
    assert not Link.objects.exists()


# --- app-link documents -------------------------------------------------------------------------


def nested(depth: int) -> Any:
    """An AASA whose ``components`` hold lists so that the whole is ``depth`` levels deep."""
    # document > applinks > details > detail > components > component > x: 7 levels of them.
    inner: Any = []
    for _ in range(depth - 7):
        inner = [inner]
    document = json.loads(json.dumps(AASA))
    document["applinks"]["details"][0]["components"] = [{"/": "/*", "x": inner}]
    return document


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def test_the_depth_bound_is_what_the_contract_checks() -> None:
    assert _depth(nested(DOCUMENT_MAX_DEPTH)) == DOCUMENT_MAX_DEPTH
    assert applinks.bound_errors(nested(DOCUMENT_MAX_DEPTH)) == []
    assert applinks.bound_errors(nested(DOCUMENT_MAX_DEPTH + 1)) == [
        f"Nested deeper than {DOCUMENT_MAX_DEPTH} levels; at most {DOCUMENT_MAX_DEPTH}."
    ]
    # Far past the bound, nothing recursive sees it.
    assert applinks.validate_assetlinks(nested(100_000))[0].startswith("Nested deeper")


def _with_nodes(nodes: int) -> Any:
    document = json.loads(json.dumps(AASA))
    counted = _count(document)
    document["applinks"]["details"][0]["paths"] = ["/p"] * (nodes - counted - 1)
    assert _count(document) == nodes
    return document


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (nested(DOCUMENT_MAX_DEPTH), None),
        (nested(DOCUMENT_MAX_DEPTH + 1), f"at most {DOCUMENT_MAX_DEPTH}"),
        (_with_nodes(DOCUMENT_MAX_NODES), None),
        (_with_nodes(DOCUMENT_MAX_NODES + 1), f"at most {DOCUMENT_MAX_NODES}"),
    ],
)
def test_app_link_documents_at_the_bound_are_accepted_and_past_it_refused(
    alice_client: APIClient, domain_a: Any, document: Any, problem: str | None
) -> None:
    url = f"{API}/domains/{domain_a.pk}/"
    response = alice_client.patch(url, {"apple_app_site_association": document}, format="json")
    if problem is None:
        assert response.status_code == 200, response.json()
        return
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["apple_app_site_association"]
    assert problem in body["apple_app_site_association"][0]
    domain_a.refresh_from_db()
    assert domain_a.apple_app_site_association is None


def test_the_admin_refuses_a_document_past_the_depth_bound(operator_client: Client) -> None:
    domain = DomainFactory(domain_name="apps.example.com")
    form = {
        "domain_name": domain.domain_name,
        "purpose": "general",
        "active": "on",
        "status": "active",
        "health_score": "100",
        "url_domain_ref": "",
        "assetlinks": "",
    }
    url = reverse("admin:link_tracking_domain_change", args=[domain.pk])
    too_deep = json.dumps(nested(DOCUMENT_MAX_DEPTH + 1))
    response = operator_client.post(url, {**form, "apple_app_site_association": too_deep})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert f"at most {DOCUMENT_MAX_DEPTH}" in str(errors["apple_app_site_association"])
    at_bound = json.dumps(nested(DOCUMENT_MAX_DEPTH))
    response = operator_client.post(url, {**form, "apple_app_site_association": at_bound})
    assert response.status_code == 302
    assert Domain.objects.get(pk=domain.pk).apple_app_site_association == json.loads(at_bound)


# --- routing rules and bulk lists (bounds that already existed) ---------------------------------


def _variants(count: int) -> dict[str, Any]:
    return {
        "type": "ab_test",
        "variants": [
            {"name": f"v{n}", "url": f"https://shop.example.com/{n}"} for n in range(count)
        ],
    }


def test_routing_rules_at_the_variant_bound_are_accepted_and_past_it_refused(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    body = {"account": account_a.pk, "domain": str(domain_a.pk), "destination_url": ROW}
    response = alice_client.post(
        f"{API}/links/", {**body, "routing_rules": _variants(MAX_VARIANTS + 1)}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["routing_rules"]
    assert f"at most {MAX_VARIANTS} variants" in response.json()["routing_rules"][0]
    response = alice_client.post(
        f"{API}/links/", {**body, "routing_rules": _variants(MAX_VARIANTS)}, format="json"
    )
    assert response.status_code == 201, response.json()


def test_a_bulk_create_at_the_bound_is_made_and_past_it_refused(
    staff_client: APIClient, account_a: Any, domain_a: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {"BULK_CREATE_MAX_LINKS": 3}
    body = {"account": account_a.pk, "domain": str(domain_a.pk), "destination_url": ROW}
    response = staff_client.post(
        f"{API}/links/bulk/", {**body, "keywords": ["A", "B", "C", "D"]}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["keywords"]
    assert response.json()["keywords"] == ["Ensure this field has no more than 3 elements."]
    response = staff_client.post(
        f"{API}/links/bulk/", {**body, "keywords": ["A", "B", "C"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Link.objects.count() == 3

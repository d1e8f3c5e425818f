"""The statistics CSV neutralises formula cells, statistics dates out of range are a field-level
400, and a CSV import refuses what the JSON API refuses.

Before: the statistics CSV wrote a country ``=A1+A2`` or a variant ``-A1`` as it came (the
links export already neutralised them); ``stats/?to=0001-01-01T00:00:00Z`` was a 500
(OverflowError stepping back from it); an imported keyword kept a NUL character that the API
refuses.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from link_tracking_publisher.clicks.stats import EARLIEST, LATEST
from link_tracking_publisher.models import Link
from tests.api.conftest import API
from tests.clicks.rollups import add_clicks
from tests.publisher.factories import LinkFactory

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def link(account_a: Any, domain_a: Any, campaign_a: Any) -> Link:
    link = LinkFactory(account=account_a, domain=domain_a, campaign=campaign_a)
    add_clicks(link, HOUR, human=1, country="=A1+A2", variant="-A1", device="@x")
    return link


def _cells(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [cell for row in csv.reader(io.StringIO(response.content.decode())) for cell in row]


@pytest.mark.parametrize("path", ["links/{link}", "campaigns/{campaign}"])
def test_the_statistics_csv_neutralises_formula_cells(
    alice_client: APIClient, link: Link, path: str
) -> None:
    url = f"{API}/{path.format(link=link.pk, campaign=link.campaign_id)}/stats/"
    cells = _cells(alice_client.get(url, {"format": "csv"}))
    assert {"'=A1+A2", "'-A1", "'@x"} <= set(cells)
    assert not {"=A1+A2", "-A1", "@x"} & set(cells)
    # The JSON keeps the values as they are.
    countries = alice_client.get(url).json()["breakdowns"]["country"]
    assert [row["value"] for row in countries] == ["=A1+A2"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("to", "0001-01-01T00:00:00Z"),
        ("from", "0001-01-01T00:00:00Z"),
        ("from", "9999-12-31T23:00:00Z"),
        ("to", "9999-12-31T23:59:59Z"),
    ],
)
def test_statistics_dates_out_of_range_are_a_field_error(
    alice_client: APIClient, link: Link, name: str, value: str
) -> None:
    response = alice_client.get(f"{API}/links/{link.pk}/stats/", {name: value})
    assert response.status_code == 400
    assert response.json() == {name: [f"Between {EARLIEST.isoformat()} and {LATEST.isoformat()}."]}


def test_statistics_dates_at_the_range_bounds_are_answered(
    alice_client: APIClient, link: Link
) -> None:
    url = f"{API}/links/{link.pk}/stats/"
    response = alice_client.get(url, {"to": EARLIEST.isoformat()})
    assert response.status_code == 200, response.json()
    response = alice_client.get(url, {"from": LATEST.isoformat()})
    assert response.status_code == 200, response.json()


def test_a_csv_import_refuses_a_nul_character_as_the_api_does(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    body = {"account": account_a.pk, "domain": str(domain_a.pk)}
    api = alice_client.post(
        f"{API}/links/",
        {**body, "destination_url": "https://shop.example.com/", "keyword": "A\x00B"},
        format="json",
    )
    assert api.status_code == 400 and list(api.json()) == ["keyword"]
    content = b"destination_url,keyword\nhttps://shop.example.com/,A\x00B\n"
    upload = SimpleUploadedFile("links.csv", content, content_type="text/csv")
    response = alice_client.post(
        f"{API}/links/import/", {**body, "file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 2, "column": "keyword", "message": api.json()["keyword"][0]}
    ]
    assert not Link.objects.exists()

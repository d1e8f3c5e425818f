"""CSV import of links: our layout and Bitly's, a dry run, all or nothing, errors naming the
row and the column; and the round trip export → import into an empty account → export."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link, LinkImport, LinkVersion, PublishOutbox, Tag
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

BITLY = Path(__file__).parent / "data" / "bitly_links_export.csv"


def _post(client: APIClient, account: Any, content: bytes | str, **fields: Any) -> Any:
    if isinstance(content, str):
        content = content.encode()
    upload = SimpleUploadedFile("links.csv", content, content_type="text/csv")
    return client.post(
        f"{API}/links/import/",
        {"file": upload, "account": account.pk, **fields},
        format="multipart",
    )


def _errors(response: Any) -> list[tuple[Any, Any]]:
    return [(e["row"], e["column"]) for e in response.json()["errors"]]


GOOD = (
    "domain,slug,destination_url,keyword,channel,campaign,max_clicks\n"
    "a.example.com,Spring,https://shop.example.com/spring,HELP,sms,SPRING26,5\n"
    ",,https://shop.example.com/other,,email,,\n"
)


def test_an_import_goes_through_the_service_layer(
    alice_client: APIClient, account_a: Any, domain_a: Any, campaign_a: Any, enqueued: Any
) -> None:
    response = _post(alice_client, account_a, GOOD, domain=str(domain_a.pk))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["rows"], body["created"], body["errors"]) == (2, 2, [])
    spring = Link.objects.get(slug_canonical="SPRING")
    assert spring.campaign == campaign_a and spring.max_clicks == 5 and spring.keyword == "HELP"
    assert body["results"][0]["short_url"] == "https://a.example.com/Spring"
    assert LinkVersion.objects.filter(link__account=account_a).count() == 2
    assert PublishOutbox.objects.filter(link__account=account_a).count() == 2
    assert enqueued.call_count == 2  # one publish per link, after commit


def test_a_dry_run_reports_and_writes_nothing(
    alice_client: APIClient, account_a: Any, domain_a: Any, campaign_a: Any
) -> None:
    response = _post(alice_client, account_a, GOOD, domain=str(domain_a.pk), dry_run="true")
    assert response.status_code == 200
    assert response.json()["rows"] == 2 and response.json()["errors"] == []
    assert response.json()["created"] == 0
    assert not Link.objects.exists()


def test_bad_rows_are_named_by_row_and_column_and_nothing_is_written(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    LinkFactory(account=account_a, domain=domain_a, slug="taken")
    content = (
        "slug,destination_url,channel,max_clicks,expires_at\n"
        "ok1,https://shop.example.com/1,sms,,\n"  # row 2: fine on its own
        "bad,javascript:alert(1),sms,,\n"  # row 3
        "TAKEN,https://shop.example.com/3,sms,,\n"  # row 4: taken in the account
        "dup,https://shop.example.com/4,fax,x,\n"  # row 5: two bad columns
        "DUP,https://shop.example.com/5,sms,,2026-01-01\n"  # row 6: dup of 5; no offset
    )
    before = Link.objects.count()
    for dry_run in ("true", "false"):
        response = _post(alice_client, account_a, content, domain=str(domain_a.pk), dry_run=dry_run)
        assert response.status_code == (200 if dry_run == "true" else 400)
        assert sorted(_errors(response)) == [
            (3, "destination_url"),
            (4, "slug"),
            (5, "channel"),
            (5, "max_clicks"),
            (6, "expires_at"),
            (6, "slug"),
        ]
    assert Link.objects.count() == before  # not even row 2


def test_a_per_row_import_keeps_the_good_rows(
    alice_client: APIClient, account_a: Any, domain_a: Any, enqueued: Any
) -> None:
    content = (
        "slug,destination_url\n"
        "ok1,https://shop.example.com/1\n"
        "bad,javascript:alert(1)\n"
        "ok2,https://shop.example.com/2\n"
    )
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk), mode="per_row")
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], _errors(response)) == (2, [(3, "destination_url")])
    assert set(Link.objects.values_list("slug_original", flat=True)) == {"ok1", "ok2"}
    bad_only = "destination_url\njavascript:alert(1)\n"
    response = _post(alice_client, account_a, bad_only, domain=str(domain_a.pk), mode="per_row")
    assert response.status_code == 400  # nothing made
    assert Link.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("url,slug\nhttps://e.com/,a\n", [(1, None)]),
        ("destination_url,colour\nhttps://e.com/,red\n", [(1, "colour")]),
        ("destination_url,slug,slug\nhttps://e.com/,a,b\n", [(1, "slug")]),
        ("destination_url\n", [(None, None)]),
        ("destination_url,slug\nhttps://e.com/\n", [(2, None)]),
    ],
)
def test_a_bad_file_is_reported(
    alice_client: APIClient, account_a: Any, domain_a: Any, content: str, expected: Any
) -> None:
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk))
    assert response.status_code == 400
    assert _errors(response) == expected
    assert not Link.objects.exists()


def test_an_empty_file_is_a_field_error(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    response = _post(alice_client, account_a, b"", domain=str(domain_a.pk))
    assert response.status_code == 400
    assert list(response.json()) == ["file"]


def test_a_file_that_is_not_utf8_is_a_file_error(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    content = "destination_url,keyword\nhttps://e.com/,café\n".encode("latin-1")
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk))
    assert response.status_code == 400
    assert _errors(response) == [(None, None)]
    assert "UTF-8" in response.json()["errors"][0]["message"]


def test_rows_over_the_limit_are_refused(
    alice_client: APIClient, account_a: Any, domain_a: Any, settings: Any
) -> None:
    # Longer than IMPORT_MAX_ROWS is a job (tests/api/test_link_import_jobs.py); longer than
    # IMPORT_ASYNC_MAX_ROWS is refused whole, at once.
    settings.LINK_TRACKING = {
        **getattr(settings, "LINK_TRACKING", {}),
        "IMPORT_MAX_ROWS": 2,
        "IMPORT_ASYNC_MAX_ROWS": 3,
    }
    rows = "".join(f"https://shop.example.com/{n}\n" for n in range(4))
    response = _post(alice_client, account_a, "destination_url\n" + rows, domain=str(domain_a.pk))
    assert response.status_code == 400
    assert _errors(response) == [(5, None)]
    assert "at most 3 per import (IMPORT_ASYNC_MAX_ROWS)" in response.json()["errors"][0]["message"]
    assert not Link.objects.exists()
    assert not LinkImport.objects.exists()


def test_a_row_without_a_domain_needs_one(alice_client: APIClient, account_a: Any) -> None:
    response = _post(alice_client, account_a, "destination_url\nhttps://e.com/\n")
    assert response.status_code == 400
    assert _errors(response) == [(2, "domain")]


def test_another_accounts_domain_is_refused(
    alice_client: APIClient, account_a: Any, domain_a: Any, domain_b: Any
) -> None:
    content = "domain,destination_url\nb.example.com,https://e.com/\n"
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk))
    assert _errors(response) == [(2, "domain")]
    response = _post(
        alice_client, account_a, "destination_url\nhttps://e.com/\n", domain=str(domain_b.pk)
    )
    assert response.status_code == 400
    assert "domain" in response.json()


def test_a_bitly_export_is_accepted_as_it_is(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    response = _post(alice_client, account_a, BITLY.read_bytes(), domain=str(domain_a.pk))
    assert response.status_code == 201, response.json()
    links = {link.slug: link for link in Link.objects.filter(account=account_a)}
    assert set(links) == {"3xSpRnG", "Summer-Deals", "4oldPromo"}
    assert links["Summer-Deals"].destination_url == (
        "https://shop.example.com/summer?utm_source=bitly&x=1,2"
    )
    assert links["4oldPromo"].active is False  # archived in Bitly
    assert links["3xSpRnG"].active is True


def test_a_bad_bitly_row_names_bitlys_column(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    content = "id,link,long_url,title\nbit.ly/x1,https://bit.ly/x1,javascript:alert(1),t\n"
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk))
    assert _errors(response) == [(2, "long_url")]


def _export(client: APIClient) -> list[dict[str, str]]:
    response = client.get(f"{API}/links/export/", {"ordering": "slug_canonical"})
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_round_trip_export_import_export(
    alice_client: APIClient, account_a: Any, domain_a: Any, campaign_a: Any
) -> None:
    with transaction.atomic():
        LinkFactory(
            account=account_a,
            domain=domain_a,
            campaign=campaign_a,
            slug="Spring",
            keyword="HELP",
            max_clicks=7,
            fallback_url="https://shop.example.com/gone",
        )
        # Text a spreadsheet would run as a formula is exported as text and imported back.
        LinkFactory(account=account_a, domain=domain_a, keyword="=1+1", channel="email")
        LinkFactory(account=account_a, domain=domain_a, slug="old", active=False)
        first = _export(alice_client)
        transaction.set_rollback(True)  # the account is empty again
    assert not Link.objects.filter(account=account_a).exists()
    content = io.StringIO()
    writer = csv.DictWriter(content, fieldnames=list(first[0]))
    writer.writeheader()
    writer.writerows(first)
    response = _post(alice_client, account_a, content.getvalue())
    assert response.status_code == 201, response.json()
    assert Link.objects.filter(account=account_a, keyword="=1+1").exists()
    second = _export(alice_client)
    assert "'=1+1" in [row["keyword"] for row in second]
    volatile = {"created_at"}
    assert len(first) == 3
    assert [{k: v for k, v in r.items() if k not in volatile} for r in second] == [
        {k: v for k, v in r.items() if k not in volatile} for r in first
    ]


def test_tags_round_trip_by_name(
    alice_client: APIClient, account_a: Any, domain_a: Any, enqueued: Any
) -> None:
    vip = Tag.objects.create(account=account_a, name="VIP")
    agency = Tag.objects.create(account=account_a, name="agency north")
    with transaction.atomic():
        LinkFactory(account=account_a, domain=domain_a, slug="both", tags=[vip, agency])
        LinkFactory(account=account_a, domain=domain_a, slug="one", tags=[vip])
        LinkFactory(account=account_a, domain=domain_a, slug="none")
        first = _export(alice_client)
        transaction.set_rollback(True)  # the links go, the tags stay
    assert [row["tags"] for row in first] == ["agency north|VIP", "", "VIP"]  # by slug
    content = io.StringIO()
    writer = csv.DictWriter(content, fieldnames=list(first[0]))
    writer.writeheader()
    writer.writerows(first)
    response = _post(alice_client, account_a, content.getvalue())
    assert response.status_code == 201, response.json()
    assert set(Link.objects.get(slug_canonical="BOTH").tags.all()) == {vip, agency}
    assert list(Link.objects.get(slug_canonical="ONE").tags.all()) == [vip]
    volatile = {"created_at"}
    assert [{k: v for k, v in r.items() if k not in volatile} for r in _export(alice_client)] == [
        {k: v for k, v in r.items() if k not in volatile} for r in first
    ]


def test_a_tag_that_is_not_the_accounts_is_an_error_of_its_row(
    alice_client: APIClient, account_a: Any, domain_a: Any, account_b: Any
) -> None:
    Tag.objects.create(account=account_a, name="vip")
    Tag.objects.create(account=account_b, name="theirs")
    content = (
        "slug,destination_url,tags\n"
        "ok,https://shop.example.com/1, VIP | vip |\n"  # row 2: names in any case, blanks
        "bad,https://shop.example.com/2,vip|nope\n"  # row 3
        "b,https://shop.example.com/3,theirs\n"  # row 4: another account's
    )
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["row"], e["column"], e["message"]) for e in errors] == [
        (3, "tags", "No tag 'nope' in this account."),
        (4, "tags", "No tag 'theirs' in this account."),
    ]
    response = _post(alice_client, account_a, content, domain=str(domain_a.pk), mode="per_row")
    assert response.status_code == 201
    assert [t.name for t in Link.objects.get(slug_canonical="OK").tags.all()] == ["vip"]
    assert not Tag.objects.filter(name="nope").exists()  # an import creates no tag

"""Per-message SMS links through the API and the service: issued under the domain's keyring
(moto's Secrets Manager), verified with the contract's verify_token (what the runtime runs),
mapped back to the host's message id when the click is ingested."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from link_tracking_publisher.api.serializers import SMS_URLS_API_MAX
from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.message_links import SMS_URLS_MAX, sms_urls
from link_tracking_publisher.models import MessageClick, MessageToken
from link_tracking_publisher.services import domains as domain_service
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_runtime import keyring_from_secret_string
from link_tracking_runtime.messages import split_message_path, verify_token
from tests.clicks.conftest import T0, click, write_ndjson
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

KEYRING = json.dumps({"current": {"kid": "m1", "secret": "m" * 32}})
NAME = "link-signatures/messages/a.example.com"


@pytest.fixture
def keyring(aws: None) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=NAME, SecretString=KEYRING)
    return NAME


@pytest.fixture
def message_link(account_a: Any, domain_a: Any, keyring: str) -> Any:
    domain_a.message_keyring = keyring
    domain_a.save()
    return LinkFactory(account=account_a, domain=domain_a, slug="Spring7")


def _sequence(url: str) -> int | None:
    parts = urlsplit(url)
    split = split_message_path(parts.path.strip("/"))
    assert split is not None, url
    slug, token = split
    return verify_token(
        keyring_from_secret_string(KEYRING), parts.hostname or "", slug.upper(), token
    )


def test_each_message_gets_its_own_short_url_that_the_contract_verifies(
    staff_client: APIClient, message_link: Any
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(50)]
    response = staff_client.post(
        f"{API}/links/{message_link.pk}/sms-urls/", {"message_ids": ids}, format="json"
    )
    assert response.status_code == 200, response.content
    urls = response.json()["urls"]
    assert [u["message_id"] for u in urls] == ids
    short = message_link.get_full_url()
    for number, entry in enumerate(urls):
        assert entry["url"].startswith(short + "/")
        assert len(entry["url"]) <= len(short) + 10
        assert "sms_msg_id" not in entry["url"] and entry["message_id"] not in entry["url"]
        assert _sequence(entry["url"]) == number
    mapping = dict(
        MessageToken.objects.filter(link=message_link).values_list("sequence", "sms_msg_id")
    )
    assert mapping == dict(enumerate(ids))
    # Asked again (a retried send): the same URLs, no new numbers.
    again = staff_client.post(
        f"{API}/links/{message_link.pk}/sms-urls/", {"message_ids": ids[:3]}, format="json"
    )
    assert [u["url"] for u in again.json()["urls"]] == [u["url"] for u in urls[:3]]
    assert MessageToken.objects.filter(link=message_link).count() == 50
    message_link.refresh_from_db()
    assert message_link.messages_issued == 50


def test_get_sms_url_and_the_query_form_without_a_keyring(
    account_a: Any, domain_a: Any, message_link: Any
) -> None:
    url = message_link.get_sms_url("host-42")
    assert _sequence(url) == 0
    assert message_link.get_sms_url("host-42") == url
    plain = LinkFactory(account=account_a, domain=domain_a, slug="Plain7")
    plain.domain.message_keyring = ""  # another domain object's view: no keyring
    assert plain.get_sms_url("a b") == f"{plain.get_full_url()}?sms_msg_id=a%20b"


def test_the_runtime_record_carries_the_domain_keyring_and_changing_it_republishes(
    account_a: Any, domain_a: Any, keyring: str, django_capture_on_commit_callbacks: Any
) -> None:
    link = LinkFactory(account=account_a, domain=domain_a, query_message_id=False)
    record = LinkPublisher().build_record(link)
    assert (record.message_keyring, record.query_message_id) == (None, False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        domain_service.update_domain(domain_a, message_keyring=keyring)
    assert callbacks, "changing the keyring republishes the domain's links"
    link.refresh_from_db()
    assert LinkPublisher().build_record(link).message_keyring == keyring


def test_clicks_on_per_message_links_are_attributed_to_the_host_message_id(
    tmp_path: Path, staff_client: APIClient, message_link: Any
) -> None:
    ids = ["sms-1", "sms-2"]
    staff_client.post(
        f"{API}/links/{message_link.pk}/sms-urls/", {"message_ids": ids}, format="json"
    )
    events = [
        click(message_link, at=T0 + 1, message_seq=0),
        click(message_link, at=T0 + 2, message_seq=1, ip_hash="b"),
        click(message_link, at=T0 + 3, message_seq=1, ip_hash="b", is_bot=True),
        click(message_link, at=T0 + 4, message_seq=999),  # never issued: no message
        click(message_link, at=T0 + 5, sms_msg_id="typed"),  # the query-string form
    ]
    path = write_ndjson(tmp_path / "e.ndjson", events)
    with CaptureQueriesContext(connection) as queries:
        report = ingest_objects(local_objects(path), now=T0 + 86400)
    assert report.counted == 5
    rows = {m.sms_msg_id: (m.human_clicks, m.bot_clicks) for m in MessageClick.objects.all()}
    assert rows == {"sms-1": (1, 0), "sms-2": (1, 1), "typed": (1, 0)}
    lookups = [q for q in queries.captured_queries if "messagetoken" in q["sql"].lower()]
    assert len(lookups) == 1  # one query per chunk, not per click


def test_bad_input_is_a_field_error(staff_client: APIClient, message_link: Any) -> None:
    url = f"{API}/links/{message_link.pk}/sms-urls/"
    for body in (
        {},
        {"message_ids": []},
        {"message_ids": "m1"},
        {"message_ids": [""]},
        {"message_ids": [42]},
        {"message_ids": ["x" * 129]},
        {"message_ids": ["ok", None]},
    ):
        response = staff_client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert "message_ids" in response.json(), body
    assert not MessageToken.objects.exists()


def test_too_many_ids_are_refused_before_any_is_looked_at(
    staff_client: APIClient, message_link: Any
) -> None:
    body = {"message_ids": [{"not": "a string"}] * (SMS_URLS_API_MAX + 1)}
    response = staff_client.post(f"{API}/links/{message_link.pk}/sms-urls/", body, format="json")
    assert response.status_code == 400
    assert response.json()["message_ids"] == [
        f"Ensure this field has no more than {SMS_URLS_API_MAX} elements."
    ]


def test_a_link_that_can_attribute_no_message_is_a_conflict(
    staff_client: APIClient, account_a: Any, domain_a: Any, aws: None
) -> None:
    link = LinkFactory(account=account_a, domain=domain_a, query_message_id=False)
    response = staff_client.post(
        f"{API}/links/{link.pk}/sms-urls/", {"message_ids": ["m"]}, format="json"
    )
    assert response.status_code == 409
    assert "message_keyring" in response.json()["detail"]
    domain_a.message_keyring = "link-signatures/messages/missing"
    domain_a.save()
    response = staff_client.post(
        f"{API}/links/{link.pk}/sms-urls/", {"message_ids": ["m"]}, format="json"
    )
    assert response.status_code == 409
    assert not MessageToken.objects.exists()


def test_another_accounts_link_is_not_found(bob_client: APIClient, message_link: Any) -> None:
    response = bob_client.post(
        f"{API}/links/{message_link.pk}/sms-urls/", {"message_ids": ["m"]}, format="json"
    )
    assert response.status_code == 404


def test_a_send_of_100k_messages_is_issued_in_one_call(message_link: Any) -> None:
    ids = [f"msg-{n}" for n in range(SMS_URLS_MAX)]
    urls = sms_urls(message_link, ids)
    short = message_link.get_full_url()
    assert len(urls) == len(set(urls)) == SMS_URLS_MAX
    assert max(map(len, urls)) <= len(short) + 10
    assert _sequence(urls[-1]) == SMS_URLS_MAX - 1
    with pytest.raises(Exception, match="At most"):
        sms_urls(message_link, [*ids, "one-more"])

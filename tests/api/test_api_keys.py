"""API keys through the API: managed by users, used by machine clients, bounded by scopes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.models import ApiKey, Link, LinkImport, LinkVersion
from link_tracking_publisher.services import api_keys as api_key_service
from link_tracking_publisher.tasks import publish_link_task
from link_tracking_publisher.tasks.import_tasks import run_link_import_task
from tests.clicks.conftest import T0, click, write_ndjson
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

ALL_SCOPES = list(ApiKey.Scope.values)


def key_client(raw: str) -> APIClient:
    """A client holding only an API key: no session, no user."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def make_key(account_a: Any) -> Callable[..., tuple[ApiKey, str]]:
    def make(*scopes: str, account: Any = None, **fields: Any) -> tuple[ApiKey, str]:
        return api_key_service.create_api_key(
            account=account or account_a, name="crm", scopes=scopes or ALL_SCOPES, **fields
        )

    return make


@pytest.fixture
def link_body(account_a: Any, domain_a: Any) -> dict[str, Any]:
    return {
        "account": account_a.pk,
        "domain": str(domain_a.pk),
        "destination_url": "https://shop.example.com/spring",
        "reason": "campaign from the CRM",
    }


# --- managed by users -------------------------------------------------------------------------


def test_create_shows_the_key_once_and_the_list_never(
    alice_client: APIClient, alice: Any, account_a: Any
) -> None:
    response = alice_client.post(
        f"{API}/api-keys/",
        {"account": account_a.pk, "name": "SMS app", "scopes": ["stats:read", "links:read"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    raw = created["key"]
    assert raw.startswith(created["prefix"] + "_") and created["prefix"].startswith("lt_")
    assert len(created["prefix"]) == 11
    assert created["scopes"] == ["links:read", "stats:read"]  # declared order
    assert created["created_by"] == "alice" and created["revoked"] is False

    key = ApiKey.objects.get(pk=created["id"])
    assert raw not in key.secret_hash and key.secret_hash == api_key_service.key_hash(raw)
    listed = alice_client.get(f"{API}/api-keys/").json()["results"]
    assert [row["prefix"] for row in listed] == [created["prefix"]]
    assert "key" not in listed[0] and raw not in str(listed)
    detail = alice_client.get(f"{API}/api-keys/{key.pk}/").json()
    assert "key" not in detail and raw not in str(detail)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["links:delete"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["links:read"] * 50}, "scopes"),
        ({"name": "x", "scopes": "links:read"}, "scopes"),
        ({"name": "", "scopes": ["links:read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["links:read"]}, "name"),
        (
            {"name": "x", "scopes": ["links:read"], "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
        ),
    ],
)
def test_bad_input_is_a_field_level_400(
    alice_client: APIClient, account_a: Any, body: dict[str, Any], field: str
) -> None:
    response = alice_client.post(
        f"{API}/api-keys/", {"account": account_a.pk, **body}, format="json"
    )
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not ApiKey.objects.exists()


def test_keys_of_another_account_do_not_exist(
    alice_client: APIClient, bob_client: APIClient, account_a: Any, make_key: Any
) -> None:
    key, _ = make_key()
    assert bob_client.get(f"{API}/api-keys/").json()["results"] == []
    assert bob_client.get(f"{API}/api-keys/{key.pk}/").status_code == 404
    assert bob_client.post(f"{API}/api-keys/{key.pk}/revoke/").status_code == 404
    response = bob_client.post(
        f"{API}/api-keys/",
        {"account": account_a.pk, "name": "x", "scopes": ["import"]},
        format="json",
    )
    assert response.status_code == 400 and "account" in response.json()


def test_a_key_cannot_manage_keys(make_key: Any) -> None:
    _, raw = make_key()
    response = key_client(raw).get(f"{API}/api-keys/")
    assert response.status_code == 403
    assert response.json() == {"detail": "API keys cannot use this endpoint."}


# --- used by machines -------------------------------------------------------------------------


def test_a_key_creates_a_link_for_its_account_and_the_audit_trail_names_it(
    make_key: Any, link_body: dict[str, Any], enqueued: mock.MagicMock, caplog: Any
) -> None:
    key, raw = make_key("links:write", "links:read")
    with caplog.at_level(logging.INFO, logger="link_tracking.api_keys.audit"):
        response = key_client(raw).post(f"{API}/links/", link_body, format="json")
    assert response.status_code == 201, response.json()
    link = Link.objects.get(pk=response.json()["id"])
    assert link.created_by is None
    version = LinkVersion.objects.get(link=link)
    assert (version.changed_by, version.changed_by_api_key) == (None, key)
    assert str(version.changed_by_api_key) == f"api key {key.prefix} (crm)"
    versions = key_client(raw).get(f"{API}/links/{link.pk}/versions/").json()["results"]
    assert versions[0]["changed_by_api_key"] == f"api key {key.prefix} (crm)"
    audit = [r for r in caplog.records if r.name == "link_tracking.api_keys.audit"]
    assert [r.getMessage() for r in audit] == [
        f"api key {key.prefix} (crm) (account {key.account_id}): POST {API}/links/ -> 201"
    ]


def test_an_import_job_started_with_a_key_names_it_in_every_version(
    settings: Any,
    make_key: Any,
    account_a: Any,
    domain_a: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "IMPORT_MAX_ROWS": 1}
    key, raw = make_key("import")
    csv = b"slug,destination_url\nk1,https://shop.example.com/1\nk2,https://shop.example.com/2\n"
    body = {
        "file": SimpleUploadedFile("keys.csv", csv, content_type="text/csv"),
        "account": account_a.pk,
        "domain": str(domain_a.pk),
    }
    with (
        mock.patch.object(run_link_import_task, "delay"),
        mock.patch.object(publish_link_task, "delay"),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = key_client(raw).post(f"{API}/links/import/", body, format="multipart")
        assert response.status_code == 202, response.json()
        job = LinkImport.objects.get(pk=response.json()["id"])
        assert (job.requested_by, job.requested_by_api_key) == (None, key)
        with django_capture_on_commit_callbacks(execute=True):
            assert run_link_import_task(str(job.pk)) == "succeeded"
    versions = LinkVersion.objects.filter(link__account=account_a)
    assert [v.changed_by_api_key for v in versions] == [key, key]


def test_a_key_never_sees_another_accounts_objects(
    make_key: Any, account_a: Any, domain_a: Any, account_b: Any, domain_b: Any
) -> None:
    mine = LinkFactory(account=account_a, domain=domain_a)
    theirs = LinkFactory(account=account_b, domain=domain_b)
    _, raw = make_key()
    client = key_client(raw)
    assert [row["id"] for row in client.get(f"{API}/links/").json()["results"]] == [str(mine.pk)]
    assert client.get(f"{API}/links/{theirs.pk}/").status_code == 404
    assert client.get(f"{API}/links/{theirs.pk}/stats/").status_code == 404
    names = [row["domain_name"] for row in client.get(f"{API}/domains/").json()["results"]]
    assert names == ["a.example.com"]
    body = {"account": account_b.pk, "domain": str(domain_b.pk), "destination_url": "https://x/"}
    response = client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 400 and "account" in response.json()
    assert client.get(f"{API}/message-clicks/").json()["results"] == []


def test_a_key_changes_nothing_shared(make_key: Any, shared_domain: Any) -> None:
    _, raw = make_key()
    client = key_client(raw)
    assert client.get(f"{API}/utm-policy/").status_code == 200
    assert (
        client.put(f"{API}/utm-policy/", {"default_utm_params": {}}, format="json").status_code
        == 403
    )
    response = client.post(f"{API}/domains/", {"domain_name": "new.example.com"}, format="json")
    assert response.status_code == 400 and "account" in response.json()


@pytest.mark.parametrize(
    ("scopes", "method", "path", "needed"),
    [
        (["links:read"], "post", "links/", "links:write"),
        (["links:write"], "get", "links/", "links:read"),
        (["links:read", "links:write"], "get", "message-clicks/", "stats:read"),
        (["stats:read"], "get", "webhooks/", "webhooks:manage"),
        (["links:write"], "post", "links/import/", "import"),
        (["links:read"], "get", "link-imports/", "import"),
    ],
)
def test_beyond_its_scope_a_key_gets_a_403_naming_the_scope(
    make_key: Any, scopes: list[str], method: str, path: str, needed: str
) -> None:
    _, raw = make_key(*scopes)
    response = getattr(key_client(raw), method)(f"{API}/{path}", {}, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"This API key does not have the scope '{needed}' this request needs."
    }


def test_privacy_requests_are_not_for_keys(make_key: Any) -> None:
    _, raw = make_key()
    assert key_client(raw).get(f"{API}/privacy-requests/").status_code == 403


def test_users_are_not_bound_by_scopes(alice_client: APIClient) -> None:
    assert alice_client.get(f"{API}/message-clicks/").status_code == 200
    assert alice_client.get(f"{API}/webhooks/").status_code == 200


# --- refused keys ---------------------------------------------------------------------------


def test_unknown_revoked_expired_and_rotated_keys_get_the_same_401(
    make_key: Any, alice_client: APIClient
) -> None:
    revoked, revoked_raw = make_key()
    assert key_client(revoked_raw).get(f"{API}/links/").status_code == 200
    assert alice_client.post(f"{API}/api-keys/{revoked.pk}/revoke/").json()["revoked"] is True
    expired, expired_raw = make_key(expires_at=timezone.now() + timedelta(seconds=1))
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    rotated, old_raw = make_key()
    new_raw = alice_client.post(f"{API}/api-keys/{rotated.pk}/rotate/").json()["key"]
    good_prefix_wrong_secret = f"{rotated.prefix}_{'A' * 43}"
    presented = [
        revoked_raw,
        expired_raw,
        old_raw,
        good_prefix_wrong_secret,
        "lt_nosuchke_" + "B" * 43,
        "lt_short",
        "lt_" + "C" * 5000,
        "lt_abc def",  # three words
    ]
    answers = []
    for raw in presented:
        response = key_client(raw).get(f"{API}/links/")
        answers.append(
            (response.status_code, response.json(), response.headers.get("WWW-Authenticate"))
        )
    assert answers == [(401, {"detail": "Invalid API key."}, 'Bearer realm="api"')] * len(presented)
    assert key_client(new_raw).get(f"{API}/links/").status_code == 200
    assert new_raw.startswith(rotated.prefix + "_")


def test_a_revoked_key_cannot_be_rotated(alice_client: APIClient, make_key: Any) -> None:
    key, _ = make_key()
    alice_client.post(f"{API}/api-keys/{key.pk}/revoke/")
    assert alice_client.post(f"{API}/api-keys/{key.pk}/rotate/").status_code == 409


def test_other_bearer_tokens_are_left_to_other_classes(db: None) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
    response = client.get(f"{API}/links/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] != "Invalid API key."


def test_last_used_is_written_at_most_once_a_minute(make_key: Any) -> None:
    key, raw = make_key()
    assert key.last_used_at is None
    client = key_client(raw)
    client.get(f"{API}/links/")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    client.get(f"{API}/links/")
    key.refresh_from_db()
    assert key.last_used_at == first  # within the minute: not written again
    later = first + timedelta(seconds=61)
    api_key_service.authenticate(raw, now=later)
    key.refresh_from_db()
    assert key.last_used_at == later


# --- throttles ----------------------------------------------------------------------------


def test_throttles_count_per_key_and_scope(settings: Any, make_key: Any, account_a: Any) -> None:
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "API_KEY_THROTTLE_RATES": {"links:read": "2/minute", "stats:read": None},
    }
    _, one = make_key()
    _, two = make_key()
    first = key_client(one)
    assert [first.get(f"{API}/links/").status_code for _ in range(3)] == [200, 200, 429]
    assert first.get(f"{API}/message-clicks/").status_code == 200  # another scope
    assert key_client(two).get(f"{API}/links/").status_code == 200  # another key


def test_throttle_rates_are_checked_at_start_up(settings: Any) -> None:
    from link_tracking_publisher.checks import check_settings

    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_KEY_THROTTLE_RATES": {"links": "1/s"}}
    assert "link_tracking.E012" in [e.id for e in check_settings()]
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "API_KEY_THROTTLE_RATES": {"links:read": "lots"},
    }
    assert "link_tracking.E012" in [e.id for e in check_settings()]
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_KEY_THROTTLE_RATES": {}}
    assert "link_tracking.E012" not in [e.id for e in check_settings()]
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_KEY_PEPPER": "short"}
    assert "link_tracking.E014" in [e.id for e in check_settings()]


def test_the_pepper_keys_the_hash(settings: Any, make_key: Any) -> None:
    _, raw = make_key()
    assert key_client(raw).get(f"{API}/links/").status_code == 200
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "API_KEY_PEPPER": "p" * 32}
    assert key_client(raw).get(f"{API}/links/").status_code == 401


# --- end to end (Django test client) --------------------------------------------------------


def test_a_key_only_client_creates_a_link_and_reads_its_message_clicks(
    make_key: Any, link_body: dict[str, Any], enqueued: mock.MagicMock, tmp_path: Path
) -> None:
    _, raw = make_key("links:write", "stats:read")
    client = key_client(raw)
    created = client.post(f"{API}/links/", link_body, format="json")
    assert created.status_code == 201, created.json()
    link = Link.objects.get(pk=created.json()["id"])
    events = [
        click(link, at=T0 + 60, sms_msg_id="m-42"),
        click(link, at=T0 + 90, sms_msg_id="m-42"),
    ]
    ingest_objects(local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 3600)
    body = client.get(f"{API}/message-clicks/", {"sms_msg_id": "m-42"}).json()
    assert [(row["link"], row["human_clicks"]) for row in body["results"]] == [(str(link.pk), 2)]


def test_a_key_with_stats_read_streams_its_campaigns_message_clicks(
    make_key: Any, campaign_a: Any, campaign_b: Any, domain_a: Any, tmp_path: Path
) -> None:
    link = LinkFactory(domain=domain_a, account=domain_a.account, campaign=campaign_a)
    events = [click(link, at=T0 + 60, sms_msg_id="m-7"), click(link, at=T0 + 90, sms_msg_id="m-8")]
    ingest_objects(local_objects(write_ndjson(tmp_path / "e.ndjson", events)), now=T0 + 3600)
    path = f"{API}/campaigns/{campaign_a.pk}/message-clicks/export/"

    _, raw = make_key("stats:read")
    answer = key_client(raw).get(path, {"format": "ndjson"})
    assert answer.status_code == 200
    rows = [json.loads(line) for line in b"".join(answer.streaming_content).splitlines()]
    assert sorted(row["sms_msg_id"] for row in rows) == ["m-7", "m-8"]
    # Another account's campaign does not exist for the key.
    other = key_client(raw).get(f"{API}/campaigns/{campaign_b.pk}/message-clicks/export/")
    assert other.status_code == 404

    _, links_only = make_key("links:read")
    refused = key_client(links_only).get(path)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "This API key does not have the scope 'stats:read' this request needs."
    }


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_schema_describes_keys_and_their_scheme(alice_client: APIClient) -> None:
    response = alice_client.get(f"{API}/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert {"apiKey": []} in schema["paths"][f"{API}/links/"]["get"]["security"]
    components = schema["components"]["schemas"]
    assert "key" in components["ApiKeySecret"]["properties"]
    assert "key" not in components["ApiKey"]["properties"]
    created = schema["paths"][f"{API}/api-keys/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/ApiKeySecret")

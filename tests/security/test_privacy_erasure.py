"""Erasure reaches every store, and the request keeps no identifier of its subject.

Before: an erasure request ended ``complete`` with nothing erased (``"erased": 0``, click events
"not handled"), and the subject's identifier stayed on the request row in clear.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from rest_framework.test import APIClient

from link_tracking_publisher.models import PrivacyRequest
from link_tracking_publisher.services import privacy
from link_tracking_publisher.tasks import process_privacy_request_task
from link_tracking_runtime.events import ClickEvent, encode_event
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

BUCKET = "click-events-test"
SUBJECT = "msg-42"


def _click(n: int, **fields: Any) -> ClickEvent:
    values: dict[str, Any] = {
        "event_id": f"e{n}",
        "timestamp": 1_700_000_000.0 + n,
        "domain": "go.example.com",
        "slug": "ABC",
        "click_session_id": f"c{n}",
        "ip_hash": f"ip{n}",
        "final_url_hash": "h",
        "is_bot": False,
        "redirect_latency_ms": 3,
        "outcome": "ok",
        "link_id": "link-1",
        "user_agent": "Mozilla/5.0",
        **fields,
    }
    return ClickEvent(**values)


def _event(n: int, **fields: Any) -> bytes:
    return encode_event(_click(n, **fields)).rstrip(b"\n") + b"\n"


@pytest.fixture
def s3(settings: Any) -> Iterator[Any]:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_EVENTS_BUCKET": BUCKET}
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def _put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _every_version(s3: Any) -> bytes:
    """Every byte the bucket holds, in every version of every object."""
    data = b""
    for version in s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
        body = s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
        raw = body["Body"].read()
        data += gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    return data


def _request(client: APIClient, account: Any, **fields: Any) -> str:
    body = {
        "account": account.pk,
        "request_type": "erasure",
        "subject_type": "sms_msg_id",
        "subject_value": SUBJECT,
        **fields,
    }
    with mock.patch.object(process_privacy_request_task, "delay"):
        response = client.post(f"{API}/privacy-requests/", body, format="json")
    assert response.status_code == 201, response.json()
    return str(response.json()["id"])


def test_the_subject_is_kept_only_as_a_keyed_hash(
    alice_client: APIClient, account_a: Any, settings: Any
) -> None:
    email = "alice@example.com"  # what a host might use as a subject identifier
    request_id = _request(alice_client, account_a, subject_type="click_id", subject_value=email)
    row = PrivacyRequest.objects.get(pk=request_id)
    stored = json.dumps({f.attname: str(getattr(row, f.attname)) for f in row._meta.fields})
    assert email not in stored and "alice" not in stored
    shown = alice_client.get(f"{API}/privacy-requests/{request_id}/").json()
    assert "subject_value" not in shown and email not in json.dumps(shown)
    assert shown["subject_hash"] == privacy.subject_hash("click_id", email)
    # Keyed: without the key the hash cannot be recomputed from a guess.
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "PRIVACY_HASH_KEY": "another-key" * 4}
    assert privacy.subject_hash("click_id", email) != shown["subject_hash"]


def test_erasure_rewrites_click_event_objects_without_the_subject(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    _put(s3, "click-events/a.json", _event(1, sms_msg_id=SUBJECT) + _event(2) + _event(3))
    gzipped = _event(4, forwarded_params={"sms_msg_id": SUBJECT}) + _event(5)
    _put(s3, "click-events/b.json.gz", gzip.compress(gzipped))
    _put(s3, "click-events/c.json", _event(6, sms_msg_id=SUBJECT))
    error = {"rawData": base64.b64encode(_event(7, sms_msg_id=SUBJECT)).decode()}
    _put(s3, "click-events-errors/d.json", json.dumps(error).encode() + b"\n")
    _put(s3, "other/e.json", _event(8, sms_msg_id=SUBJECT))  # outside the prefixes

    request_id = _request(alice_client, account_a)
    assert process_privacy_request_task(request_id) == "complete"
    result = PrivacyRequest.objects.get(pk=request_id).result
    store = result["stores"]["click_events_s3"]
    assert (store["done"], store["found"], store["erased"]) == (True, 4, 4)
    assert result["remaining"] == [] and result["erased"] == 4

    everything = _every_version(s3)
    for n in (1, 4, 6, 7):
        assert f'"e{n}"'.encode() not in everything, n
    for n in (2, 3, 5):
        assert f'"e{n}"'.encode() in everything, n
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "click-events/c.json" not in keys  # nothing left in it
    assert s3.get_object(Bucket=BUCKET, Key="click-events/b.json.gz")["Body"].read()[:2] == (
        b"\x1f\x8b"
    )


@pytest.mark.parametrize(
    ("subject_type", "value", "field"),
    [("ip_hash", "ip-x", "ip_hash"), ("click_id", "click-x", "click_session_id")],
)
def test_erasure_by_ip_hash_and_click_id(
    s3: Any, alice_client: APIClient, account_a: Any, subject_type: str, value: str, field: str
) -> None:
    _put(s3, "click-events/a.json", _event(1, **{field: value}) + _event(2))
    request_id = _request(alice_client, account_a, subject_type=subject_type, subject_value=value)
    assert process_privacy_request_task(request_id) == "complete"
    everything = _every_version(s3)
    assert b'"e1"' not in everything and b'"e2"' in everything


def test_erasure_by_link_removes_its_click_events(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    from tests.publisher.factories import DomainFactory, LinkFactory

    link = LinkFactory(account=account_a, domain=DomainFactory(account=account_a))
    _put(s3, "click-events/a.json", _event(1, link_id=str(link.pk)) + _event(2))
    request_id = _request(alice_client, account_a, subject_type="link", subject_value=str(link.pk))
    assert process_privacy_request_task(request_id) == "complete"
    assert b'"e1"' not in _every_version(s3)


def _parquet(tmp_path: Any, *events: ClickEvent) -> bytes:
    from tests.clicks.parquet import write_parquet

    return write_parquet(
        tmp_path / f"p{len(list(tmp_path.iterdir()))}.parquet", list(events)
    ).read_bytes()


def _parquet_event_ids(body: bytes, tmp_path: Any) -> list[str]:
    import duckdb

    path = tmp_path / "read.parquet"
    path.write_bytes(body)
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute("SELECT event_id FROM read_parquet(?)", [str(path)]).fetchall()
    finally:
        con.close()
    return [row[0] for row in rows]


def test_erasure_rewrites_parquet_objects_as_firehose_writes_them(
    s3: Any, alice_client: APIClient, account_a: Any, tmp_path: Any
) -> None:
    """Firehose delivers Parquet through the Glue table: those objects are rewritten without the
    subject's events (by column and by forwarded param), in Parquet, with every column kept."""
    mixed = _parquet(
        tmp_path,
        _click(1, sms_msg_id=SUBJECT),
        _click(2),
        _click(3, forwarded_params={"sms_msg_id": SUBJECT}),
        _click(4, sms_msg_id="msg-43"),
    )
    _put(s3, "click-events/2026/11/29/a", mixed)  # Firehose's keys have no extension
    _put(s3, "click-events/2026/11/29/b", _parquet(tmp_path, _click(5, sms_msg_id=SUBJECT)))
    _put(s3, "click-events/2026/11/29/c", _parquet(tmp_path, _click(6)))

    request_id = _request(alice_client, account_a)
    assert process_privacy_request_task(request_id) == "complete"
    store = PrivacyRequest.objects.get(pk=request_id).result["stores"]["click_events_s3"]
    assert (store["done"], store["found"], store["erased"]) == (True, 3, 3)
    assert (store["detail"]["parquet"], store["detail"]["rewritten"]) == (3, 2)

    body = s3.get_object(Bucket=BUCKET, Key="click-events/2026/11/29/a")["Body"].read()
    assert body[:4] == b"PAR1"
    assert _parquet_event_ids(body, tmp_path) == ["e2", "e4"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "click-events/2026/11/29/b" not in keys  # nothing left in it
    assert _parquet_event_ids(  # untouched
        s3.get_object(Bucket=BUCKET, Key="click-events/2026/11/29/c")["Body"].read(), tmp_path
    ) == ["e6"]
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="click-events/2026/11/29/a")
    assert len(versions["Versions"]) == 1  # the version that held the subject is gone


def test_access_reads_parquet_objects_too(
    s3: Any, alice_client: APIClient, account_a: Any, tmp_path: Any
) -> None:
    body = _parquet(tmp_path, _click(1, sms_msg_id=SUBJECT), _click(2))
    _put(s3, "click-events/a", body)
    request_id = _request(alice_client, account_a, request_type="access")
    assert process_privacy_request_task(request_id) == "complete"
    store = PrivacyRequest.objects.get(pk=request_id).result["stores"]["click_events_s3"]
    assert [e["event_id"] for e in store["detail"]["events"]] == ["e1"]
    assert s3.get_object(Bucket=BUCKET, Key="click-events/a")["Body"].read() == body


def test_an_unreadable_object_leaves_the_request_partial(
    s3: Any, alice_client: APIClient, account_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _put(s3, "click-events/a.json", _event(1, sms_msg_id=SUBJECT))
    _put(s3, "click-events/b.parquet", b"PAR1....PAR1")  # a truncated object
    request_id = _request(alice_client, account_a)
    assert process_privacy_request_task(request_id) == "partial"
    data = alice_client.get(f"{API}/privacy-requests/{request_id}/").json()
    assert data["status"] == "partial"
    assert data["result"]["remaining"] == [
        {
            "store": "click_events_s3",
            "detail": "1 object(s) could not be read (see unreadable); fix or remove them, "
            "then retry.",
        }
    ]
    assert data["result"]["erased"] == 1  # the NDJSON object was still rewritten
    # Once the object is gone (or repaired), a retry completes it.
    s3.delete_object(Bucket=BUCKET, Key="click-events/b.parquet")
    with mock.patch.object(process_privacy_request_task, "delay"):
        assert alice_client.post(f"{API}/privacy-requests/{request_id}/retry/").status_code == 202
    assert process_privacy_request_task(request_id) == "complete"


def test_the_control_plane_is_one_store_and_is_not_done_while_links_hold_the_value(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    from tests.publisher.factories import DomainFactory, LinkFactory

    LinkFactory(
        account=account_a,
        domain=DomainFactory(account=account_a),
        destination_url=f"https://shop.example/?m={SUBJECT}",
    )
    request_id = _request(alice_client, account_a)
    assert process_privacy_request_task(request_id) == "partial"
    result = PrivacyRequest.objects.get(pk=request_id).result
    assert [r["store"] for r in result["remaining"]] == ["control_plane"]
    assert "edit or deactivate" in result["remaining"][0]["detail"]


HOST_ANSWER: dict[str, Any] = {}


def host_processor(request: PrivacyRequest, subject: privacy.Subject) -> dict[str, Any]:
    """The host's own store, for the tests: it finds the subject by hashing its own values."""
    return {**HOST_ANSWER, "found": int(subject.matches(SUBJECT))}


def test_the_host_processor_is_a_store_too(
    s3: Any, alice_client: APIClient, account_a: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "PRIVACY_HOST_PROCESSOR": "tests.security.test_privacy_erasure.host_processor",
    }
    HOST_ANSWER.clear()
    HOST_ANSWER.update(done=False, remaining="CRM export still queued")
    request_id = _request(alice_client, account_a)
    assert process_privacy_request_task(request_id) == "partial"
    result = PrivacyRequest.objects.get(pk=request_id).result
    assert result["remaining"] == [{"store": "host", "detail": "CRM export still queued"}]
    assert result["stores"]["host"]["found"] == 1

    HOST_ANSWER.update(done=True, remaining="")
    PrivacyRequest.objects.filter(pk=request_id).update(status="pending")
    assert process_privacy_request_task(request_id) == "complete"


def test_access_returns_the_subjects_events(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    _put(s3, "click-events/a.json", _event(1, sms_msg_id=SUBJECT) + _event(2))
    request_id = _request(alice_client, account_a, request_type="access")
    assert process_privacy_request_task(request_id) == "complete"
    store = PrivacyRequest.objects.get(pk=request_id).result["stores"]["click_events_s3"]
    assert [e["event_id"] for e in store["detail"]["events"]] == ["e1"]
    assert b'"e1"' in _every_version(s3)  # access changes nothing


def test_per_message_click_statistics_are_a_store_too(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    """``MessageClick`` rows hold the ``sms_msg_id``: access shows the subject's, erasure
    deletes them and only them (another account's row for the same id is untouched)."""
    from django.utils import timezone

    from link_tracking_publisher.models import MessageClick
    from tests.publisher.factories import LinkFactory

    mine, other = LinkFactory(account=account_a), LinkFactory()
    now = timezone.now()
    for link, message in ((mine, SUBJECT), (mine, "msg-43"), (other, SUBJECT)):
        MessageClick.objects.create(
            link=link, sms_msg_id=message, human_clicks=2, bot_clicks=1, last_click_at=now
        )

    access = _request(alice_client, account_a, request_type="access")
    assert process_privacy_request_task(access) == "complete"
    store = PrivacyRequest.objects.get(pk=access).result["stores"]["click_statistics"]
    assert store["found"] == 1
    assert store["detail"]["message_clicks"][0]["link_id"] == str(mine.pk)
    assert MessageClick.objects.count() == 3  # access changes nothing

    erasure = _request(alice_client, account_a)
    assert process_privacy_request_task(erasure) == "complete"
    store = PrivacyRequest.objects.get(pk=erasure).result["stores"]["click_statistics"]
    assert (store["done"], store["found"], store["erased"]) == (True, 1, 1)
    left = set(MessageClick.objects.values_list("link_id", "sms_msg_id"))
    assert left == {(mine.pk, "msg-43"), (other.pk, SUBJECT)}


def test_per_message_link_tokens_are_found_and_erased(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    """A per-message link's ``MessageToken`` holds the message id its token stands for: access
    lists the subject's, erasure deletes them and only them."""
    from link_tracking_publisher.models import MessageToken
    from tests.publisher.factories import LinkFactory

    mine, other = LinkFactory(account=account_a), LinkFactory()
    for link, sequence, message in ((mine, 0, SUBJECT), (mine, 1, "msg-43"), (other, 0, SUBJECT)):
        MessageToken.objects.create(link=link, sequence=sequence, sms_msg_id=message)

    access = _request(alice_client, account_a, request_type="access")
    assert process_privacy_request_task(access) == "complete"
    store = PrivacyRequest.objects.get(pk=access).result["stores"]["click_statistics"]
    assert store["found"] == 1
    assert store["detail"]["message_links"] == [
        {
            "link_id": str(mine.pk),
            "sequence": 0,
            "issued_at": MessageToken.objects.get(link=mine, sequence=0).created_at.isoformat(),
        }
    ]

    erasure = _request(alice_client, account_a)
    assert process_privacy_request_task(erasure) == "complete"
    store = PrivacyRequest.objects.get(pk=erasure).result["stores"]["click_statistics"]
    assert (store["found"], store["erased"]) == (1, 1)
    left = set(MessageToken.objects.values_list("link_id", "sms_msg_id"))
    assert left == {(mine.pk, "msg-43"), (other.pk, SUBJECT)}


def test_routing_rules_and_link_imports_are_searched_too(
    s3: Any, alice_client: APIClient, account_a: Any
) -> None:
    """Routing targets and the files of link imports (kept with the job) are typed values like
    destinations: found by hash and reported, never rewritten."""
    from link_tracking_publisher.models import Link, LinkImport
    from tests.publisher.factories import DomainFactory, LinkFactory

    link = LinkFactory(account=account_a, domain=DomainFactory(account=account_a))
    Link.objects.filter(pk=link.pk).update(
        routing_rules=[{"if": {"country": "fr"}, "url": f"https://shop.example/fr?m={SUBJECT}"}]
    )
    job = LinkImport.objects.create(
        account=account_a,
        file_name="links.csv",
        file_size=60,
        content=f"destination_url\nhttps://shop.example/?sms_msg_id={SUBJECT}\n".encode(),
    )
    request_id = _request(alice_client, account_a)
    assert process_privacy_request_task(request_id) == "partial"
    store = PrivacyRequest.objects.get(pk=request_id).result["stores"]["control_plane"]
    matches = store["detail"]["matches"]
    assert {"model": "link", "id": str(link.pk), "field": "routing_rules"} in matches
    assert {"model": "link_import", "id": str(job.pk)} in matches

"""Privacy requests: created and tracked through the API, processed by the configured
processor (a Celery task), status and result recorded."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link, PrivacyRequest
from link_tracking_publisher.services import privacy
from link_tracking_publisher.tasks import process_privacy_request_task
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


def fail_always(request: PrivacyRequest) -> dict[str, Any]:
    raise RuntimeError("warehouse unreachable")


class Recorder:
    """A processor class (instantiated once by the loader)."""

    def __call__(self, request: PrivacyRequest) -> dict[str, Any]:
        return {"erased_rows": 3, "subject": request.subject_hash}


def _create(client: APIClient, account: Any, **fields: Any) -> Any:
    body = {
        "account": account.pk,
        "request_type": "erasure",
        "subject_type": "sms_msg_id",
        "subject_value": "msg-42",
        **fields,
    }
    return client.post(f"{API}/privacy-requests/", body, format="json")


def test_create_records_a_pending_request_and_enqueues_it(
    staff_client: APIClient, staff: Any, account_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with mock.patch.object(process_privacy_request_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = _create(staff_client, account_a)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["status"], data["requested_by"], data["result"]) == ("pending", staff.pk, {})
    delay.assert_called_once_with(data["id"])


def test_the_default_processor_reports_every_store(
    staff_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    LinkFactory(account=account_a, domain=domain_a, destination_url="https://x.example/?m=msg-42")
    request_id = _create(staff_client, account_a).json()["id"]
    assert process_privacy_request_task(request_id) == "partial"
    data = staff_client.get(f"{API}/privacy-requests/{request_id}/").json()
    assert data["status"] == "partial" and data["completed_at"]
    result = data["result"]
    control_plane = result["stores"]["control_plane"]
    assert control_plane["found"] == 2  # the link and its first version
    assert {m["model"] for m in control_plane["detail"]["matches"]} == {"link", "link_version"}
    assert control_plane["erased"] == 0 and not control_plane["done"]
    # No click-events bucket is configured here: that store is not done either.
    assert [r["store"] for r in result["remaining"]] == ["control_plane", "click_events_s3"]
    # A redelivered task changes nothing.
    assert process_privacy_request_task(request_id) == "partial"


def test_access_to_a_link_returns_it_and_erasure_of_a_link_leaves_it(
    staff_client: APIClient, account_a: Any, domain_a: Any, settings: Any
) -> None:
    link = LinkFactory(account=account_a, domain=domain_a, keyword="HELP")
    access = _create(
        staff_client,
        account_a,
        request_type="access",
        subject_type="link",
        subject_value=str(link.pk),
    ).json()["id"]
    erasure = _create(staff_client, account_a, subject_type="link", subject_value=str(link.pk))
    erasure_id = erasure.json()["id"]
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "PRIVACY_STORES": ["link_tracking_publisher.services.privacy.ControlPlaneStore"],
    }
    assert process_privacy_request_task(access) == "complete"
    assert process_privacy_request_task(erasure_id) == "complete"
    result = PrivacyRequest.objects.get(pk=access).result["stores"]["control_plane"]["detail"]
    assert result["link"]["keyword"] == "HELP"
    assert [v["version"] for v in result["versions"]] == [1]
    # A link is not personal data: erasure by link erases its click events, not the link.
    assert Link.objects.filter(pk=link.pk).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"request_type": "delete"}, "request_type"),
        ({"subject_type": "email"}, "subject_type"),
        ({"subject_value": ""}, "subject_value"),
        ({"subject_value": "x" * 257}, "subject_value"),
        ({"subject_type": "link", "subject_value": "not-a-uuid"}, "subject_value"),
        (
            {"subject_type": "link", "subject_value": "00000000-0000-0000-0000-000000000000"},
            "subject_value",
        ),
    ],
)
def test_bad_requests_are_field_errors(
    staff_client: APIClient, account_a: Any, fields: dict[str, Any], field: str
) -> None:
    response = _create(staff_client, account_a, **fields)
    assert response.status_code == 400 and list(response.json()) == [field], response.json()
    assert not PrivacyRequest.objects.exists()


def test_a_pluggable_processor_class(
    staff_client: APIClient, account_a: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {"PRIVACY_REQUEST_PROCESSOR": "tests.api.test_privacy.Recorder"}
    request_id = _create(staff_client, account_a).json()["id"]
    assert privacy.process_privacy_request(request_id) == "complete"
    assert PrivacyRequest.objects.get(pk=request_id).result == {
        "erased_rows": 3,
        "subject": privacy.subject_hash("sms_msg_id", "msg-42"),
    }


def test_a_failing_processor_is_recorded_and_can_be_retried(
    staff_client: APIClient, account_a: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LINK_TRACKING = {"PRIVACY_REQUEST_PROCESSOR": "tests.api.test_privacy.fail_always"}
    request_id = _create(staff_client, account_a).json()["id"]
    assert privacy.process_privacy_request(request_id) == "failed"
    data = staff_client.get(f"{API}/privacy-requests/{request_id}/").json()
    assert data["status"] == "failed" and "warehouse unreachable" in data["error_message"]
    with mock.patch.object(process_privacy_request_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(f"{API}/privacy-requests/{request_id}/retry/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    delay.assert_called_once_with(request_id)
    settings.LINK_TRACKING = {"PRIVACY_REQUEST_PROCESSOR": "tests.api.test_privacy.Recorder"}
    assert privacy.process_privacy_request(request_id) == "complete"
    # Only failed or partial requests are retried.
    assert staff_client.post(f"{API}/privacy-requests/{request_id}/retry/").status_code == 409


def test_requests_are_not_changed_or_deleted_through_the_api(
    staff_client: APIClient, account_a: Any
) -> None:
    request_id = _create(staff_client, account_a).json()["id"]
    url = f"{API}/privacy-requests/{request_id}/"
    assert staff_client.patch(url, {"status": "complete"}, format="json").status_code == 405
    assert staff_client.delete(url).status_code == 405

"""The global UTM policy singleton: read by every authorised user, changed by staff."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import GlobalUTMPolicy, PublishOutbox
from link_tracking_publisher.tasks import publish_outbox_task
from tests.publisher.factories import AccountFactory, DomainFactory, LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


def test_read_before_anything_was_saved(alice_client: APIClient) -> None:
    response = alice_client.get(f"{API}/utm-policy/")
    assert response.status_code == 200
    assert response.json()["default_utm_params"] == {}
    assert "keyword" in response.json()["template_variables"]
    assert not GlobalUTMPolicy.objects.exists()  # a read writes nothing


def test_staff_update_republishes_every_link(
    staff_client: APIClient, staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    params = {"utm_source": "novaura", "utm_medium": "${channel}"}
    account, domain = AccountFactory(), DomainFactory()
    links = [LinkFactory(account=account, domain=domain) for _ in range(2)]
    with mock.patch.object(publish_outbox_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.put(
                f"{API}/utm-policy/", {"default_utm_params": params}, format="json"
            )
    assert response.status_code == 200, response.json()
    assert response.json()["default_utm_params"] == params
    assert response.json()["updated_by"] == staff.pk
    entries = PublishOutbox.objects.filter(link__in=links, runtime_version=2)
    assert entries.count() == 2  # written with the change
    assert sorted(delay.call_args.args[0]) == sorted(e.pk for e in entries)
    assert GlobalUTMPolicy.load().default_utm_params == params


def test_members_may_not_change_it(alice_client: APIClient) -> None:
    response = alice_client.patch(
        f"{API}/utm-policy/", {"default_utm_params": {"utm_source": "x"}}, format="json"
    )
    assert response.status_code == 403
    assert not GlobalUTMPolicy.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"utm_source": "${unknown}"},
        {"utm_source": None},
        {"click_id": "x"},
        ["utm_source"],
        {"utm_source": "x" * 513},
    ],
)
def test_bad_params_are_field_errors(staff_client: APIClient, params: Any) -> None:
    response = staff_client.patch(
        f"{API}/utm-policy/", {"default_utm_params": params}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["default_utm_params"]

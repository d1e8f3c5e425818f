"""Domains: created and changed through the service layer; name and owner fixed."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import Domain, PublishOutbox
from link_tracking_publisher.tasks import publish_outbox_task
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


def test_create_read_update(staff_client: APIClient, account_a: Any) -> None:
    response = staff_client.post(
        f"{API}/domains/",
        {"account": account_a.pk, "domain_name": "sms.example.com", "purpose": "sms"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    domain_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    response = staff_client.patch(
        f"{API}/domains/{domain_id}/", {"purpose": "email", "active": False}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["purpose"], response.json()["active"]) == ("email", False)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"domain_name": "https://go.example.com"}, "domain_name"),
        ({"domain_name": "GO.example.com"}, "domain_name"),
        ({"domain_name": "go.example.com/path"}, "domain_name"),
        ({"domain_name": "a.example.com"}, "domain_name"),  # taken
        ({"domain_name": "x.example.com", "health_score": 101}, "health_score"),
        ({"domain_name": "x.example.com", "status": "sleeping"}, "status"),
    ],
)
def test_bad_domain_input_is_a_field_error(
    staff_client: APIClient, account_a: Any, domain_a: Any, body: dict[str, Any], field: str
) -> None:
    response = staff_client.post(
        f"{API}/domains/", {"account": account_a.pk, **body}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == [field], response.json()


def test_name_and_owner_are_fixed(staff_client: APIClient, domain_a: Any, account_b: Any) -> None:
    url = f"{API}/domains/{domain_a.pk}/"
    for change in ({"domain_name": "new.example.com"}, {"account": account_b.pk}):
        response = staff_client.patch(url, change, format="json")
        assert response.status_code == 400 and list(response.json()) == list(change)
    domain_a.refresh_from_db()
    assert (domain_a.domain_name, domain_a.account_id) == ("a.example.com", domain_a.account.pk)


def test_deactivating_a_domain_republishes_its_links(
    staff_client: APIClient, domain_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = LinkFactory(account=domain_a.account, domain=domain_a)
    with mock.patch.object(publish_outbox_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.patch(
                f"{API}/domains/{domain_a.pk}/", {"active": False}, format="json"
            )
    assert response.status_code == 200
    entry = PublishOutbox.objects.get(link=link, runtime_version=2)  # written with the change
    delay.assert_called_once_with([entry.pk])


def test_a_domain_in_use_cannot_be_deleted(staff_client: APIClient, domain_a: Any) -> None:
    LinkFactory(account=domain_a.account, domain=domain_a)
    assert staff_client.delete(f"{API}/domains/{domain_a.pk}/").status_code == 409
    unused = Domain.objects.create(domain_name="unused.example.com", account=domain_a.account)
    assert staff_client.delete(f"{API}/domains/{unused.pk}/").status_code == 204


def test_domain_filters(staff_client: APIClient, domain_a: Any, shared_domain: Any) -> None:
    def names(params: dict[str, Any]) -> list[str]:
        results = staff_client.get(f"{API}/domains/", params).json()["results"]
        return [d["domain_name"] for d in results]

    assert names({"shared": "true"}) == ["go.example.com"]
    assert names({"account": domain_a.account.pk}) == ["a.example.com"]
    assert names({"search": "a.exa"}) == ["a.example.com"]

"""App-link documents of a domain through the API: field-level 400s for a document that is not
JSON or misses required keys; a valid one is stored and its publish queued."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from link_tracking_publisher.models import PublishOutbox
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.tasks import publish_app_links_task
from link_tracking_runtime import vectors

from .conftest import API

pytestmark = pytest.mark.django_db

FIXTURE = vectors.load("applinks")[0]["domain"]
AASA, ASSETLINKS = FIXTURE["apple_app_site_association"], FIXTURE["assetlinks"]


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("apple_app_site_association", '{"applinks": ', "Not valid JSON"),
        ("apple_app_site_association", {"webcredentials": {"apps": []}}, "'applinks'"),
        ("apple_app_site_association", {"applinks": {"details": [{"appIDs": ["x"]}]}}, "app ID"),
        ("apple_app_site_association", {}, "'applinks'"),
        ("assetlinks", "[{]", "Not valid JSON"),
        ("assetlinks", {"relation": []}, "non-empty JSON list"),
        ("assetlinks", [], "non-empty JSON list"),
        ("assetlinks", [{"relation": ["x"], "target": {"namespace": "android_app"}}], "package"),
    ],
)
def test_a_bad_document_is_a_field_error(
    alice_client: APIClient, domain_a: Any, field: str, value: Any, fragment: str
) -> None:
    response = alice_client.patch(f"{API}/domains/{domain_a.pk}/", {field: value}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert list(body) == [field]
    assert any(fragment in message for message in body[field]), body
    assert not PublishOutbox.objects.filter(domain=domain_a).exists()


def test_documents_are_stored_and_published(
    alice_client: APIClient, domain_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"{API}/domains/{domain_a.pk}/"
    with (
        mock.patch.object(publish_app_links_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        # A file's contents as a string are accepted as well as the JSON value itself.
        response = alice_client.patch(
            url,
            {"apple_app_site_association": AASA, "assetlinks": json.dumps(ASSETLINKS)},
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert response.json()["apple_app_site_association"] == AASA
    assert response.json()["assetlinks"] == ASSETLINKS
    entry = PublishOutbox.objects.get(domain=domain_a)
    delay.assert_called_once_with(str(domain_a.pk), entry.pk)
    # The outbox lists the domain's publish for its account.
    listed = alice_client.get(f"{API}/publish-outbox/", {"domain": str(domain_a.pk)}).json()
    assert [row["id"] for row in listed["results"]] == [entry.pk]
    assert listed["results"][0]["link"] is None
    # Cleared with null.
    with (
        mock.patch.object(publish_app_links_task, "delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = alice_client.patch(url, {"assetlinks": None}, format="json")
    assert response.status_code == 200 and response.json()["assetlinks"] is None
    assert PublishOutbox.objects.filter(domain=domain_a).count() == 2


def test_another_accounts_domain_publishes_are_not_listed(
    alice_client: APIClient, domain_b: Any
) -> None:
    from link_tracking_publisher import services

    with mock.patch.object(publish_app_links_task, "delay"):
        services.update_domain(domain_b, assetlinks=ASSETLINKS)
    assert PublishOutbox.objects.filter(domain=domain_b).exists()
    assert alice_client.get(f"{API}/publish-outbox/").json()["results"] == []


def test_the_not_found_page_is_stored_and_published_in_the_domains_record(
    alice_client: APIClient, domain_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"{API}/domains/{domain_a.pk}/"
    for bad in ("javascript:alert(1)", "/relative", "not a url"):
        response = alice_client.patch(url, {"not_found_url": bad}, format="json")
        assert response.status_code == 400 and list(response.json()) == ["not_found_url"], bad
    assert not PublishOutbox.objects.filter(domain=domain_a).exists()
    page = "https://www.example.com/offer-ended"
    with (
        mock.patch.object(publish_app_links_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = alice_client.patch(url, {"not_found_url": page}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["not_found_url"] == page
    entry = PublishOutbox.objects.get(domain=domain_a)
    delay.assert_called_once_with(str(domain_a.pk), entry.pk)
    domain_a.refresh_from_db()
    assert LinkPublisher().build_app_links_record(domain_a).not_found_url == (
        page if domain_a.serves_links else None
    )

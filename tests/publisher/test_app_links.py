"""A domain's app-links record: built as the contract's vectors say, published through the
outbox on change of its documents or of the domain's serving state, conditionally on its
version, withdrawn (not deleted) when cleared, and never written for an unverified domain."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from link_tracking_publisher import services
from link_tracking_publisher.models import Domain, PublishOutbox
from link_tracking_publisher.services import publishing
from link_tracking_publisher.services.domains import verify_domain_by_hand
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.tasks import (
    publish_app_links_task,
    publish_link_task,
    republish_domain_task,
    retry_pending_outbox,
)
from link_tracking_runtime import vectors
from link_tracking_runtime.applinks import app_links_key, to_app_links_item
from link_tracking_runtime.record import plain

from .factories import DomainFactory

pytestmark = pytest.mark.django_db

VECTORS = vectors.load("applinks")
AASA = VECTORS[0]["domain"]["apple_app_site_association"]
ASSETLINKS = VECTORS[0]["domain"]["assetlinks"]


def _domain_of(fixture: dict[str, Any]) -> Domain:
    return DomainFactory(
        domain_name=fixture["domain_name"].lower(),
        active=fixture["serves_links"],
        app_links_version=fixture["app_links_version"],
        apple_app_site_association=fixture["apple_app_site_association"],
        assetlinks=fixture["assetlinks"],
        not_found_url=fixture["not_found_url"],
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_publisher_writes_the_vectors_item(table: Any, vector: dict[str, Any]) -> None:
    fixture = vector["domain"]
    domain = _domain_of(fixture)
    publisher = LinkPublisher(table, clock=lambda: fixture["published_at_epoch"])
    assert plain(to_app_links_item(publisher.build_app_links_record(domain))) == vector["item"]
    assert publisher.publish_app_links(domain).outcome == "written"
    stored = table.get_item(Key=app_links_key(domain.domain_name))["Item"]
    assert plain(stored) == vector["item"]


@pytest.fixture
def sent() -> Any:
    """Tasks enqueued after commit (not run: each test runs the ones it means to)."""
    with (
        mock.patch.object(publish_app_links_task, "delay") as app_links,
        mock.patch.object(publish_link_task, "delay"),
        mock.patch.object(republish_domain_task, "delay"),
    ):
        yield app_links


def _run(sent: Any) -> list[str]:
    outcomes = [publish_app_links_task.apply(args=call.args).get() for call in sent.call_args_list]
    sent.reset_mock()
    return outcomes


def _stored(table: Any, domain: Domain) -> dict[str, Any] | None:
    item = table.get_item(Key=app_links_key(domain.domain_name)).get("Item")
    return plain(item) if item is not None else None


def test_documents_are_published_changed_and_withdrawn(
    table: Any, sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    domain = DomainFactory(domain_name="go.example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, apple_app_site_association=AASA)
    entry = PublishOutbox.objects.get(domain=domain)
    assert (entry.link, entry.runtime_version, entry.status) == (None, 1, "pending")
    assert entry.idempotency_key == f"applinks:{domain.pk}:1"
    assert _run(sent) == ["written"]
    entry.refresh_from_db()
    assert (entry.status, entry.result) == ("complete", "written")
    stored = _stored(table, domain)
    assert stored is not None and "assetlinks" not in stored
    assert stored["runtime_version"] == 1
    assert '"appIDs":["ABCDE12345.com.example.shop"]' in stored["apple_app_site_association"]

    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, assetlinks=ASSETLINKS)
    assert _run(sent) == ["written"]
    stored = _stored(table, domain)
    assert stored is not None and stored["runtime_version"] == 2 and stored["assetlinks"]

    # Cleared: the record stays (its version guards it), without the document.
    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, apple_app_site_association=None)
    assert _run(sent) == ["written"]
    stored = _stored(table, domain)
    assert stored is not None and stored["runtime_version"] == 3
    assert "apple_app_site_association" not in stored and stored["assetlinks"]

    # Another change that leaves the documents and the serving state alone: nothing.
    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, purpose="qr")
    sent.assert_not_called()
    assert PublishOutbox.objects.filter(domain=domain).count() == 3


def test_serving_state_withdraws_and_restores_the_documents(
    table: Any, sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    domain = DomainFactory(apple_app_site_association=AASA, assetlinks=ASSETLINKS)
    publishing.republish_app_links(domain)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, active=False)
    _run(sent)
    stored = _stored(table, domain)
    assert stored is not None and stored["runtime_version"] == 2
    assert not {"apple_app_site_association", "assetlinks"} & set(stored)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, active=True)
    _run(sent)
    stored = _stored(table, domain)
    assert stored is not None and stored["runtime_version"] == 3 and stored["assetlinks"]


def test_a_domain_without_app_links_publishes_no_record(
    table: Any, sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    domain = DomainFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_domain(domain, active=False)
    sent.assert_not_called()
    assert not PublishOutbox.objects.filter(domain=domain).exists()
    assert publishing.republish_app_links(domain) is None


def test_an_older_version_never_overwrites_a_newer_one(table: Any) -> None:
    domain = DomainFactory(assetlinks=ASSETLINKS, app_links_version=5)
    publisher = LinkPublisher(table)
    assert publisher.publish_app_links(domain).outcome == "written"
    domain.app_links_version, domain.assetlinks = 4, None
    assert publisher.publish_app_links(domain).outcome == "already_applied"
    stored = _stored(table, domain)
    assert stored is not None and stored["runtime_version"] == 5 and stored["assetlinks"]


def test_an_unverified_domain_is_published_once_verified(
    table: Any, sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        domain = services.create_domain(domain_name="new.example.com", assetlinks=ASSETLINKS)
    assert domain.status == "pending" and domain.app_links_version == 1
    assert _run(sent) == ["domain_unverified"]
    assert _stored(table, domain) is None
    entry = PublishOutbox.objects.get(domain=domain)
    assert (entry.status, entry.completed_at) == ("waiting_for_domain", None)
    with django_capture_on_commit_callbacks(execute=True):
        verify_domain_by_hand(domain, user=None)
    # The parked row itself is sent again and written under its own version.
    assert _run(sent) == ["written"]
    stored = _stored(table, domain)
    assert stored is not None and stored["runtime_version"] == 1 and stored["assetlinks"]
    entry.refresh_from_db()
    assert (entry.status, entry.result) == ("complete", "written")


def test_the_sweeper_re_enqueues_a_stuck_app_links_publish(sent: Any) -> None:
    domain = DomainFactory(assetlinks=ASSETLINKS)
    entry = publishing.republish_app_links(domain)
    assert entry is not None
    PublishOutbox.objects.filter(pk=entry.pk).update(updated_at="2000-01-01T00:00:00Z")
    with mock.patch.object(publish_app_links_task, "delay") as delay:
        assert retry_pending_outbox() == 1
    delay.assert_called_once_with(str(domain.pk), entry.pk)


def test_a_failed_app_links_publish_is_retried_through_the_same_task(
    table: Any, sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    domain = DomainFactory(assetlinks=ASSETLINKS)
    entry = publishing.republish_app_links(domain)
    assert entry is not None
    PublishOutbox.objects.filter(pk=entry.pk).update(status="failed")
    sent.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        services.retry_failed_publish(entry)
    assert _run(sent) == ["written"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("apple_app_site_association", {"applinks": {}}),
        ("apple_app_site_association", ["not", "an", "object"]),
        ("assetlinks", [{"relation": ["x"], "target": {"namespace": "android_app"}}]),
        ("assetlinks", {}),
    ],
)
def test_invalid_documents_are_refused_by_the_service_layer(field: str, value: Any) -> None:
    domain = DomainFactory()
    with pytest.raises(ValidationError) as info:
        services.update_domain(domain, **{field: value})
    assert list(info.value.message_dict) == [field]
    assert not PublishOutbox.objects.filter(domain=domain).exists()

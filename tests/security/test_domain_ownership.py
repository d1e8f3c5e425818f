"""Domain ownership: a tenant cannot claim a name it does not control, nor hold one hostage.

Before: ``POST domains/`` with ``"status": "active", "health_score": 100`` was stored as sent,
links on any name published at once, and the rightful owner then got "already exists".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import dns.resolver
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from link_tracking_publisher.dispatch import PUBLISH_OUTBOX, VERIFY_DOMAIN
from link_tracking_publisher.models import Domain, Link, PublishOutbox
from link_tracking_publisher.services import create_domain, create_link
from link_tracking_publisher.services import domains as domain_service
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.tasks import (
    expire_domain_claims_task,
    publish_link_task,
    publish_outbox_task,
    verify_pending_domains,
)
from link_tracking_runtime.record import item_key
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

PLATFORM_BODY = {
    "status": "active",
    "health_score": 100,
    "warming_completed_at": "2026-01-01T00:00:00Z",
    "url_domain_ref": "42",
}


def _claim(client: APIClient, account: Any, name: str = "brand.example.com") -> dict[str, Any]:
    response = client.post(
        f"{API}/domains/", {"account": account.pk, "domain_name": name}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_platform_owned_fields_cannot_be_set_by_a_client(
    alice_client: APIClient, account_a: Any
) -> None:
    body = {"account": account_a.pk, "domain_name": "brand.example.com", **PLATFORM_BODY}
    response = alice_client.post(f"{API}/domains/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(PLATFORM_BODY)
    assert not Domain.objects.filter(domain_name="brand.example.com").exists()

    created = _claim(alice_client, account_a)
    assert (created["status"], created["verified_at"]) == ("pending", None)
    url = f"{API}/domains/{created['id']}/"
    for field, value in {**PLATFORM_BODY, "health_score": 5}.items():
        response = alice_client.patch(url, {field: value}, format="json")
        assert response.status_code == 400 and list(response.json()) == [field]
    # Sending back what a GET returned is not an attempt to change it.
    assert alice_client.patch(url, {"status": "pending"}, format="json").status_code == 200
    assert Domain.objects.get(pk=created["id"]).status == "pending"


def test_the_api_gives_the_txt_record_to_publish(alice_client: APIClient, account_a: Any) -> None:
    verification = _claim(alice_client, account_a)["verification"]
    domain = Domain.objects.get(domain_name="brand.example.com")
    assert verification["record_type"] == "TXT"
    assert verification["record_name"] == "_link-tracking-challenge.brand.example.com"
    assert verification["record_value"] == f"link-tracking-verification={domain.verification_token}"
    assert len(domain.verification_token) >= 32
    assert verification["verified"] is False and verification["claim_expires_at"]


def test_links_on_an_unverified_domain_are_not_published(table: Any, account_a: Any) -> None:
    domain = create_domain(account=account_a, domain_name="brand.example.com")
    link = create_link(account=account_a, domain=domain, destination_url="https://a.example/x")
    entry = PublishOutbox.objects.get(link=link)
    assert publish_link_task.run(str(link.pk), entry.pk) == "domain_unverified"
    entry.refresh_from_db()
    # Parked, not complete: nothing was written, and the domain's verification sends it.
    assert (entry.status, entry.result, entry.completed_at) == (
        "waiting_for_domain",
        "domain_unverified",
        None,
    )
    assert "Item" not in table.get_item(Key=item_key(domain.domain_name, link.slug_canonical))
    # Bulk republishing leaves them out too.
    assert LinkPublisher(table).bulk_republish(Link.objects.all()).total == 0


def test_a_dns_txt_record_verifies_the_domain_and_publishes_its_links(
    dns: dict[str, list[str]], table: Any, account_a: Any, enqueued: mock.MagicMock
) -> None:
    domain = create_domain(account=account_a, domain_name="brand.example.com")
    link = create_link(account=account_a, domain=domain, destination_url="https://a.example/x")
    entry = PublishOutbox.objects.get(link=link)
    assert publish_link_task.run(str(link.pk), entry.pk) == "domain_unverified"

    dns[domain.verification_record_name] = ["link-tracking-verification=someone-elses-token"]
    assert domain_service.check_domain_ownership(domain.pk) is False
    domain.refresh_from_db()
    assert not domain.is_verified and "No TXT record" in domain.verification_error
    assert domain.verification_checked_at is not None

    dns[domain.verification_record_name].append(domain.verification_record_value)
    assert verify_pending_domains.run() == {"checked": 1, "verified": 1, "errors": 0}
    domain.refresh_from_db()
    assert (domain.status, domain.verification_method) == ("active", "dns")
    # Verification sends the link's waiting row again after commit; run that task here.
    entry.refresh_from_db()
    assert entry.status == "pending"
    republish = [c for c in enqueued.call_args_list if c.args[0] == PUBLISH_OUTBOX]
    assert [c.args[1:] for c in republish] == [([entry.pk],)]
    assert publish_outbox_task.run(*republish[0].args[1:])["written"] == 1
    entry.refresh_from_db()
    assert (entry.status, entry.result, entry.runtime_version) == ("complete", "written", 1)
    item = table.get_item(Key=item_key(domain.domain_name, link.slug_canonical))["Item"]
    assert item["active"] is True


def test_the_api_asks_for_a_check_now(
    alice_client: APIClient, account_a: Any, enqueued: mock.MagicMock
) -> None:
    created = _claim(alice_client, account_a)
    response = alice_client.post(f"{API}/domains/{created['id']}/verify/", format="json")
    assert response.status_code == 202
    enqueued.assert_called_with(VERIFY_DOMAIN, created["id"])


def test_another_tenant_cannot_verify_or_see_a_claim(
    alice_client: APIClient, bob_client: APIClient, account_a: Any
) -> None:
    created = _claim(alice_client, account_a)
    assert bob_client.post(f"{API}/domains/{created['id']}/verify/").status_code == 404


def test_an_unverified_claim_lapses_and_the_name_is_released(
    alice_client: APIClient, bob_client: APIClient, account_a: Any, account_b: Any, settings: Any
) -> None:
    created = _claim(alice_client, account_a)
    domain = Domain.objects.get(pk=created["id"])
    create_link(account=account_a, domain=domain, destination_url="https://a.example/x")

    # While the claim runs, the name is taken.
    response = bob_client.post(
        f"{API}/domains/",
        {"account": account_b.pk, "domain_name": domain.domain_name},
        format="json",
    )
    assert response.status_code == 400 and list(response.json()) == ["domain_name"]

    ttl = settings.LINK_TRACKING.get("DOMAIN_CLAIM_TTL_SECONDS", 7 * 24 * 3600)
    Domain.objects.filter(pk=domain.pk).update(
        created_at=timezone.now() - timedelta(seconds=ttl + 1)
    )
    # A new claim on a lapsed name releases the old one at once …
    taken = _claim(bob_client, account_b, domain.domain_name)
    assert Domain.objects.get(domain_name=domain.domain_name).pk != domain.pk
    assert not Link.objects.filter(domain_id=domain.pk).exists()
    # … and the beat task releases lapsed claims nobody asked for; verified ones stay.
    Domain.objects.filter(pk=taken["id"]).update(created_at=timezone.now() - timedelta(days=365))
    verified = Domain.objects.create(domain_name="old.example.com", verified_at=timezone.now())
    Domain.objects.filter(pk=verified.pk).update(created_at=timezone.now() - timedelta(days=365))
    assert expire_domain_claims_task.run() == 1
    assert list(Domain.objects.values_list("domain_name", flat=True)) == ["old.example.com"]


def test_the_claim_lifetime_is_configurable(settings: Any, account_a: Any) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "DOMAIN_CLAIM_TTL_SECONDS": 60}
    domain = create_domain(account=account_a, domain_name="brand.example.com")
    assert domain.claim_expires_at == domain.created_at + timedelta(seconds=60)
    assert domain_service.expire_domain_claims(now=timezone.now() + timedelta(seconds=61)) == 1


def test_staff_verify_by_hand_in_the_admin_and_it_is_recorded(account_a: Any) -> None:
    operator = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    domain = create_domain(account=account_a, domain_name="brand.example.com")
    client = Client()
    client.force_login(operator)
    page = client.get(reverse("admin:link_tracking_domain_change", args=[domain.pk]))
    assert domain.verification_record_value in page.content.decode()

    with mock.patch("link_tracking_publisher.dispatch.enqueue_on_commit"):
        response = client.post(
            reverse("admin:link_tracking_domain_changelist"),
            {"action": "verify_by_hand", "_selected_action": [str(domain.pk)]},
        )
    assert response.status_code == 302
    domain.refresh_from_db()
    assert (domain.verification_method, domain.verified_by, domain.status) == (
        "manual",
        operator,
        "active",
    )
    entry = LogEntry.objects.get(object_id=str(domain.pk))
    assert entry.user == operator and "by hand" in entry.get_change_message()


def test_only_a_verified_active_domain_serves_links(account_a: Any) -> None:
    domain = Domain(domain_name="x.example.com", active=True, status="active")
    assert not domain.serves_links  # not verified
    domain.verified_at = timezone.now()
    assert domain.serves_links
    for status in ("suspended", "retired", "pending"):
        domain.status = status
        assert not domain.serves_links


def test_the_default_resolver_uses_dnspython(monkeypatch: pytest.MonkeyPatch) -> None:
    def nxdomain(self: Any, name: str, rdtype: str) -> Any:
        raise dns.resolver.NXDOMAIN

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", nxdomain)
    assert domain_service.dns_txt_records("_x.example.com") == []

    def timeout(self: Any, name: str, rdtype: str) -> Any:
        raise dns.resolver.LifetimeTimeout(timeout=1.0, errors={})

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", timeout)
    with pytest.raises(domain_service.DnsLookupError):
        domain_service.dns_txt_records("_x.example.com")


def test_a_domain_name_is_still_validated(account_a: Any) -> None:
    with pytest.raises(ValidationError):
        create_domain(account=account_a, domain_name="Not A Host")


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_domains_working() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        [("link_tracking", "0001_initial")],
        [("link_tracking", "0002_domain_ownership")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldDomain = old_apps.get_model("link_tracking", "Domain")
    OldDomain.objects.create(domain_name="one.example.com", status="active")
    OldDomain.objects.create(domain_name="two.example.com", status="pending")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        rows = executor.loader.project_state(after).apps.get_model("link_tracking", "Domain")
        migrated = {d.domain_name: d for d in rows.objects.all()}
        assert all(
            d.verified_at and d.verification_method == "migration" for d in migrated.values()
        )
        assert {d.status for d in migrated.values()} == {"active"}
        tokens = {d.verification_token for d in migrated.values()}
        assert len(tokens) == 2  # each domain its own token
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

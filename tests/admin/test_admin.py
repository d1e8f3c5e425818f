"""The Django admin: every model registered; link edits go through the service layer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from link_tracking_publisher import outbox as outbox_state
from link_tracking_publisher.models import (
    Domain,
    GlobalUTMPolicy,
    Link,
    LinkCampaign,
    LinkCampaignCrmCampaignMapping,
    LinkVersion,
    PrivacyRequest,
    PublishOutbox,
)
from link_tracking_publisher.services.links import EDITABLE_FIELDS, POLICY_FIELDS
from link_tracking_publisher.services.publisher import LinkPublisher
from tests.publisher.factories import (
    AccountFactory,
    CrmCampaignFactory,
    DomainFactory,
    LinkCampaignFactory,
    LinkFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [
    Domain,
    LinkCampaign,
    LinkCampaignCrmCampaignMapping,
    GlobalUTMPolicy,
    Link,
    PublishOutbox,
    LinkVersion,
    PrivacyRequest,
]


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator() -> Any:
    return get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")


@pytest.fixture
def client(operator: Any) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def link() -> Link:
    account = AccountFactory()
    return LinkFactory(
        account=account,
        domain=DomainFactory(domain_name="go.example.com", account=account),
        campaign=LinkCampaignFactory(account=account, campaign_id="SPRING26"),
        slug="SALE",
        keyword="HELP",
    )


def _url(model: type, view: str, *args: Any) -> str:
    return reverse(f"admin:link_tracking_{model._meta.model_name}_{view}", args=args)


def _form(link: Link, **changes: Any) -> dict[str, Any]:
    data = {
        "campaign": link.campaign_id or "",
        "keyword": link.keyword,
        "channel": link.channel,
        "destination_url": link.destination_url,
        "fallback_url": link.fallback_url,
        "append_query_params": "on" if link.append_query_params else "",
        "query_message_id": "on" if link.query_message_id else "",
        "utm_overrides": "{}",
        "dynamic_param_allowlist": '["click_id"]',
        "routing_rules": "null",
        "active": "on" if link.active else "",
        "expires_at_0": "",
        "expires_at_1": "",
        "max_clicks": "",
        "signature_secret_ref": "",
        "change_reason": "",
        **_inline_management(),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _inline_management() -> dict[str, str]:
    data = {}
    for prefix in ("publish_outbox", "versions"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def test_every_model_is_registered_and_lists(client: Client, link: Link) -> None:
    for model in MODELS:
        assert site.is_registered(model), model
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 200, model


def test_adding_a_link_goes_through_the_service_layer(
    client: Client, operator: Any, link: Link
) -> None:
    data = _form(
        link,
        destination_url="https://shop.example.com/new",
        keyword="NEW",
        change_reason="added by ops",
    )
    data.update(account=link.account_id, domain=link.domain_id, slug_original="Fresh")
    response = client.post(_url(Link, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Link.objects.get(slug_canonical="FRESH")
    assert (created.slug_type, created.runtime_version, created.created_by) == (
        "vanity",
        1,
        operator,
    )
    version = created.versions.get()
    assert (version.change_reason, version.changed_by) == ("added by ops", operator)
    assert created.publish_outbox.get().status == "pending"


@pytest.mark.parametrize("typed", ["sale", "/Sale/"])
def test_a_taken_vanity_slug_is_a_form_error(client: Client, link: Link, typed: str) -> None:
    # A slug is compared as keys use it (the contract's canonical_slug): "/Sale/" is "SALE".
    data = _form(link)
    data.update(account=link.account_id, domain=link.domain_id, slug_original=typed)
    response = client.post(_url(Link, "add"), data)
    assert response.status_code == 200
    assert "already taken" in str(response.context["adminform"].form.errors["slug_original"])
    assert Link.objects.count() == 1


def test_changing_a_link_is_versioned_and_outboxed(
    client: Client, operator: Any, link: Link
) -> None:
    response = client.post(
        _url(Link, "change", link.pk),
        _form(link, destination_url="https://shop.example.com/v2", change_reason="new page"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    link.refresh_from_db()
    assert (link.destination_url, link.runtime_version) == ("https://shop.example.com/v2", 2)
    version = link.versions.get(version=2)
    assert version.changes == {
        "destination_url": ["https://shop.example.com/landing", "https://shop.example.com/v2"]
    }
    assert (version.changed_by, version.change_reason) == (operator, "new page")
    assert link.publish_outbox.filter(runtime_version=2).exists()


def test_bad_input_in_the_admin_is_a_form_error(client: Client, link: Link) -> None:
    response = client.post(
        _url(Link, "change", link.pk), _form(link, destination_url="javascript:alert(1)")
    )
    assert response.status_code == 200
    assert "destination_url" in response.context["adminform"].form.errors
    link.refresh_from_db()
    assert link.runtime_version == 1


def test_the_link_page_shows_short_url_preview_outbox_and_history(
    client: Client, link: Link
) -> None:
    outbox_state.mark_complete(link.publish_outbox.get(), "written")
    page = client.get(_url(Link, "change", link.pk)).content.decode()
    assert "https://go.example.com/SALE" in page
    assert "redirects to" in page and "https://shop.example.com/landing?" in page
    assert "v1: complete (written)" in page
    assert "created" in page  # the version history inline


def test_a_link_waiting_for_its_domain_says_so_and_why(client: Client) -> None:
    account = AccountFactory()
    domain = DomainFactory(
        domain_name="new.example.com",
        account=account,
        verified_at=None,
        status="pending",
        verification_method="",
    )
    link = LinkFactory(account=account, domain=domain)
    assert LinkPublisher().publish_link(link, link.publish_outbox.get()).outcome == (
        "domain_unverified"
    )
    reason = "v1: waiting_for_domain: domain new.example.com is not verified yet: run manage.py"
    for page in (
        client.get(_url(Link, "changelist")).content.decode(),
        client.get(_url(Link, "change", link.pk)).content.decode(),
    ):
        assert reason in page and "verify_domain new.example.com --by-hand --by USERNAME" in page
        assert "v1: complete" not in page


def test_links_cannot_be_deleted(client: Client, link: Link) -> None:
    assert client.post(_url(Link, "delete", link.pk), {"post": "yes"}).status_code == 403
    assert Link.objects.filter(pk=link.pk).exists()


@pytest.mark.parametrize(
    ("action", "active", "version"),
    [("unpublish", False, 2), ("publish", True, 2), ("republish", True, 2)],
)
def test_actions_go_through_the_service_layer(
    client: Client, link: Link, action: str, active: bool, version: int
) -> None:
    response = client.post(
        _url(Link, "changelist"), {"action": action, "_selected_action": [str(link.pk)]}
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.active, link.runtime_version) == (active, version)
    assert link.publish_outbox.filter(runtime_version=version).exists()


def test_the_audit_trail_is_read_only(client: Client, link: Link) -> None:
    version = link.versions.get()
    assert client.get(_url(LinkVersion, "add")).status_code == 403
    page = client.get(_url(LinkVersion, "change", version.pk))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(_url(LinkVersion, "delete", version.pk), {"post": "yes"}).status_code == 403


def test_retry_failed_outbox_entries_from_the_admin(client: Client, link: Link) -> None:
    entry = link.publish_outbox.get()
    outbox_state.mark_failed(entry, "boom", code="permanent_error")
    client.post(
        _url(PublishOutbox, "changelist"), {"action": "retry", "_selected_action": [entry.pk]}
    )
    entry.refresh_from_db()
    assert entry.status == "pending"


def test_domain_campaign_and_mapping_edits_use_the_services(client: Client) -> None:
    account = AccountFactory()
    response = client.post(
        _url(Domain, "add"),
        {
            "account": account.pk,
            "domain_name": "new.example.com",
            "purpose": "sms",
            "active": "on",
            "status": "active",
            "health_score": "100",
            "url_domain_ref": "",
        },
    )
    assert response.status_code == 302
    assert Domain.objects.filter(domain_name="new.example.com", account=account).exists()
    crm = CrmCampaignFactory(account=account)
    response = client.post(
        _url(LinkCampaign, "add"),
        {
            "account": account.pk,
            "campaign_id": "",
            "name": "Summer",
            "description": "",
            "utm_template": '{"utm_campaign": "${campaign_id}"}',
            "active": "on",
            "crm_campaign_mappings-TOTAL_FORMS": "1",
            "crm_campaign_mappings-INITIAL_FORMS": "0",
            "crm_campaign_mappings-MIN_NUM_FORMS": "0",
            "crm_campaign_mappings-MAX_NUM_FORMS": "1000",
            "crm_campaign_mappings-0-crm_campaign": crm.pk,
            "crm_campaign_mappings-0-start_date": "2026-06-01",
            "crm_campaign_mappings-0-end_date": "",
            "crm_campaign_mappings-0-is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = LinkCampaign.objects.get(name="Summer")
    assert campaign.campaign_id is None
    mapping = campaign.crm_campaign_mappings.get()
    assert (mapping.crm_campaign, str(mapping.start_date)) == (crm, "2026-06-01")


def test_privacy_requests_are_created_through_the_service(client: Client) -> None:
    account = AccountFactory()
    response = client.post(
        _url(PrivacyRequest, "add"),
        {
            "account": account.pk,
            "request_type": "access",
            "subject_type": "sms_msg_id",
            "subject_value": "42",
        },
    )
    assert response.status_code == 302
    request = PrivacyRequest.objects.get()
    assert (request.status, request.requested_by.username) == ("pending", "ops")


def test_the_utm_policy_is_a_singleton_in_the_admin(client: Client) -> None:
    response = client.post(
        _url(GlobalUTMPolicy, "add"), {"default_utm_params": '{"utm_source": "sms"}'}
    )
    assert response.status_code == 302
    assert GlobalUTMPolicy.load().default_utm_params == {"utm_source": "sms"}
    assert client.get(_url(GlobalUTMPolicy, "add")).status_code == 403


def test_routing_rules_with_a_number_too_large_for_a_float_are_a_form_error(
    client: Client, link: Link
) -> None:
    # 10**400 cannot become a float: the contract refuses it as a split that is not finite.
    rules = (
        '{"type": "ab_test", "variant_a": "https://a.io/", "variant_b": "https://b.io/", '
        '"split": 1' + "0" * 400 + "}"
    )
    response = client.post(_url(Link, "change", link.pk), _form(link, routing_rules=rules))
    assert response.status_code == 200
    assert "split: must be a finite number" in str(
        response.context["adminform"].form.errors["routing_rules"]
    )
    link.refresh_from_db()
    assert link.runtime_version == 1


def test_the_link_page_offers_its_qr_code_for_download(client: Client, link: Link) -> None:
    page = client.get(_url(Link, "change", link.pk)).content.decode()
    for fmt, content_type in (("svg", "image/svg+xml"), ("png", "image/png")):
        url = reverse("admin:link_tracking_link_qr", args=[link.pk, fmt])
        assert url in page
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert f'filename="qr-go.example.com-SALE.{fmt}"' in response["Content-Disposition"]
    assert (
        client.get(reverse("admin:link_tracking_link_qr", args=[link.pk, "gif"])).status_code == 404
    )


def test_the_qr_download_needs_the_admin(link: Link) -> None:
    url = reverse("admin:link_tracking_link_qr", args=[link.pk, "svg"])
    assert Client().get(url).status_code == 302  # to the login page


def _upload(content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("links.csv", content, content_type="text/csv")


def test_links_are_imported_from_csv_in_the_admin(client: Client, link: Link) -> None:
    url = reverse("admin:link_tracking_link_import")
    assert url in client.get(_url(Link, "changelist")).content.decode()
    form = {"account": link.account.pk, "domain": link.domain.pk, "reason": ""}
    content = b"slug,destination_url\nnew1,https://shop.example.com/1\nSALE,javascript:x\n"
    page = client.post(url, {**form, "file": _upload(content)}).content.decode()
    assert page.count('class="import-error"') == 1 and "<td>destination_url</td>" in page
    assert not Link.objects.filter(slug_canonical="NEW1").exists()
    content = b"slug,destination_url\nnew1,https://shop.example.com/1\n"
    response = client.post(url, {**form, "dry_run": "on", "file": _upload(content)})
    assert response.status_code == 200 and "no errors" in response.content.decode()
    assert not Link.objects.filter(slug_canonical="NEW1").exists()
    response = client.post(url, {**form, "file": _upload(content)})
    assert response.status_code == 302
    new = Link.objects.get(slug_canonical="NEW1")
    assert new.versions.get().change_reason == "imported from CSV in the admin"


def test_the_admin_import_needs_the_add_permission(link: Link) -> None:
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("admin:link_tracking_link_import")).status_code == 403


def test_domain_app_link_documents_are_checked_in_the_admin(client: Client) -> None:
    domain = DomainFactory(domain_name="apps.example.com")
    form = {
        "domain_name": domain.domain_name,
        "purpose": "general",
        "active": "on",
        "status": "active",
        "health_score": "100",
        "url_domain_ref": "",
        "apple_app_site_association": "{not json",
        "assetlinks": '[{"relation": ["x"], "target": {"namespace": "android_app"}}]',
    }
    response = client.post(_url(Domain, "change", domain.pk), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"apple_app_site_association", "assetlinks"}, errors
    assert "package_name" in str(errors["assetlinks"])
    aasa = {"applinks": {"details": [{"appIDs": ["ABCDE12345.com.x"], "components": []}]}}
    response = client.post(
        _url(Domain, "change", domain.pk),
        {**form, "apple_app_site_association": json.dumps(aasa), "assetlinks": ""},
    )
    assert response.status_code == 302
    domain.refresh_from_db()
    assert (domain.apple_app_site_association, domain.assetlinks) == (aasa, None)
    assert PublishOutbox.objects.filter(domain=domain, runtime_version=1).exists()


def test_a_long_file_becomes_an_import_job_shown_read_only(
    client: Client, link: Link, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from unittest import mock

    from link_tracking_publisher.models import LinkImport
    from link_tracking_publisher.tasks import run_link_import_task

    settings.LINK_TRACKING = {**getattr(settings, "LINK_TRACKING", {}), "IMPORT_MAX_ROWS": 1}
    form = {"account": link.account.pk, "domain": link.domain.pk, "reason": ""}
    content = (
        b"slug,destination_url\nj1,https://shop.example.com/1\nj2,https://shop.example.com/2\n"
    )
    with (
        mock.patch.object(run_link_import_task, "delay") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("admin:link_tracking_link_import"),
            {**form, "mode": "per_row", "file": _upload(content)},
        )
    job = LinkImport.objects.get()
    assert response.status_code == 302 and response["Location"] == _url(
        LinkImport, "change", job.pk
    )
    sent.assert_called_once_with(str(job.pk))
    assert (job.mode, job.rows_total, job.status) == ("per_row", 2, "pending")
    run_link_import_task(str(job.pk))
    assert Link.objects.filter(slug_canonical__in=["J1", "J2"]).count() == 2
    page = client.get(_url(LinkImport, "changelist")).content.decode()
    assert "links.csv" in page and "2 / 2" in page
    page = client.get(_url(LinkImport, "change", job.pk)).content.decode()
    assert "Succeeded" in page and 'name="status"' not in page  # read only
    assert client.post(_url(LinkImport, "add")).status_code == 403


def test_a_swappable_setting_naming_no_model_takes_the_apps_pages_off_the_admin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a swappable model unresolved, the admin's own checks would crash on the foreign keys
    to it before link_tracking.E008 could be shown; the app's pages are withdrawn instead."""
    from django.contrib.admin import AdminSite
    from django.contrib.auth.models import Group

    from link_tracking_publisher import admin as app_admin

    other = AdminSite(name="other")
    for model, model_admin in site._registry.items():
        other.register(model, type(model_admin))
    app_admin._withdraw_when_unresolved(other)  # the settings resolve: nothing changes
    assert Link in other._registry
    monkeypatch.setattr(
        app_admin, "unresolved_swappable_models", lambda: {"LINK_TRACKING_ACCOUNT_MODEL": "x.Y"}
    )
    app_admin._withdraw_when_unresolved(other)
    assert not [m for m in other._registry if m._meta.app_label == "link_tracking"]
    assert Group in other._registry  # the host's own pages stay


def test_the_link_form_shows_each_field_a_change_may_touch_once() -> None:
    """The fieldsets follow the service's ``EDITABLE_FIELDS``: a field added there is on the
    form (destination or policy), and none is shown twice."""
    fieldsets = dict(site._registry[Link].fieldsets)
    shown = [name for options in fieldsets.values() for name in options["fields"]]
    assert len(shown) == len(set(shown))
    assert set(EDITABLE_FIELDS) <= set(shown)
    assert fieldsets["Policy"]["fields"] == list(POLICY_FIELDS)


def test_the_preview_page_simulates_a_click_with_its_language_country_and_device(
    client: Client, link: Link
) -> None:
    link.routing_rules = {
        "type": "language",
        "fr": "https://example.ca/fr",
        "default": "https://example.ca/en",
    }
    link.save(update_fields=["routing_rules"])
    change = client.get(_url(Link, "change", link.pk)).content.decode()
    url = _url(Link, "preview", link.pk)
    assert f'href="{url}"' in change or f"href='{url}'" in change

    plain = client.get(url)
    assert plain.status_code == 200
    assert plain.context["result"].routing_reason == "language:default"

    french = client.get(url, {"accept_language": "en;q=0.4, fr-CH;q=0.8", "country": "ca"})
    result = french.context["result"]
    assert result.routing_reason == "language:fr"
    assert result.redirect_url.startswith("https://example.ca/fr?")
    assert "https://example.ca/fr?" in french.content.decode()

    phone = client.get(
        url, {"user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"}
    )
    assert phone.context["result"].device == "ios"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "CAN"}, "country"),
        ({"accept_language": "fr," * 2731}, "accept_language"),
        ({"user_agent": "x" * 1025}, "user_agent"),
        ({"at": "not a time"}, "at"),
    ],
)
def test_the_preview_page_answers_bad_input_with_the_field(
    client: Client, link: Link, params: dict[str, str], field: str
) -> None:
    response = client.get(_url(Link, "preview", link.pk), params)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["result"] is None


def test_the_preview_page_needs_the_permission_to_view_links(link: Link) -> None:
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(_url(Link, "preview", link.pk)).status_code in (403, 404)
    assert client.get(_url(Link, "preview", 999_999)).status_code in (302, 403, 404)

"""Links through the API: every write goes through the service layer (versioned, outboxed,
published after commit); bad input is a 400 naming the field."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link, LinkVersion, PublishOutbox
from link_tracking_publisher.tasks import publish_link_task, publish_outbox_task
from link_tracking_runtime.record import item_key
from tests.publisher.factories import DomainFactory, LinkCampaignFactory, LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def body(account_a: Any, domain_a: Any, campaign_a: Any) -> dict[str, Any]:
    return {
        "account": account_a.pk,
        "domain": str(domain_a.pk),
        "campaign": str(campaign_a.pk),
        "destination_url": "https://shop.example.com/spring",
        "keyword": "HELP",
        "channel": "sms",
        "dynamic_param_allowlist": ["click_id", "sms_msg_id"],
        "reason": "spring launch",
    }


def test_create_goes_through_the_service_layer(
    staff_client: APIClient,
    staff: Any,
    body: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with mock.patch.object(publish_link_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    link = Link.objects.get(pk=data["id"])
    assert (link.keyword, link.campaign_identifier, link.runtime_version) == ("HELP", "SPRING26", 1)
    assert link.created_by == staff
    version = LinkVersion.objects.get(link=link)
    assert (version.version, version.changed_by, version.change_reason) == (
        1,
        staff,
        "spring launch",
    )
    entry = PublishOutbox.objects.get(link=link)
    delay.assert_called_once_with(str(link.pk), entry.pk)
    assert data["short_url"] == f"https://a.example.com/{link.slug_canonical}"
    assert data["publish_status"] == "pending" and data["published_version"] is None
    assert data["slug_type"] == "system" and "reason" not in data


def test_create_with_a_vanity_slug(staff_client: APIClient, body: dict[str, Any]) -> None:
    response = staff_client.post(f"{API}/links/", {**body, "slug": "Spring-Sale"}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert (data["slug"], data["slug_canonical"], data["slug_type"]) == (
        "Spring-Sale",
        "SPRING-SALE",
        "vanity",
    )


def test_update_is_versioned_and_outboxed(
    staff_client: APIClient, staff: Any, body: dict[str, Any], enqueued: mock.MagicMock
) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    response = staff_client.patch(
        f"{API}/links/{link_id}/",
        {"keyword": "LAW", "destination_url": "https://law.example.com/", "reason": "law firm"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["keyword"], response.json()["runtime_version"]) == ("LAW", 2)
    version = LinkVersion.objects.get(link_id=link_id, version=2)
    assert version.changes == {
        "keyword": ["HELP", "LAW"],
        "destination_url": ["https://shop.example.com/spring", "https://law.example.com/"],
    }
    assert (version.changed_by, version.change_reason) == (staff, "law firm")
    assert PublishOutbox.objects.filter(link_id=link_id).count() == 2
    assert enqueued.call_count == 2  # one publish per version


def test_a_no_op_update_writes_nothing(staff_client: APIClient, body: dict[str, Any]) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    response = staff_client.patch(f"{API}/links/{link_id}/", {"keyword": "HELP"}, format="json")
    assert response.status_code == 200 and response.json()["runtime_version"] == 1
    assert LinkVersion.objects.filter(link_id=link_id).count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "00000000-0000-0000-0000-000000000000"),
        ("slug", "OTHER"),
        ("account", 999),
    ],
)
def test_the_key_and_owner_cannot_change(
    staff_client: APIClient, body: dict[str, Any], field: str, value: Any
) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    response = staff_client.patch(f"{API}/links/{link_id}/", {field: value}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    # Echoing the current values back (a GET, edited, PATCHed whole) is fine.
    current = staff_client.get(f"{API}/links/{link_id}/").json()
    response = staff_client.patch(f"{API}/links/{link_id}/", current, format="json")
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"destination_url": "javascript:alert(1)"}, "destination_url"),
        ({"destination_url": "ftp://files.example.com/x"}, "destination_url"),
        ({"destination_url": "/relative/path"}, "destination_url"),
        ({"destination_url": "https://exa mple.com/"}, "destination_url"),
        ({"destination_url": ""}, "destination_url"),
        ({"fallback_url": "data:text/html,hi"}, "fallback_url"),
        ({"utm_overrides": {"utm_source": "${nope}"}}, "utm_overrides"),
        ({"utm_overrides": {"utm_source": "${broken"}}, "utm_overrides"),
        ({"utm_overrides": {"bad name!": "x"}}, "utm_overrides"),
        ({"utm_overrides": {"click_id": "x"}}, "utm_overrides"),
        ({"utm_overrides": ["utm_source"]}, "utm_overrides"),
        ({"dynamic_param_allowlist": ["click_id", "email"]}, "dynamic_param_allowlist"),
        ({"dynamic_param_allowlist": ["click_id", "click_id"]}, "dynamic_param_allowlist"),
        ({"dynamic_param_allowlist": "click_id"}, "dynamic_param_allowlist"),
        ({"routing_rules": {"type": "teleport"}}, "routing_rules"),
        ({"routing_rules": {"type": "geo", "de": "javascript:x"}}, "routing_rules"),
        ({"routing_rules": []}, "routing_rules"),
        ({"channel": "pigeon"}, "channel"),
        ({"max_clicks": 0}, "max_clicks"),
        ({"max_clicks": 1.5}, "max_clicks"),
        ({"keyword": "K" * 65}, "keyword"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"signature_required": True}, "signature_secret_ref"),
        ({"slug": "health"}, "slug"),
        ({"slug": "no spaces"}, "slug"),
        ({"slug": "a/b"}, "slug"),
        ({"campaign": "not-a-uuid"}, "campaign"),
        ({"domain": 12}, "domain"),
        ({"account": 1.5}, "account"),
        ({"account": True}, "account"),
    ],
)
def test_bad_input_is_a_field_error_and_writes_nothing(
    staff_client: APIClient, body: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    response = staff_client.post(f"{API}/links/", {**body, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert Link.objects.count() == 0 and PublishOutbox.objects.count() == 0


def test_bad_input_on_update_is_a_field_error(
    staff_client: APIClient, body: dict[str, Any]
) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    response = staff_client.patch(
        f"{API}/links/{link_id}/", {"utm_overrides": {"utm_term": "${who}"}}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["utm_overrides"]
    assert "who" in str(response.json())
    assert Link.objects.get(pk=link_id).runtime_version == 1


def test_a_taken_slug_is_a_field_error(staff_client: APIClient, body: dict[str, Any]) -> None:
    assert (
        staff_client.post(f"{API}/links/", {**body, "slug": "HELP"}, format="json").status_code
        == 201
    )
    response = staff_client.post(f"{API}/links/", {**body, "slug": "help"}, format="json")
    assert response.status_code == 400
    assert "already taken" in response.json()["slug"][0]


def test_a_campaign_of_another_account_is_refused(
    staff_client: APIClient, body: dict[str, Any], account_b: Any
) -> None:
    other = LinkCampaignFactory(account=account_b)
    response = staff_client.post(
        f"{API}/links/", {**body, "campaign": str(other.pk)}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["campaign"]


def test_publish_and_unpublish_go_through_the_service_layer(
    staff_client: APIClient, body: dict[str, Any], enqueued: mock.MagicMock
) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    response = staff_client.post(
        f"{API}/links/{link_id}/unpublish/", {"reason": "offer ended"}, format="json"
    )
    assert response.status_code == 202
    assert (response.json()["active"], response.json()["runtime_version"]) == (False, 2)
    assert LinkVersion.objects.get(link_id=link_id, version=2).change_reason == "offer ended"
    response = staff_client.post(f"{API}/links/{link_id}/publish/", {}, format="json")
    assert response.status_code == 202
    assert (response.json()["active"], response.json()["runtime_version"]) == (True, 3)
    # Publishing an active link publishes it again under a new version.
    response = staff_client.post(f"{API}/links/{link_id}/publish/", format="json")
    assert response.status_code == 202 and response.json()["runtime_version"] == 4
    assert list(
        PublishOutbox.objects.filter(link_id=link_id)
        .order_by("runtime_version")
        .values_list("runtime_version", flat=True)
    ) == [1, 2, 3, 4]
    assert enqueued.call_count == 4


def test_versions_list_the_history_newest_first(
    staff_client: APIClient, body: dict[str, Any]
) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    staff_client.patch(
        f"{API}/links/{link_id}/", {"active": False, "reason": "pause"}, format="json"
    )
    response = staff_client.get(f"{API}/links/{link_id}/versions/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(v["version"], v["active"], v["change_reason"]) for v in results] == [
        (2, False, "pause"),
        (1, True, "spring launch"),
    ]
    assert results[0]["changes"] == {"active": [True, False]}


def test_publish_status_follows_the_outbox(staff_client: APIClient, body: dict[str, Any]) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    PublishOutbox.objects.filter(link_id=link_id).update(status="complete", result="written")
    staff_client.patch(f"{API}/links/{link_id}/", {"keyword": "NEW"}, format="json")
    data = staff_client.get(f"{API}/links/{link_id}/").json()
    assert (data["publish_status"], data["published_version"], data["runtime_version"]) == (
        "pending",
        1,
        2,
    )


def test_links_cannot_be_deleted(staff_client: APIClient, body: dict[str, Any]) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    assert staff_client.delete(f"{API}/links/{link_id}/").status_code == 405
    assert Link.objects.filter(pk=link_id).exists()


# --- listing ---------------------------------------------------------------------------------


@pytest.fixture
def many_links(account_a: Any, domain_a: Any, campaign_a: Any) -> list[Link]:
    other = DomainFactory(domain_name="other.example.com", account=account_a)
    return [
        LinkFactory(
            account=account_a, domain=domain_a, campaign=campaign_a, keyword="HELP", channel="sms"
        ),
        LinkFactory(account=account_a, domain=domain_a, keyword="LAW", channel="email"),
        LinkFactory(account=account_a, domain=other, keyword="help", channel="sms", active=False),
        LinkFactory(
            account=account_a,
            domain=other,
            slug="Vanity",
            destination_url="https://special.example.org/",
        ),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"keyword": "help"}, [0, 2]),
        ({"channel": "email"}, [1]),
        ({"active": "false"}, [2]),
        ({"campaign": "{campaign}"}, [0]),
        ({"domain": "{other}"}, [2, 3]),
        ({"slug": "vanity"}, [3]),
        ({"slug": " /Vanity/ "}, [3]),
        ({"search": "special.example"}, [3]),
        ({"search": "LAW"}, [1]),
    ],
)
def test_filters_and_search(
    staff_client: APIClient, many_links: list[Link], params: dict[str, str], expected: list[int]
) -> None:
    names = {"campaign": str(many_links[0].campaign_id), "other": str(many_links[2].domain_id)}
    query = {k: v.format(**names) for k, v in params.items()}
    response = staff_client.get(f"{API}/links/", query)
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert ids == {str(many_links[i].pk) for i in expected}


def test_ordering_and_pagination(
    staff_client: APIClient, many_links: list[Link], settings: Any
) -> None:
    response = staff_client.get(f"{API}/links/", {"ordering": "keyword", "page_size": 2})
    data = response.json()
    assert data["count"] == 4 and len(data["results"]) == 2 and data["next"]
    assert [item["keyword"] for item in data["results"]] == ["", "HELP"]
    settings.LINK_TRACKING = {"API_MAX_PAGE_SIZE": 3}
    assert len(staff_client.get(f"{API}/links/", {"page_size": 100}).json()["results"]) == 3
    response = staff_client.get(f"{API}/links/", {"page": 99})
    assert response.status_code == 404


def test_invalid_filter_values_are_field_errors(staff_client: APIClient, many_links: Any) -> None:
    for params, field in [
        ({"domain": "nope"}, "domain"),
        ({"campaign": "123"}, "campaign"),
        ({"channel": "pigeon"}, "channel"),
        ({"account": "abc"}, "account"),
    ]:
        response = staff_client.get(f"{API}/links/", params)
        assert response.status_code == 400, params
        assert field in response.json()


def test_a_link_waits_for_its_unverified_domain_and_says_why(
    staff_client: APIClient,
    staff: Any,
    account_a: Any,
    table: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    domain = DomainFactory(
        domain_name="new.example.com",
        account=account_a,
        verified_at=None,
        status="pending",
        verification_method="",
    )
    body = {
        "account": account_a.pk,
        "domain": str(domain.pk),
        "destination_url": "https://shop.example.com/spring",
    }
    with (
        mock.patch.object(publish_link_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    assert publish_link_task.run(*delay.call_args.args) == "domain_unverified"  # the worker

    data = staff_client.get(f"{API}/links/{link_id}/").json()
    (listed,) = staff_client.get(f"{API}/links/").json()["results"]
    for shown in (data, listed):
        assert (shown["publish_status"], shown["published_version"]) == ("waiting_for_domain", None)
        reason = shown["publish_status_reason"]
        assert reason.startswith("domain new.example.com is not verified yet: run manage.py ")
        assert domain.verification_record_name in reason
        assert "verify_domain new.example.com --by-hand --by USERNAME" in reason
    assert PublishOutbox.objects.get(link_id=link_id).status == "waiting_for_domain"
    link = Link.objects.get(pk=link_id)
    assert "Item" not in table.get_item(Key=item_key("new.example.com", link.slug_canonical))

    with (
        mock.patch.object(publish_outbox_task, "delay") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("verify_domain", "new.example.com", "--by-hand", "--by", staff.username)
    assert publish_outbox_task.run(*sent.call_args.args)["written"] == 1  # the worker

    data = staff_client.get(f"{API}/links/{link_id}/").json()
    assert (data["publish_status"], data["published_version"], data["runtime_version"]) == (
        "complete",
        1,
        1,
    )
    assert data["publish_status_reason"] is None
    item = table.get_item(Key=item_key("new.example.com", link.slug_canonical))["Item"]
    assert item["runtime_version"] == 1 and item["active"] is True


def test_published_version_counts_only_what_was_written(
    staff_client: APIClient, body: dict[str, Any]
) -> None:
    link_id = staff_client.post(f"{API}/links/", body, format="json").json()["id"]
    # A row an earlier release completed without writing anything is no published version.
    PublishOutbox.objects.filter(link_id=link_id).update(
        status="complete", result="domain_unverified"
    )
    assert staff_client.get(f"{API}/links/{link_id}/").json()["published_version"] is None

"""The service layer: one transaction per change, enqueue only after commit."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from link_tracking_publisher import services
from link_tracking_publisher.models import Link, LinkCampaign, LinkVersion, PublishOutbox
from link_tracking_publisher.services import links as service
from link_tracking_publisher.services.publisher import PUBLISH_CHUNK, LinkPublisher
from link_tracking_publisher.tasks import (
    publish_link_task,
    publish_outbox_task,
    retry_pending_outbox,
)
from link_tracking_runtime import item_key

from .factories import DomainFactory, LinkCampaignFactory, LinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def delay() -> Any:
    with mock.patch.object(publish_link_task, "delay") as delay:
        yield delay


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("ops", password="x")


def test_create_writes_link_version_and_outbox_and_enqueues_once_on_commit(
    account: Any, domain: Any, user: Any, delay: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        link = service.create_link(
            account=account,
            domain=domain,
            destination_url="https://shop.example.com/",
            keyword="HELP",
            user=user,
            reason="spring launch",
        )
        delay.assert_not_called()  # nothing is sent before the transaction commits
    assert len(callbacks) == 1
    callbacks[0]()
    entry = PublishOutbox.objects.get(link=link)
    delay.assert_called_once_with(str(link.pk), entry.pk)
    assert (entry.runtime_version, entry.status, entry.idempotency_key) == (
        1,
        "pending",
        f"{link.pk}:1",
    )
    version = LinkVersion.objects.get(link=link)
    assert (version.version, version.changed_by, version.change_reason) == (
        1,
        user,
        "spring launch",
    )
    assert version.changes["destination_url"] == [None, "https://shop.example.com/"]
    assert version.changes["keyword"] == [None, "HELP"]


def test_rollback_writes_nothing_and_enqueues_nothing(
    account: Any, domain: Any, delay: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            service.create_link(
                account=account, domain=domain, destination_url="https://shop.example.com/"
            )
            raise RuntimeError("the caller's transaction fails after the link was created")
    assert callbacks == []
    delay.assert_not_called()
    assert (Link.objects.count(), LinkVersion.objects.count(), PublishOutbox.objects.count()) == (
        0,
        0,
        0,
    )


def test_update_records_who_why_and_what(
    account: Any, domain: Any, user: Any, delay: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    with django_capture_on_commit_callbacks(execute=True):
        updated = service.update_link(
            link,
            destination_url="https://shop.example.com/v2",
            active=False,
            user=user,
            reason="offer ended",
        )
    assert updated.runtime_version == 2
    version = LinkVersion.objects.get(link=link, version=2)
    assert version.changes == {
        "destination_url": ["https://shop.example.com/landing", "https://shop.example.com/v2"],
        "active": [True, False],
    }
    assert (version.changed_by, version.change_reason, version.active) == (
        user,
        "offer ended",
        False,
    )
    entry = PublishOutbox.objects.get(link=link, runtime_version=2)
    delay.assert_called_once_with(str(link.pk), entry.pk)


def test_a_no_op_update_writes_and_publishes_nothing(
    account: Any, domain: Any, delay: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        service.update_link(link, destination_url=link.destination_url)
    assert callbacks == [] and link.versions.count() == 1
    assert PublishOutbox.objects.filter(link=link).count() == 1


def test_key_fields_cannot_change(account: Any, domain: Any) -> None:
    link = LinkFactory(account=account, domain=domain)
    with pytest.raises(ValidationError) as exc:
        service.update_link(link, domain=DomainFactory())
    assert "domain" in exc.value.message_dict


def test_campaign_change_re_denormalises_and_republishes(
    account: Any, domain: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = LinkCampaignFactory(account=account, campaign_id="OLD")
    links = [LinkFactory(account=account, domain=domain, campaign=campaign) for _ in range(3)]
    other = LinkFactory(account=account, domain=domain)
    assert links[0].campaign_identifier == "OLD"

    with mock.patch.object(publish_outbox_task, "delay") as send:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.update_campaign(campaign, campaign_id="NEW")
        # The new versions and their outbox rows are written with the change ...
        rows = PublishOutbox.objects.filter(link__campaign=campaign, runtime_version=2)
        assert set(rows.values_list("status", flat=True)) == {"pending"} and rows.count() == 3
        assert not send.called  # ... and sent only once it commits
        for callback in callbacks:
            callback()
    send.assert_called_once()
    assert sorted(send.call_args.args[0]) == sorted(rows.values_list("pk", flat=True))
    for link in links:
        link.refresh_from_db()
        assert (link.campaign_identifier, link.runtime_version) == ("NEW", 2)
    assert not PublishOutbox.objects.filter(link=other, runtime_version=2).exists()


def test_a_big_republish_is_sent_in_batches_not_one_message_per_link(
    account: Any, domain: Any, django_capture_on_commit_callbacks: Any
) -> None:
    LinkFactory.create_batch(PUBLISH_CHUNK + 5, account=account, domain=domain)
    with (
        mock.patch.object(publish_outbox_task, "delay") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.update_global_utm_policy({"utm_source": "sms"})
    assert [len(c.args[0]) for c in send.call_args_list] == [PUBLISH_CHUNK, 5]
    sent = {pk for c in send.call_args_list for pk in c.args[0]}
    assert sent == set(PublishOutbox.objects.filter(runtime_version=2).values_list("pk", flat=True))


def _change_campaign(campaign: Any, domain: Any) -> None:
    services.update_campaign(campaign, utm_template={"utm_campaign": "${campaign_id}"})


def _deactivate_domain(campaign: Any, domain: Any) -> None:
    services.update_domain(domain, active=False)


def _change_utm_policy(campaign: Any, domain: Any) -> None:
    services.update_global_utm_policy({"utm_source": "sms"})


def _check_campaign(item: dict[str, Any]) -> bool:
    return item["resolved_query_params"].get("utm_campaign") == "SPRING26"


def _check_domain(item: dict[str, Any]) -> bool:
    return item["active"] is False


def _check_utm_policy(item: dict[str, Any]) -> bool:
    return item["resolved_query_params"].get("utm_source") == "sms"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_change_campaign, _check_campaign),
        (_deactivate_domain, _check_domain),
        (_change_utm_policy, _check_utm_policy),
    ],
    ids=["campaign", "domain", "utm_policy"],
)
def test_a_republish_survives_a_broker_outage_at_commit(
    table: Any,
    account: Any,
    domain: Any,
    campaign: Any,
    settings: Any,
    caplog: Any,
    django_capture_on_commit_callbacks: Any,
    change: Any,
    expected: Any,
) -> None:
    """The broker is down when the change commits: the change stands, its outbox rows stay
    PENDING, and the sweeper publishes them later."""
    # moto's in-process backend is not thread-safe: one put at a time.
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "BULK_PUBLISH_CONCURRENCY": 1}
    links = [LinkFactory(account=account, domain=domain, campaign=campaign) for _ in range(3)]
    for link in links:  # the first version is live
        LinkPublisher(table).publish_link(link, PublishOutbox.objects.get(link=link))

    def stored(link: Link) -> dict[str, Any]:
        item: dict[str, Any] = table.get_item(
            Key=item_key(domain.domain_name, link.slug_canonical)
        )["Item"]
        return item

    with (
        mock.patch.object(publish_outbox_task, "delay", side_effect=ConnectionError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        change(campaign, domain)
    assert "could not enqueue link_tracking.publish_outbox" in caplog.text
    rows = PublishOutbox.objects.filter(link__in=links, runtime_version=2)
    assert set(rows.values_list("status", flat=True)) == {"pending"} and rows.count() == 3
    assert all(stored(link)["runtime_version"] == 1 for link in links)

    rows.update(updated_at=timezone.now() - dt.timedelta(hours=1))  # stuck long enough
    with mock.patch.object(
        publish_outbox_task, "delay", side_effect=lambda ids: publish_outbox_task.apply(args=[ids])
    ) as send:
        assert retry_pending_outbox.apply().get() == 3
    assert send.call_count == 1  # one batch, not one message per row
    assert set(rows.values_list("status", "result")) == {("complete", "written")}
    for link in links:
        assert stored(link)["runtime_version"] == 2 and expected(stored(link))


BAD_INPUT = [
    ({"destination_url": "javascript:alert(1)"}, "destination_url"),
    ({"destination_url": "/relative/path"}, "destination_url"),
    ({"destination_url": "ftp://files.example.com/x"}, "destination_url"),
    ({"destination_url": "https://"}, "destination_url"),
    ({"fallback_url": "data:text/html,hi"}, "fallback_url"),
    ({"dynamic_param_allowlist": ["click_id", "utm_source"]}, "dynamic_param_allowlist"),
    ({"dynamic_param_allowlist": "click_id"}, "dynamic_param_allowlist"),
    ({"slug": "bad/slug"}, "slug"),
    ({"signature_required": True}, "signature_secret_ref"),
    ({"routing_rules": ["not", "an", "object"]}, "routing_rules"),
    ({"max_clicks": 0}, "max_clicks"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_INPUT, ids=[f for _, f in BAD_INPUT])
def test_bad_input_is_a_field_error_and_writes_nothing(
    account: Any, domain: Any, fields: dict[str, Any], field: str
) -> None:
    kwargs = {"destination_url": "https://shop.example.com/", **fields}
    with pytest.raises(ValidationError) as exc:
        service.create_link(account=account, domain=domain, **kwargs)
    assert field in exc.value.message_dict
    assert (Link.objects.count(), PublishOutbox.objects.count()) == (0, 0)


def test_allowlist_error_names_the_offending_entry(account: Any, domain: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        service.create_link(
            account=account,
            domain=domain,
            destination_url="https://shop.example.com/",
            dynamic_param_allowlist=["sms_msg_id", "email"],
        )
    message = exc.value.message_dict["dynamic_param_allowlist"][0]
    assert "email" in message and "sms_msg_id" in message  # the bad one and the allowed ones


def test_bad_update_writes_nothing(account: Any, domain: Any) -> None:
    link = LinkFactory(account=account, domain=domain)
    with pytest.raises(ValidationError) as exc:
        service.update_link(link, destination_url="javascript:alert(1)")
    assert "destination_url" in exc.value.message_dict
    link.refresh_from_db()
    assert link.runtime_version == 1 and link.destination_url == "https://shop.example.com/landing"
    assert link.versions.count() == 1


def test_duplicate_campaign_id_within_an_account_is_a_field_error(account: Any) -> None:
    LinkCampaignFactory(account=account, campaign_id="SPRING")
    dup = LinkCampaign(account=account, name="again", campaign_id="SPRING")
    with pytest.raises(ValidationError) as exc:
        dup.full_clean()
    assert "campaign_id" in exc.value.message_dict
    # another account may use it, and campaigns without one never clash
    LinkCampaign(account=LinkCampaignFactory().account, name="x", campaign_id="SPRING").full_clean()
    LinkCampaignFactory(account=account, campaign_id=None)
    LinkCampaign(account=account, name="y", campaign_id=None).full_clean()


def test_links_cannot_use_another_accounts_campaign_or_domain(account: Any) -> None:
    foreign_campaign = LinkCampaignFactory()
    foreign_domain = DomainFactory(account=foreign_campaign.account)
    with pytest.raises(ValidationError) as exc:
        service.create_link(
            account=account,
            domain=foreign_domain,
            campaign=foreign_campaign,
            destination_url="https://shop.example.com/",
        )
    assert {"campaign", "domain"} <= set(exc.value.message_dict)


def test_a_broker_outage_after_commit_loses_nothing_and_raises_nothing(
    account: Any, domain: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    with (
        mock.patch.object(publish_link_task, "delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        link = service.create_link(
            account=account, domain=domain, destination_url="https://shop.example.com/"
        )
    entry = PublishOutbox.objects.get(link=link)
    assert entry.status == "pending"  # the sweeper's to re-enqueue
    assert "could not enqueue link_tracking.publish_link" in caplog.text


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        ({"type": "teleport"}, "type"),
        (
            {
                "type": "ab_test",
                "variant_a": "javascript:alert(1)",
                "variant_b": "https://b.example/",
            },
            "variant_a",
        ),
        (
            {
                "type": "time",
                "business_hours": "https://a.example/",
                "after_hours": "https://b.example/",
                "timezone": "Mars/Olympus",
            },
            "timezone",
        ),
    ],
)
def test_routing_rules_are_validated_with_the_contract(
    account: Any, domain: Any, rules: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        service.create_link(
            account=account,
            domain=domain,
            destination_url="https://shop.example.com/",
            routing_rules=rules,
        )
    assert fragment in exc.value.message_dict["routing_rules"][0]


def test_valid_routing_rules_are_accepted(account: Any, domain: Any) -> None:
    rules = {
        "type": "device",
        "ios": "https://apps.example.com/ios",
        "default": "https://example.com/",
    }
    link = service.create_link(
        account=account,
        domain=domain,
        destination_url="https://shop.example.com/",
        routing_rules=rules,
    )
    assert link.routing_rules == rules

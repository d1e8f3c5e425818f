from __future__ import annotations

from io import StringIO
from typing import Any
from unittest import mock

import boto3
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from devsite.processes import free_port
from link_tracking_publisher.models import Domain, PublishOutbox
from link_tracking_publisher.services.domains import BY_HAND_MESSAGE
from link_tracking_publisher.tasks import (
    publish_link_task,
    publish_outbox_task,
    republish_campaign_task,
)
from link_tracking_runtime.record import item_key
from link_tracking_runtime.table import create_table_kwargs

from .factories import DomainFactory, LinkCampaignFactory, LinkFactory


def _run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_setup_dynamodb_creates_the_contract_table_and_is_idempotent(aws: None) -> None:
    first = _run("setup_dynamodb", "--table-name", "lt-test")
    assert "Creating table lt-test" in first and "ACTIVE" in first
    description = boto3.client("dynamodb", region_name="us-east-1").describe_table(
        TableName="lt-test"
    )["Table"]
    expected = create_table_kwargs("lt-test")
    assert description["KeySchema"] == expected["KeySchema"]
    assert description["GlobalSecondaryIndexes"][0]["IndexName"] == "campaign-index"
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    second = _run("setup_dynamodb", "--table-name", "lt-test")
    assert "already exists" in second and "ACTIVE" in second


def test_setup_dynamodb_refuses_a_table_with_other_keys(aws: None) -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="lt-other",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(CommandError, match="keys or indexes differ"):
        _run("setup_dynamodb", "--table-name", "lt-other")


def test_setup_dynamodb_without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CommandError, match="No AWS credentials found"):
        _run("setup_dynamodb")


def test_setup_dynamodb_when_the_endpoint_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with (
        mock.patch.dict("django.conf.settings.LINK_TRACKING", {"AWS_CONNECT_TIMEOUT_SECONDS": 1}),
        pytest.raises(CommandError, match="Cannot reach DynamoDB at http://127.0.0.1"),
    ):
        _run("setup_dynamodb")


def test_setup_dynamodb_when_access_is_denied(aws: None) -> None:
    from botocore.exceptions import ClientError

    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "nope"}}, "CreateTable"
    )
    with (
        mock.patch(
            "link_tracking_publisher.management.commands.setup_dynamodb.dynamodb_client"
        ) as client,
        pytest.raises(CommandError, match="AccessDeniedException.*IAM permissions"),
    ):
        client.return_value.create_table.side_effect = denied
        _run("setup_dynamodb")


@pytest.mark.django_db
def test_republish_campaign_unknown_id_lists_known_ones(account: Any) -> None:
    LinkCampaignFactory(account=account, campaign_id="SPRING26")
    with pytest.raises(CommandError, match="No campaign has campaign_id 'NOPE'.*SPRING26"):
        _run("republish_campaign", "NOPE")


@pytest.mark.django_db
def test_republish_campaign_enqueues(account: Any, campaign: Any, domain: Any) -> None:
    LinkFactory(account=account, domain=domain, campaign=campaign)
    with mock.patch.object(republish_campaign_task, "delay") as delay:
        delay.return_value.id = "task-1"
        out = _run("republish_campaign", "SPRING26")
    delay.assert_called_once_with("SPRING26")
    assert "1 active links" in out and "task-1" in out


@pytest.mark.django_db
def test_republish_campaign_broker_down_is_a_command_error(account: Any, campaign: Any) -> None:
    with (
        mock.patch.object(republish_campaign_task, "delay", side_effect=OSError("refused")),
        pytest.raises(CommandError, match="Could not enqueue.*--now"),
    ):
        _run("republish_campaign", "SPRING26")


@pytest.mark.django_db
def test_republish_campaign_now(table: Any, account: Any, campaign: Any, domain: Any) -> None:
    links = [LinkFactory(account=account, domain=domain, campaign=campaign) for _ in range(3)]
    with mock.patch("link_tracking_publisher.services.publisher.app_settings") as conf:
        conf.BULK_PUBLISH_CONCURRENCY = 1  # in-process moto is not thread-safe
        out = _run("republish_campaign", "SPRING26", "--now")
    assert "3 written" in out
    for link in links:
        link.refresh_from_db()
        assert link.runtime_version == 2


@pytest.fixture
def waiting(account: Any) -> Any:
    """A link on an unverified domain, its publish already tried (and parked)."""
    domain = DomainFactory(
        domain_name="new.example.com", verified_at=None, status="pending", verification_method=""
    )
    link = LinkFactory(account=account, domain=domain)
    entry = PublishOutbox.objects.get(link=link)
    assert publish_link_task.run(str(link.pk), entry.pk) == "domain_unverified"
    return link


@pytest.fixture
def ops(db: None) -> Any:
    return get_user_model().objects.create_user("ops", is_staff=True)


def _stored(table: Any, link: Any) -> Any:
    return table.get_item(Key=item_key(link.domain.domain_name, link.slug_canonical)).get("Item")


def test_verify_domain_by_hand_audits_it_and_publishes_the_waiting_links(
    table: Any, waiting: Any, ops: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch.object(publish_outbox_task, "delay") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        out = _run("verify_domain", "new.example.com", "--by-hand", "--by", "ops")
    assert "new.example.com verified by hand by ops" in out
    domain = Domain.objects.get(domain_name="new.example.com")
    assert (domain.verification_method, domain.verified_by, domain.status) == (
        "manual",
        ops,
        "active",
    )
    entry = LogEntry.objects.get(object_id=str(domain.pk))
    assert entry.user == ops and entry.get_change_message() == BY_HAND_MESSAGE
    # The parked row is sent after commit, under its own version; run it as a worker would.
    row = PublishOutbox.objects.get(link=waiting)
    sent.assert_called_once_with([row.pk])
    assert publish_outbox_task.run([row.pk])["written"] == 1
    row.refresh_from_db()
    assert (row.status, row.result, row.runtime_version) == ("complete", "written", 1)
    stored = _stored(table, waiting)
    assert stored is not None and stored["runtime_version"] == 1
    # Again: nothing to do, nothing logged twice.
    assert "already verified" in _run(
        "verify_domain", "new.example.com", "--by-hand", "--by", "ops"
    )
    assert LogEntry.objects.filter(object_id=str(domain.pk)).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.example.com"], "No domain named 'nope.example.com'. Known domains: new.example"),
        (["new.example.com", "--by-hand"], "--by-hand needs --by USERNAME: the staff user"),
        (["new.example.com", "--by-hand", "--by", "ghost"], "No user 'ghost': name an existing"),
        (["new.example.com", "--by-hand", "--by", "clerk"], "'clerk' is not an active staff user"),
        (["new.example.com", "--by", "ops"], "--by names who verifies by hand: add --by-hand"),
    ],
)
def test_verify_domain_refuses_with_a_message_to_act_on(
    waiting: Any, ops: Any, args: list[str], message: str
) -> None:
    get_user_model().objects.create_user("clerk")
    with pytest.raises(CommandError) as raised:
        _run("verify_domain", *args)
    assert message in str(raised.value)
    domain = Domain.objects.get(domain_name="new.example.com")
    assert not domain.is_verified and not LogEntry.objects.exists()
    assert PublishOutbox.objects.get(link=waiting).status == "waiting_for_domain"


def test_verify_domain_checks_the_dns_and_says_what_it_expected_and_found(
    dns: dict[str, list[str]], waiting: Any, django_capture_on_commit_callbacks: Any
) -> None:
    domain = waiting.domain
    record, value = domain.verification_record_name, domain.verification_record_value
    dns[record] = ["link-tracking-verification=someone-elses-token"]
    with pytest.raises(CommandError) as raised:
        _run("verify_domain", "new.example.com")
    message = str(raised.value)
    assert f"expected a TXT record {record} with the value {value!r}" in message
    assert "found 'link-tracking-verification=someone-elses-token'" in message
    assert "verify_domain new.example.com --by-hand --by USERNAME" in message
    dns.clear()
    with pytest.raises(CommandError, match="found no TXT record"):
        _run("verify_domain", "new.example.com")

    dns[record] = [value]
    with (
        mock.patch.object(publish_outbox_task, "delay") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        out = _run("verify_domain", "new.example.com")
    assert f"new.example.com verified: the TXT record {record} has {value!r}" in out
    domain.refresh_from_db()
    assert domain.verification_method == "dns"
    sent.assert_called_once_with([PublishOutbox.objects.get(link=waiting).pk])

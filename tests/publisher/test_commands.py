from __future__ import annotations

from io import StringIO
from typing import Any
from unittest import mock

import boto3
import pytest
from django.core.management import CommandError, call_command

from devsite.processes import free_port
from link_tracking_publisher.tasks import republish_campaign_task
from link_tracking_runtime.table import create_table_kwargs

from .factories import LinkCampaignFactory, LinkFactory


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

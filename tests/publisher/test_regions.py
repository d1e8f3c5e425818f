"""The control plane across two regions: writes go to the primary replica; when it is
unreachable the outbox holds them, or with PUBLISH_TO_SECONDARY they go to the secondary
replica; reconcile_runtime compares both replicas. Both replicas are moto tables in two regions
(moto cannot replicate a global table: nothing here relies on replication)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.core.management import call_command

from link_tracking_publisher.checks import check_settings
from link_tracking_publisher.conf import app_settings
from link_tracking_publisher.models import Link, PublishOutbox
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.services.reconcile import reconcile
from link_tracking_publisher.tasks import publish_link_task
from link_tracking_runtime import create_table_kwargs, item_key

from .factories import LinkFactory

pytestmark = pytest.mark.django_db

SECONDARY_REGION = "eu-central-1"


class Unreachable:
    """A primary replica that cannot be reached: every call raises a connection error."""

    def __init__(self, table: Any) -> None:
        self.name = table.name
        self.meta = mock.Mock()
        self.meta.client = self

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

        return call


class Throttled(Unreachable):
    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": ""}}
            raise ClientError(error, "PutItem")

        return call


@pytest.fixture
def secondary(table: Any) -> Any:
    resource = boto3.resource("dynamodb", region_name=SECONDARY_REGION)
    resource.create_table(**create_table_kwargs(table.name))
    return resource.Table(table.name)


@pytest.fixture
def two_regions(settings: Any, secondary: Any) -> Any:
    settings.LINK_TRACKING = {"SECONDARY_REGION": SECONDARY_REGION, "PUBLISH_TO_SECONDARY": True}
    return settings


def _stored(table: Any, link: Link) -> dict[str, Any] | None:
    item: dict[str, Any] | None = table.get_item(
        Key=item_key(link.domain.domain_name, link.slug_canonical)
    ).get("Item")
    return item


def test_writes_go_to_the_primary_replica_only(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    assert LinkPublisher().publish_link(link).outcome == "written"
    assert _stored(table, link) is not None and _stored(secondary, link) is None


def test_with_publish_to_secondary_an_unreachable_primary_writes_the_secondary(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    entry = PublishOutbox.objects.get(link=link)
    result = LinkPublisher(Unreachable(table)).publish_link(link, entry)
    assert result.outcome == "written"
    stored = _stored(secondary, link)
    assert stored is not None and stored["runtime_version"] == link.runtime_version
    entry.refresh_from_db()
    assert entry.status == PublishOutbox.Status.COMPLETE


def test_the_secondary_write_keeps_the_version_condition(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    newer = LinkPublisher(secondary=None).build_runtime_record(link)
    newer["runtime_version"] = link.runtime_version + 5
    secondary.put_item(Item=newer)  # a newer version already on the secondary
    assert LinkPublisher(Unreachable(table)).publish_link(link).outcome == "already_applied"
    assert _stored(secondary, link)["runtime_version"] == link.runtime_version + 5  # type: ignore[index]


def test_without_publish_to_secondary_the_outbox_holds_the_write(
    table: Any, secondary: Any, settings: Any, account: Any, domain: Any
) -> None:
    settings.LINK_TRACKING = {"SECONDARY_REGION": SECONDARY_REGION}
    link = LinkFactory(account=account, domain=domain)
    entry = PublishOutbox.objects.get(link=link)
    with pytest.raises(EndpointConnectionError):
        LinkPublisher(Unreachable(table)).publish_link(link, entry)
    assert _stored(secondary, link) is None
    entry.refresh_from_db()
    assert entry.status != PublishOutbox.Status.COMPLETE


def test_throttling_is_not_an_outage_and_never_goes_to_the_secondary(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    with pytest.raises(ClientError):
        LinkPublisher(Throttled(table)).publish_link(link)
    assert _stored(secondary, link) is None


def test_a_bulk_republish_fails_over_to_the_secondary_too(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    links = [LinkFactory(account=account, domain=domain) for _ in range(3)]
    with mock.patch.object(LinkPublisher, "client", Unreachable(table)):
        result = LinkPublisher(table).bulk_republish(
            Link.objects.filter(pk__in=[lk.pk for lk in links])
        )
    assert result.ok and result.written == 3, result.failed
    for link in links:
        link.refresh_from_db()
        assert _stored(secondary, link)["runtime_version"] == link.runtime_version  # type: ignore[index]
        assert _stored(table, link) is None


def test_the_task_publishes_to_the_secondary_when_the_primary_is_down(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    entry = PublishOutbox.objects.get(link=link)
    with mock.patch(
        "link_tracking_publisher.services.publisher.runtime_table", return_value=Unreachable(table)
    ):
        assert publish_link_task.apply(args=[str(link.pk), entry.pk]).get() == "written"
    assert _stored(secondary, link) is not None


def test_reconcile_compares_both_replicas(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    links = [LinkFactory(account=account, domain=domain) for _ in range(3)]
    for link in links:
        LinkPublisher(table, secondary=None).publish_link(link)
        LinkPublisher(secondary, secondary=None).publish_link(link)
    secondary.delete_item(Key=item_key(domain.domain_name, links[0].slug_canonical))
    report = reconcile(table=table)
    assert report.replicas == ("primary", "secondary")
    assert report.counts("primary") == dict.fromkeys(report.counts(), 0)
    assert report.counts("secondary")["missing"] == 1
    (drift,) = report.drift
    assert (drift.replica, drift.link_id) == ("secondary", str(links[0].pk))
    assert reconcile(table=table, secondary=None).clean  # the primary alone has no drift


def test_reconcile_repairs_a_link_that_drifted_on_both_replicas_once(
    table: Any,
    secondary: Any,
    two_regions: Any,
    account: Any,
    domain: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    link = LinkFactory(account=account, domain=domain)
    for replica in (table, secondary):
        LinkPublisher(replica, secondary=None).publish_link(link)
        replica.delete_item(Key=item_key(domain.domain_name, link.slug_canonical))
    sent: list[tuple[Any, ...]] = []
    with (
        mock.patch.object(publish_link_task, "delay", side_effect=lambda *a: sent.append(a)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = reconcile(table=table, fix=True)
    assert len(report.drift) == 2 and report.fixed == 1 and len(sent) == 1


def test_the_command_reports_drift_per_replica(
    table: Any, secondary: Any, two_regions: Any, account: Any, domain: Any
) -> None:
    two_regions.LINK_RUNTIME_TABLE_NAME = table.name
    link = LinkFactory(account=account, domain=domain)
    LinkPublisher(table, secondary=None).publish_link(link)
    out = StringIO()
    call_command("reconcile_runtime", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["replicas"]["primary"]["missing"] == 0
    assert data["replicas"]["secondary"]["missing"] == 1
    assert data["examples"]["missing"][0]["replica"] == "secondary"
    text = StringIO()
    call_command("reconcile_runtime", stdout=text)
    assert "on the primary and secondary replicas" in text.getvalue()
    assert "missing          1 (primary 0, secondary 1)" in text.getvalue()


@pytest.mark.parametrize(
    "configured",
    [
        {"SECONDARY_REGION": "us-east-1"},  # AWS_REGION itself
        {"SECONDARY_REGION": "Frankfurt"},
        {"SECONDARY_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:5001"},
        {"SECONDARY_REGION": "eu-central-1", "SECONDARY_DYNAMODB_ENDPOINT_URL": "localhost"},
        {"PUBLISH_TO_SECONDARY": True},
        {"SECONDARY_REGION": "eu-central-1", "PUBLISH_TO_SECONDARY": "yes"},
        {"SECONDARY_CLICK_EVENTS_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/1/q"},
        {
            "SECONDARY_REGION": "eu-central-1",
            "CLICK_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
            "SECONDARY_CLICK_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
        },
    ],
)
def test_contradictory_region_settings_are_a_system_check_error(
    settings: Any, configured: dict[str, Any]
) -> None:
    settings.LINK_TRACKING = configured
    assert app_settings.AWS_REGION == "us-east-1"
    assert [m.id for m in check_settings()] == ["link_tracking.E013"]


def test_two_regions_pass_the_checks(settings: Any) -> None:
    settings.LINK_TRACKING = {
        "SECONDARY_REGION": "eu-central-1",
        "SECONDARY_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:5001",
        "PUBLISH_TO_SECONDARY": True,
        "CLICK_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/click-objects",
        "SECONDARY_CLICK_EVENTS_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/1/click-objects",
    }
    assert check_settings() == []

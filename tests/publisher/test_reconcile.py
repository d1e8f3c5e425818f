"""Reconciliation: each kind of drift is found, and --fix repairs it through the outbox."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from link_tracking_publisher.models import Link, PublishOutbox
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_publisher.services.reconcile import reconcile
from link_tracking_publisher.tasks import publish_link_task
from link_tracking_runtime import item_key

from .factories import LinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(table: Any, account: Any, domain: Any) -> list[Link]:
    links = [LinkFactory(account=account, domain=domain) for _ in range(6)]
    publisher = LinkPublisher(table)
    for link in links:
        publisher.publish_link(link)
    return links


def _key(link: Link) -> dict[str, str]:
    return item_key(link.domain.domain_name, link.slug_canonical)


def _make_every_kind_of_drift(table: Any, links: list[Link]) -> dict[str, Link]:
    missing, stale, ahead, mismatch = links[:4]
    table.delete_item(Key=_key(missing))
    Link.objects.filter(pk=stale.pk).update(runtime_version=3)
    table.update_item(
        Key=_key(ahead),
        UpdateExpression="SET runtime_version = :v",
        ExpressionAttributeValues={":v": 9},
    )
    table.update_item(
        Key=_key(mismatch),
        UpdateExpression="SET active = :f",
        ExpressionAttributeValues={":f": False},
    )
    table.put_item(
        Item={
            "PK": "DOMAIN#go.example.com",
            "SK": "SLUG#GONE",
            "link_id": "deleted",
            "destination_url": "https://x.example/",
            "active": True,
            "runtime_version": 1,
        }
    )
    return {
        "missing": missing,
        "stale_version": stale,
        "ahead_version": ahead,
        "active_mismatch": mismatch,
    }


def test_a_clean_table_has_no_drift(table: Any, published: list[Link]) -> None:
    report = reconcile(table=table, orphans=True)
    assert report.checked == 6 and report.clean


def test_every_kind_of_drift_is_reported(table: Any, published: list[Link]) -> None:
    drifted = _make_every_kind_of_drift(table, published)
    report = reconcile(table=table, orphans=True)
    assert report.counts() == {
        "missing": 1,
        "stale_version": 1,
        "ahead_version": 1,
        "active_mismatch": 1,
        "orphan": 1,
    }
    by_kind = {d.kind: d for d in report.drift}
    for kind, link in drifted.items():
        assert by_kind[kind].link_id == str(link.pk)
    assert (by_kind["ahead_version"].database_version, by_kind["ahead_version"].stored_version) == (
        1,
        9,
    )
    assert by_kind["orphan"].key == ("DOMAIN#go.example.com", "SLUG#GONE")
    assert reconcile(table=table).counts()["orphan"] == 0  # no scan unless asked


def test_fix_repairs_through_the_outbox(
    table: Any, published: list[Link], django_capture_on_commit_callbacks: Any
) -> None:
    _make_every_kind_of_drift(table, published)
    sent: list[tuple[Any, ...]] = []
    with (
        mock.patch.object(publish_link_task, "delay", side_effect=lambda *a: sent.append(a)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = reconcile(table=table, fix=True, orphans=True)
    assert report.fixed == 5 and len(sent) == 4  # four republishes; the orphan is switched off
    for link_id, outbox_id in sent:  # what the workers would do
        publish_link_task.apply(args=[link_id, outbox_id])
    repairs = PublishOutbox.objects.exclude(runtime_version=1)
    assert repairs.count() == 4 and set(repairs.values_list("status", flat=True)) == {"complete"}
    assert reconcile(table=table).clean
    orphan = table.get_item(Key={"PK": "DOMAIN#go.example.com", "SK": "SLUG#GONE"})["Item"]
    assert orphan["active"] is False
    ahead = Link.objects.get(pk=published[2].pk)
    assert ahead.runtime_version == 10  # above the record that was ahead


def test_command_reports_json_and_fails_on_drift(
    table: Any, published: list[Link], settings: Any
) -> None:
    settings.LINK_RUNTIME_TABLE_NAME = table.name
    _make_every_kind_of_drift(table, published)
    out = StringIO()
    call_command("reconcile_runtime", "--json", "--orphans", stdout=out)
    data = json.loads(out.getvalue())
    assert data["checked"] == 6 and sum(data["drift"].values()) == 5
    assert data["examples"]["missing"][0]["link_id"] == str(published[0].pk)
    with pytest.raises(CommandError, match="Drift found"):
        call_command("reconcile_runtime", "--fail-on-drift", stdout=StringIO())


def test_command_without_a_table_is_a_command_error(aws: None, published: Any = None) -> None:
    with pytest.raises(CommandError, match="Cannot read the runtime table.*setup_dynamodb"):
        LinkFactory()
        call_command("reconcile_runtime", stdout=StringIO())

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from django.db import transaction
from django.utils import timezone

from link_tracking_publisher import outbox as outbox_state
from link_tracking_publisher.models import Link, PublishOutbox
from link_tracking_publisher.services.publisher import LinkPublisher, stage_republish
from link_tracking_runtime import item_key

from .factories import DomainFactory, LinkCampaignFactory, LinkFactory

pytestmark = pytest.mark.django_db


def _stored(table: Any, link: Link) -> dict[str, Any] | None:
    return table.get_item(Key=item_key(link.domain.domain_name, link.slug_canonical)).get("Item")


def _at_version(link: Link, version: int, **changes: Any) -> Link:
    Link.objects.filter(pk=link.pk).update(runtime_version=version, **changes)
    return Link.objects.select_related("domain", "campaign").get(pk=link.pk)


def test_publish_writes_the_record_and_completes_the_outbox(
    table: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    publisher = LinkPublisher(table)
    entry = publisher.create_publish_outbox(link)
    assert publisher.create_publish_outbox(link) == entry  # one row per version
    result = publisher.publish_link(link, entry)
    assert result.outcome == "written"
    stored = _stored(table, link)
    assert stored is not None and stored["runtime_version"] == Decimal(1)
    entry.refresh_from_db()
    assert (entry.status, entry.result) == ("complete", "written")
    assert entry.completed_at is not None


def test_a_stale_version_never_overwrites_a_newer_one(
    table: Any, account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain)
    publisher = LinkPublisher(table)
    newer = _at_version(link, 5, destination_url="https://new.example.com/")
    assert publisher.publish_link(newer).outcome == "written"

    older = _at_version(link, 4, destination_url="https://old.example.com/")
    assert publisher.publish_link(older).outcome == "already_applied"
    same = _at_version(link, 5, destination_url="https://same-version.example.com/")
    assert publisher.publish_link(same).outcome == "already_applied"

    stored = _stored(table, link)
    assert stored is not None
    assert (stored["runtime_version"], stored["destination_url"]) == (5, "https://new.example.com/")

    newest = _at_version(link, 6, destination_url="https://newest.example.com/")
    assert publisher.publish_link(newest).outcome == "written"
    assert _stored(table, link)["destination_url"] == "https://newest.example.com/"  # type: ignore[index]


def test_already_applied_is_recorded_as_complete(table: Any, account: Any, domain: Any) -> None:
    link = LinkFactory(account=account, domain=domain)
    publisher = LinkPublisher(table)
    publisher.publish_link(link)
    entry = publisher.create_publish_outbox(link)
    publisher.publish_link(link, entry)
    entry.refresh_from_db()
    assert (entry.status, entry.result) == ("complete", "already_applied")


def test_other_dynamodb_errors_propagate(account: Any, domain: Any) -> None:
    link = LinkFactory(account=account, domain=domain)
    table = mock.Mock()
    table.put_item.side_effect = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "bad"}}, "PutItem"
    )
    with pytest.raises(ClientError):
        LinkPublisher(table).publish_link(link)


def test_unpublish_sets_active_false(table: Any, account: Any, domain: Any) -> None:
    link = LinkFactory(account=account, domain=domain)
    publisher = LinkPublisher(table)
    assert publisher.unpublish_link(link).outcome == "not_published"
    assert _stored(table, link) is None  # nothing created by an unpublish
    publisher.publish_link(link)
    assert publisher.unpublish_link(link).outcome == "written"
    stored = _stored(table, link)
    assert stored is not None and stored["active"] is False


def _campaign_links(account: Any, domain: Any, n: int, campaign_id: str = "BULK") -> list[Link]:
    campaign = LinkCampaignFactory(account=account, campaign_id=campaign_id)
    return [LinkFactory(account=account, domain=domain, campaign=campaign) for _ in range(n)]


def test_bulk_republish_campaign(table: Any, account: Any, domain: Any) -> None:
    links = _campaign_links(account, domain, 230)
    inactive = links[0]
    Link.objects.filter(pk=inactive.pk).update(active=False)
    other = LinkFactory(account=account, domain=domain)  # not in the campaign

    # One thread: moto's in-process backend is not thread-safe (the concurrency test below
    # covers the pool; the end-to-end and benchmark runs use a moto server process).
    result = LinkPublisher(table).bulk_republish_campaign("BULK", concurrency=1)

    assert (result.total, result.written, result.already_applied, result.failed) == (
        229,
        229,
        0,
        {},
    )
    for link in links[1:]:
        stored = _stored(table, link)
        assert stored is not None and stored["runtime_version"] == 2
        assert stored["campaign_id"] == "BULK"
        assert stored == LinkPublisher(table).build_runtime_record(  # the record, exactly
            Link.objects.select_related("domain", "campaign").get(pk=link.pk),
            now=int(stored["published_at_epoch"]),
        )
    assert _stored(table, inactive) is None and _stored(table, other) is None
    done = PublishOutbox.objects.filter(runtime_version=2)
    assert done.count() == 229 and set(done.values_list("status", flat=True)) == {"complete"}


def test_bulk_republish_counts_newer_stored_versions_as_already_applied(
    table: Any, account: Any, domain: Any
) -> None:
    links = _campaign_links(account, domain, 30)
    ahead = _at_version(links[3], 10)
    LinkPublisher(table).publish_link(ahead)  # the table already holds v10
    Link.objects.filter(pk=ahead.pk).update(runtime_version=1)  # the database lags behind

    result = LinkPublisher(table).bulk_republish_campaign("BULK", concurrency=1)

    assert (result.written, result.already_applied, result.failed) == (29, 1, {})
    assert _stored(table, ahead)["runtime_version"] == 10  # type: ignore[index]
    entry = PublishOutbox.objects.get(link=ahead, runtime_version=2)
    assert (entry.status, entry.result) == ("complete", "already_applied")


def test_bulk_republish_records_failures_on_the_outbox(
    table: Any, account: Any, domain: Any
) -> None:
    """As the single-link task does: a transient error leaves the row PENDING with the error
    and a retry counted (the sweeper sends it again); any other error fails it."""
    links = _campaign_links(account, domain, 5)
    publisher = LinkPublisher(table)
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Tx")
    with mock.patch.object(publisher.client, "put_item", side_effect=error):
        result = publisher.bulk_republish_campaign("BULK")
    assert result.written == 0 and set(result.failed) == {str(link.pk) for link in links}
    rows = PublishOutbox.objects.filter(runtime_version=2)
    assert set(rows.values_list("status", "result")) == {("failed", "permanent_error")}
    assert all("AccessDenied" in r.error_message for r in rows)

    busy = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Put")
    with (
        mock.patch.object(publisher.client, "put_item", side_effect=busy),
        mock.patch("link_tracking_publisher.services.publisher.time.sleep"),
    ):
        result = publisher.bulk_republish_campaign("BULK")
    assert result.written == 0 and len(result.failed) == 5
    rows = PublishOutbox.objects.filter(runtime_version=3)
    assert set(rows.values_list("status", flat=True)) == {"pending"}
    assert all("Throttling" in r.error_message and r.retry_count == 1 for r in rows)


def test_bulk_retries_give_up_after_the_publish_retry_limit(
    table: Any, account: Any, domain: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "PUBLISH_MAX_RETRIES": 2}
    _campaign_links(account, domain, 3)
    publisher = LinkPublisher(table)
    busy = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Put")
    with transaction.atomic():
        entry_ids = stage_republish(Link.objects.all())
    with (
        mock.patch.object(publisher.client, "put_item", side_effect=busy),
        mock.patch("link_tracking_publisher.services.publisher.time.sleep"),
    ):
        publisher.publish_entries(entry_ids)
        assert set(
            PublishOutbox.objects.filter(pk__in=entry_ids).values_list("status", "retry_count")
        ) == {("pending", 1)}
        publisher.publish_entries(entry_ids)
    rows = PublishOutbox.objects.filter(pk__in=entry_ids)
    assert set(rows.values_list("status", "result", "retry_count")) == {
        ("failed", "retries_exhausted", 2)
    }
    # A failed row is left alone by the bulk path (an operator retries it).
    assert publisher.publish_entries(entry_ids).total == 0


def test_publish_entries_publishes_each_link_once_in_its_current_state(
    table: Any, account: Any, domain: Any
) -> None:
    link, other = _campaign_links(account, domain, 2)
    with transaction.atomic():
        first = stage_republish(Link.objects.filter(pk=link.pk))
        second = stage_republish(Link.objects.all())
    assert len(first) == 1 and len(second) == 2
    result = LinkPublisher(table).publish_entries([*first, *second], concurrency=1)
    assert (result.total, result.written, result.already_applied) == (2, 2, 0)
    assert _stored(table, link)["runtime_version"] == 3  # type: ignore[index]
    assert _stored(table, other)["runtime_version"] == 2  # type: ignore[index]
    rows = PublishOutbox.objects.filter(pk__in=[*first, *second])
    assert set(rows.values_list("status", "result")) == {("complete", "written")}
    # Done rows are not published again.
    assert LinkPublisher(table).publish_entries([*first, *second]).total == 0


def test_bulk_republish_concurrency_is_bounded(table: Any, account: Any, domain: Any) -> None:
    _campaign_links(account, domain, 40)
    publisher = LinkPublisher(table)
    active = peak = 0
    lock = threading.Lock()
    written: list[str] = []

    def put(client: Any, table_name: str, item: dict[str, Any]) -> str:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1
            written.append(item["SK"]["S"])  # a wire-encoded item
        return "written"

    with mock.patch.object(LinkPublisher, "_put", staticmethod(put)):
        result = publisher.bulk_republish_campaign("BULK", concurrency=3)
    assert result.written == 40 and len(set(written)) == 40
    assert 2 <= peak <= 3


def _unverified_domain(name: str = "new.example.com") -> Any:
    return DomainFactory(
        domain_name=name, verified_at=None, status="pending", verification_method=""
    )


def test_a_link_on_an_unverified_domain_waits_and_nothing_is_written(
    table: Any, account: Any
) -> None:
    link = LinkFactory(account=account, domain=_unverified_domain())
    entry = PublishOutbox.objects.get(link=link)
    assert LinkPublisher(table).publish_link(link, entry).outcome == "domain_unverified"
    entry.refresh_from_db()
    assert (entry.status, entry.result, entry.completed_at) == (
        "waiting_for_domain",
        "domain_unverified",
        None,
    )
    assert _stored(table, link) is None
    # The sweeper leaves a parked row alone (its domain's verification sends it).
    PublishOutbox.objects.filter(pk=entry.pk).update(updated_at="2000-01-01T00:00:00Z")
    assert outbox_state.claim_stuck() == []


def test_the_bulk_path_parks_an_unverified_domain_s_rows_too(table: Any, account: Any) -> None:
    waiting = LinkFactory(account=account, domain=_unverified_domain())
    published = LinkFactory(account=account)
    rows = list(PublishOutbox.objects.filter(link__in=[waiting, published]).order_by("pk"))
    result = LinkPublisher(table).publish_entries([row.pk for row in rows])
    assert (result.total, result.written) == (1, 1)
    statuses = dict(PublishOutbox.objects.values_list("link_id", "status"))
    assert statuses == {waiting.pk: "waiting_for_domain", published.pk: "complete"}
    assert _stored(table, waiting) is None and _stored(table, published) is not None


def test_a_domain_verified_while_its_link_publishes_is_written_not_parked(
    table: Any, account: Any
) -> None:
    domain = _unverified_domain()
    link = LinkFactory(account=account, domain=domain)  # read while the domain was unverified
    entry = PublishOutbox.objects.get(link=link)
    type(domain).objects.filter(pk=domain.pk).update(verified_at=timezone.now(), status="active")
    assert not link.domain.is_verified
    assert LinkPublisher(table).publish_link(link, entry).outcome == "written"
    entry.refresh_from_db()
    assert (entry.status, entry.result) == ("complete", "written")
    stored = _stored(table, link)
    assert stored is not None and stored["active"] is True

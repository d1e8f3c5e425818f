"""The statistics tables kept right outside ingestion: campaigns rebuilt when a link moves
or is deleted, and the former rollups moved by ``rebuild_click_rollups`` exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command

from link_tracking_publisher.clicks import rollups
from link_tracking_publisher.clicks.devices import device_of
from link_tracking_publisher.clicks.ingest import ingest_objects
from link_tracking_publisher.clicks.sources import local_objects
from link_tracking_publisher.clicks.stats import click_stats
from link_tracking_publisher.models import ClickRollup, Link
from tests.publisher.factories import LinkCampaignFactory

from .conftest import T0, click, write_ndjson
from .test_ingest import ROLLUP_TABLES, _counted_rows

pytestmark = pytest.mark.django_db
HOUR = 3600.0


def _events(links: list[Any]) -> list[Any]:
    return [
        click(
            links[n % len(links)],
            at=T0 + n * 1900,
            is_bot=n % 4 == 0,
            geo_country=["us", None][n % 2],
            ab_variant=["a", None, "b"][n % 3],
            outcome="ok" if n % 5 else "expired",
            user_agent=[None, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile"][n % 2],
            **({"channel": "qr"} if n % 3 == 1 else {}),
        )
        for n in range(80)
    ]


def _ingest(tmp_path: Path, events: list[Any], name: str = "e.ndjson") -> None:
    report = ingest_objects(
        local_objects(write_ndjson(tmp_path / name, events)), now=T0 + 100 * HOUR
    )
    assert report.counted == len(events)


def _legacy_rows(events: list[Any]) -> None:
    """The rows the former grain held for ``events``: one per link, hour, dimension, value
    and bot flag, first and last click on the outcome rows."""
    cells: dict[tuple[Any, ...], list[Any]] = {}
    for event in events:
        hour = datetime.fromtimestamp(event.timestamp - event.timestamp % 3600, UTC)
        at = datetime.fromtimestamp(event.timestamp, UTC)
        for dimension, value in (
            ("outcome", event.outcome),
            ("channel", event.channel or ""),
            ("country", (event.geo_country or "").upper()),
            ("device", device_of(event.user_agent)),
            ("variant", event.ab_variant or ""),
        ):
            cell = cells.setdefault(
                (event.link_id, hour, dimension, event.is_bot, value), [0, at, at]
            )
            cell[0] += 1
            cell[1], cell[2] = min(cell[1], at), max(cell[2], at)
    ClickRollup.objects.bulk_create(
        ClickRollup(
            link_id=link,
            hour=hour,
            dimension=dimension,
            is_bot=is_bot,
            value=value,
            clicks=n,
            first_click_at=first if dimension == "outcome" else None,
            last_click_at=last if dimension == "outcome" else None,
        )
        for (link, hour, dimension, is_bot, value), (n, first, last) in cells.items()
    )


def _empty_statistics() -> None:
    for model in ROLLUP_TABLES:
        model.objects.all().delete()


def test_the_former_rollups_move_once_into_what_ingestion_writes(
    tmp_path: Path, make_link: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    links = [make_link(keyword="A"), make_link(keyword="B"), make_link(keyword="C")]
    events = _events(links)
    _ingest(tmp_path, events)
    expected = {k: v for k, v in _counted_rows().items() if k not in ("visitors", "messages")}
    _empty_statistics()
    _legacy_rows(events)
    real = rollups.move_legacy_rollups
    moved: list[Any] = []

    def crash_on_second(link_pk: Any) -> int:
        if moved:
            raise RuntimeError("worker killed")
        moved.append(link_pk)
        return real(link_pk)

    with mock.patch.object(rollups, "move_legacy_rollups", crash_on_second):
        with pytest.raises(RuntimeError):
            call_command("rebuild_click_rollups")
    assert ClickRollup.objects.filter(link_id=moved[0]).count() == 0  # the first link moved
    assert ClickRollup.objects.exclude(link_id=moved[0]).exists()  # the rest left as they were
    capsys.readouterr()
    call_command("rebuild_click_rollups")  # resumes with what is left
    out = capsys.readouterr().out
    assert "link 2/2" in out and "rows moved" in out
    got = {k: v for k, v in _counted_rows().items() if k in expected}
    assert got == expected
    assert not ClickRollup.objects.exists()
    call_command("rebuild_click_rollups")  # nothing left: nothing changes
    assert "Nothing to move" in capsys.readouterr().out
    assert {k: v for k, v in _counted_rows().items() if k in expected} == expected


def test_moving_the_former_rollups_adds_to_clicks_ingested_since(
    tmp_path: Path, make_link: Any
) -> None:
    link = make_link(keyword="A")
    before, after = _events([link])[:40], _events([link])[40:]
    _legacy_rows(before)
    _ingest(tmp_path, after)  # ingested by this version before the rows were moved
    call_command("rebuild_click_rollups")
    stats = click_stats(link)
    assert stats["clicks"] == 80
    assert stats["first_click_at"] == datetime.fromtimestamp(before[0].timestamp, UTC)
    assert sum(r["clicks"] for r in stats["breakdowns"]["country"]) == 80


def test_a_link_moved_to_another_campaign_takes_its_clicks_with_it(
    tmp_path: Path, make_link: Any, campaign: Any
) -> None:
    stays, moves = make_link(keyword="A"), make_link(keyword="B")
    _ingest(tmp_path, _events([stays, moves]))
    other = LinkCampaignFactory(account=campaign.account, campaign_id="AUTUMN")
    both = click_stats(campaign)
    moved_alone = click_stats(moves)
    link = Link.objects.get(pk=moves.pk)
    link.campaign = other
    link.save()
    assert click_stats(other)["clicks"] == moved_alone["clicks"] == 40
    assert click_stats(other)["breakdowns"] == moved_alone["breakdowns"]
    assert click_stats(other)["series"] == moved_alone["series"]
    left = click_stats(campaign)
    assert left["clicks"] == both["clicks"] - 40 == click_stats(stays)["clicks"]
    assert left["scans"] == click_stats(stays)["scans"]
    link.campaign = None
    link.save()
    assert click_stats(other)["clicks"] == 0 and click_stats(other)["breakdowns"]["country"] == []


def test_a_deleted_link_leaves_its_campaign(tmp_path: Path, make_link: Any, campaign: Any) -> None:
    stays, goes = make_link(keyword="A"), make_link(keyword="B")
    _ingest(tmp_path, _events([stays, goes]))
    Link.objects.get(pk=goes.pk).delete()
    assert click_stats(campaign) == click_stats(stays)
    assert click_stats(campaign)["clicks"] == 40


def test_rebuilding_every_campaign_changes_nothing_when_right(
    tmp_path: Path, make_link: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest(tmp_path, _events([make_link(keyword="A"), make_link(keyword="B")]))
    rows = _counted_rows()
    call_command("rebuild_click_rollups", "--campaigns")
    assert "1 campaigns rebuilt" in capsys.readouterr().out
    assert _counted_rows() == rows

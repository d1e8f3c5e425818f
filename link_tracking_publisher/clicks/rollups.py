"""Keeping the statistics tables right when they cannot be counted at ingestion: a link
that moves to another campaign or is deleted (the campaign rows are rebuilt from the link
rows, so a campaign's figures are always those of its links now), and the rows of the former
per-hour-and-dimension grain (:class:`~..models.ClickRollup`) moved into the new tables by
``rebuild_click_rollups``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min, Sum
from django.db.models.signals import post_delete, post_save

from link_tracking_runtime.scan import SCAN_CHANNEL

from ..models import (
    _UNKNOWN,
    CampaignClickTotals,
    CampaignDayBreakdown,
    CampaignHourClicks,
    ClickRollup,
    Link,
    LinkCampaign,
    LinkDayBreakdown,
    LinkHourClicks,
)
from .ingest import Counts, rollup_context, write_rollups
from .stats import UNKNOWN_BOT_REASON

__all__ = ["connect_signals", "move_legacy_rollups", "rebuild_campaigns"]

_COUNTS = ("human_clicks", "bot_clicks", "human_scans", "bot_scans")


def rebuild_campaigns(campaign_pks: Iterable[Any]) -> None:
    """Recompute each campaign's hour rows, day breakdowns and totals from its links' rows,
    in one transaction (the campaign rows are locked first, so two rebuilds of one campaign
    run one after the other). A number of rows that grows with the hours and days with
    clicks, not with the clicks."""
    pks = sorted({pk for pk in campaign_pks if pk is not None}, key=str)
    if not pks:
        return
    with transaction.atomic():
        # Ingestion locks the campaigns it counts into the same way (clicks.ingest).
        list(
            LinkCampaign.objects.select_for_update()
            .filter(pk__in=pks)
            .order_by("pk")
            .values_list("pk")
        )
        for pk in pks:
            links = Link.objects.filter(campaign_id=pk).values("pk")
            CampaignHourClicks.objects.filter(campaign_id=pk).delete()
            CampaignDayBreakdown.objects.filter(campaign_id=pk).delete()
            CampaignClickTotals.objects.filter(campaign_id=pk).delete()
            sums = {name: Sum(name) for name in _COUNTS}
            spans = {"first_click_at": Min("first_click_at"), "last_click_at": Max("last_click_at")}
            CampaignHourClicks.objects.bulk_create(
                (
                    CampaignHourClicks(campaign_id=pk, **row)
                    for row in LinkHourClicks.objects.filter(link__in=links)
                    .values("hour")
                    .annotate(**sums, **spans)
                    .order_by()
                ),
                batch_size=500,
            )
            CampaignDayBreakdown.objects.bulk_create(
                (
                    CampaignDayBreakdown(campaign_id=pk, **row)
                    for row in LinkDayBreakdown.objects.filter(link__in=links)
                    .values("day", "dimension", "value")
                    .annotate(human_clicks=Sum("human_clicks"), bot_clicks=Sum("bot_clicks"))
                    .order_by()
                ),
                batch_size=500,
            )
            totals = CampaignHourClicks.objects.filter(campaign_id=pk).aggregate(**sums, **spans)
            if totals["human_clicks"] is not None:
                CampaignClickTotals.objects.create(campaign_id=pk, **totals)


def _link_saved(sender: Any, instance: Link, created: bool, **kwargs: Any) -> None:
    loaded = getattr(instance, "_loaded_campaign_id", _UNKNOWN)
    # A new link has no clicks yet; a link loaded without its campaign (deferred) has
    # nothing to compare with.
    if not created and loaded is not _UNKNOWN and loaded != instance.campaign_id:
        rebuild_campaigns([loaded, instance.campaign_id])
    instance._loaded_campaign_id = instance.campaign_id


def _link_deleted(sender: Any, instance: Link, **kwargs: Any) -> None:
    rebuild_campaigns([instance.campaign_id])


def connect_signals() -> None:
    """Rebuild a campaign's rows when a link joins or leaves it (a save through the model:
    the API, the admin, the services) or is deleted. A queryset ``update()`` of links'
    campaigns bypasses this: follow it with ``rebuild_click_rollups --campaigns``."""
    post_save.connect(_link_saved, sender=Link, dispatch_uid="link_tracking_rollups_saved")
    post_delete.connect(_link_deleted, sender=Link, dispatch_uid="link_tracking_rollups_deleted")


def move_legacy_rollups(link_pk: Any) -> int:
    """Move one link's :class:`~..models.ClickRollup` rows into the statistics tables, in
    one transaction: added through :func:`~.ingest.write_rollups` (the link's campaign's
    rows and both totals with them), then deleted, so a link is moved exactly once however
    often this runs or wherever it stopped. Returns how many rows were moved."""
    with transaction.atomic():
        link = Link.objects.select_for_update().filter(pk=link_pk).values("pk", "campaign_id")
        row = link.first()
        if row is None:
            return 0
        key = Link._meta.pk.get_db_prep_value(row["pk"], connection)
        campaign = row["campaign_id"]
        if campaign is not None:
            campaign = LinkCampaign._meta.pk.get_db_prep_value(campaign, connection)
        hours: dict[tuple[Any, Any, float], Counts] = {}
        scans: dict[tuple[Any, Any, float], list[int]] = {}
        days: dict[tuple[Any, Any, float, str, str], list[int]] = {}
        moved = 0
        for hour, dimension, is_bot, value, clicks, first, last in ClickRollup.objects.filter(
            link_id=link_pk
        ).values_list(
            "hour", "dimension", "is_bot", "value", "clicks", "first_click_at", "last_click_at"
        ):
            moved += 1
            at = hour.timestamp()
            human, bot = (0, clicks) if is_bot else (clicks, 0)
            day_key = (key, campaign, at - at % 86400, dimension, value)
            cell = days.setdefault(day_key, [0, 0])
            cell[0] += human
            cell[1] += bot
            if dimension == ClickRollup.Dimension.OUTCOME:
                if bot:  # the former grain never said why: every bot click is one
                    reason = days.setdefault(
                        (key, campaign, at - at % 86400, "bot_reason", UNKNOWN_BOT_REASON), [0, 0]
                    )
                    reason[1] += bot
                counts = hours.get((key, campaign, at))
                span = [(first or hour).timestamp(), (last or hour).timestamp()]
                if counts is None:
                    hours[(key, campaign, at)] = [human, bot, 0, 0, *span]
                else:
                    counts[0] += human
                    counts[1] += bot
                    counts[4], counts[5] = min(counts[4], span[0]), max(counts[5], span[1])
            elif dimension == ClickRollup.Dimension.CHANNEL and value == SCAN_CHANNEL:
                scan = scans.setdefault((key, campaign, at), [0, 0])
                scan[0] += human
                scan[1] += bot
        for cell_key, (human, bot) in scans.items():
            hours[cell_key][2] += human  # every click has an outcome row: the cell exists
            hours[cell_key][3] += bot
        if moved:
            write_rollups(hours, days, rollup_context())
            ClickRollup.objects.filter(link_id=link_pk).delete()
        return moved


def move_all_legacy_rollups(progress: Callable[[int, int, int], None]) -> int:
    """:func:`move_legacy_rollups` for every link that still has rows, reporting
    ``progress(links done, links to do, rows moved)`` after each. Returns the rows moved."""
    pending = list(
        ClickRollup.objects.order_by("link_id").values_list("link_id", flat=True).distinct()
    )
    total = 0
    for done, link_pk in enumerate(pending, start=1):
        total += move_legacy_rollups(link_pk)
        progress(done, len(pending), total)
    return total

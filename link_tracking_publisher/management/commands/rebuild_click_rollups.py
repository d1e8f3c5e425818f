"""Move the click statistics of the former grain (one row per link, hour, dimension, value
and bot flag) into the tables the statistics read, or rebuild the campaigns' rows from their
links' rows. Resumable and idempotent: each link's rows move in one transaction and are
deleted as they move, so a rerun (after a crash, or twice) moves what is left, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...clicks.rollups import move_all_legacy_rollups, rebuild_campaigns
from ...models import ClickRollup, LinkCampaign


class Command(BaseCommand):
    help = (
        "Move the former click rollups into the statistics tables (per link and hour, per "
        "day and breakdown value, per campaign, all-time totals), one link per transaction; "
        "--campaigns rebuilds every campaign's rows from its links' rows instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--campaigns",
            action="store_true",
            help="Rebuild every campaign's rows from its links' (after links were moved "
            "between campaigns by a queryset update, which bypasses the model's signals).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["campaigns"]:
            pks = list(LinkCampaign.objects.order_by("pk").values_list("pk", flat=True))
            for done, pk in enumerate(pks, start=1):
                rebuild_campaigns([pk])
                self.stdout.write(f"campaign {done}/{len(pks)} rebuilt")
            self.stdout.write(self.style.SUCCESS(f"{len(pks)} campaigns rebuilt."))
            return
        left = ClickRollup.objects.count()
        if not left:
            self.stdout.write(self.style.SUCCESS("Nothing to move: no former rollup rows left."))
            return
        self.stdout.write(f"{left} former rollup rows to move.")

        def progress(done: int, links: int, rows: int) -> None:
            self.stdout.write(f"link {done}/{links}: {rows} rows moved")

        moved = move_all_legacy_rollups(progress)
        self.stdout.write(self.style.SUCCESS(f"{moved} rows moved; rerun to resume if stopped."))

"""Print the Athena SQL of a link's or a campaign's click statistics (the same definition the
tests run on DuckDB), to run over the Glue table when the database rollups are not enough."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from ...clicks.queries import StatsQuery, stats_sql
from ...clicks.stats import INTERVALS
from ...models import Link


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(
            f"--{name} must be an ISO 8601 time with a zone, e.g. 2026-11-02T00:00:00Z."
        )
    return parsed


class Command(BaseCommand):
    help = "Print Athena SQL for click statistics over the Glue table (one statement per part)."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--link", help="A link's id (UUID).")
        target.add_argument("--campaign", help="A link campaign's id (UUID): all its links.")
        parser.add_argument("--from", dest="since", help="Start, ISO 8601 (inclusive).")
        parser.add_argument("--to", dest="until", help="End, ISO 8601 (exclusive).")
        parser.add_argument("--interval", choices=sorted(INTERVALS), default="day")
        parser.add_argument(
            "--table",
            default="click_events",
            help="The Glue table, e.g. link_runtime_prod.click_events (terraform output "
            "glue_click_events_table).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["link"]:
                links = Link.objects.filter(pk=uuid.UUID(options["link"]))
            else:
                links = Link.objects.filter(campaign_id=uuid.UUID(options["campaign"]))
        except ValueError:
            raise CommandError("--link/--campaign must be a UUID.") from None
        ids = [str(pk) for pk in links.values_list("pk", flat=True)]
        if not ids:
            raise CommandError("No such link, or the campaign has no links.")
        query = StatsQuery(
            ids, _when(options["since"], "from"), _when(options["until"], "to"), options["interval"]
        )
        try:
            statements = stats_sql(query, options["table"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for name, sql in statements.items():
            self.stdout.write(f"-- {name}\n{sql};\n")

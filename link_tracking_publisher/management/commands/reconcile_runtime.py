"""Compare every link with its DynamoDB record and report (or repair) drift."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services.reconcile import DRIFT_KINDS, reconcile


class Command(BaseCommand):
    help = (
        "Compare every link with its runtime record in DynamoDB (present, runtime_version, "
        "active) and report drift by kind; with LINK_TRACKING['SECONDARY_REGION'] set, both "
        "replicas are compared, each on its own. --fix repairs it through the outbox (a "
        "republish per link, enqueued for the workers); orphan records are switched off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair what drifted.")
        parser.add_argument(
            "--orphans",
            action="store_true",
            help="Also scan the table for records whose link is gone (a full table scan).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--fail-on-drift",
            action="store_true",
            help="Exit non-zero when drift is found (for monitoring jobs).",
        )
        parser.add_argument(
            "--examples", type=int, default=10, help="Drifted keys to list per kind."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = reconcile(fix=options["fix"], orphans=options["orphans"])
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(
                f"Cannot read the runtime table: {exc}. Check AWS credentials, AWS_ENDPOINT_URL "
                "and LINK_RUNTIME_TABLE_NAME (manage.py setup_dynamodb creates the table)."
            ) from None
        counts = report.counts()
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "checked": report.checked,
                        "drift": counts,
                        "replicas": {
                            replica: report.counts(replica) for replica in report.replicas
                        },
                        "fixed": report.fixed,
                        "examples": {
                            kind: [
                                {
                                    "key": list(d.key),
                                    "link_id": d.link_id,
                                    "database_version": d.database_version,
                                    "stored_version": d.stored_version,
                                    "replica": d.replica,
                                }
                                for d in report.drift
                                if d.kind == kind
                            ][: options["examples"]]
                            for kind in DRIFT_KINDS
                        },
                    }
                )
            )
        else:
            self.stdout.write(
                f"Checked {report.checked} links on the {' and '.join(report.replicas)} "
                f"replica{'s' if len(report.replicas) > 1 else ''}."
            )
            two = len(report.replicas) > 1
            for kind in DRIFT_KINDS:
                by_replica = (
                    " (" + ", ".join(f"{r} {report.counts(r)[kind]}" for r in report.replicas) + ")"
                    if two
                    else ""
                )
                self.stdout.write(f"  {kind:<16} {counts[kind]}{by_replica}")
                for drift in [d for d in report.drift if d.kind == kind][: options["examples"]]:
                    self.stdout.write(
                        f"      {drift.key[0]} {drift.key[1]} link={drift.link_id} "
                        f"db=v{drift.database_version} dynamodb=v{drift.stored_version}"
                        + (f" replica={drift.replica}" if two else "")
                    )
            if options["fix"]:
                self.stdout.write(
                    f"Repairs: {report.fixed} (publishes enqueued through the outbox)."
                )
            elif not report.clean:
                self.stdout.write("Run again with --fix to repair.")
        if options["fail_on_drift"] and not report.clean and not options["fix"]:
            raise CommandError(f"Drift found: {counts}")

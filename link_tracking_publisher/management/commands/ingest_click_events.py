"""Ingest click events from NDJSON files or folders, or S3 (NDJSON and Firehose's Parquet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...aws import service_client
from ...clicks.ingest import ingest_objects
from ...clicks.sources import SourceError, local_objects, parse_s3_url, s3_objects


class Command(BaseCommand):
    help = (
        "Count click events into the statistics, once each (idempotent by event_id; "
        "checkpointed per file or object, so a rerun reads only what is new). SOURCE is an "
        "NDJSON file or a folder of them, or s3://bucket/prefix (NDJSON or Parquet objects)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            required=True,
            help="A file, a folder, or s3://bucket/prefix, e.g. var/dev/click-events.ndjson.",
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Records per transaction.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, source: str, batch_size: int | None, **options: Any) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            if source.startswith("s3://"):
                bucket, prefix = parse_s3_url(source)
                try:
                    objects = s3_objects(service_client("s3"), bucket, prefix)
                except (ClientError, BotoCoreError) as exc:
                    raise CommandError(
                        f"Cannot list {source}: {exc}. Check the bucket name, AWS credentials "
                        "and s3:ListBucket permission."
                    ) from exc
            else:
                objects = local_objects(Path(source))
        except SourceError as exc:
            raise CommandError(
                f"{exc} Give an NDJSON file, a folder or s3://bucket/prefix."
            ) from None
        try:
            report = ingest_objects(objects, batch_size=batch_size)
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"Cannot read from {source}: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
            return
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
        self.stdout.write(
            f"Ingested {report.counted} new clicks from {report.objects} object(s): "
            f"{report.read} records read, {report.duplicates} duplicates, "
            f"skipped: {skipped or 'none'}."
        )

"""Republish every active link of a campaign (by its campaign_id)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import Link, LinkCampaign
from ...tasks import republish_campaign_task


class Command(BaseCommand):
    help = (
        "Republish every active link whose campaign has this campaign_id: enqueues "
        "republish_campaign_task for a Celery worker, or runs it here with --now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign_id", help="The campaign's campaign_id (not its UUID).")
        parser.add_argument(
            "--now",
            action="store_true",
            help="Publish in this process instead of enqueueing (no worker needed).",
        )

    def handle(self, *args: Any, campaign_id: str, now: bool, **options: Any) -> None:
        campaign_id = campaign_id.strip()
        if not campaign_id:
            raise CommandError("Give a campaign_id, e.g. manage.py republish_campaign SPRING26.")
        if not LinkCampaign.objects.filter(campaign_id=campaign_id).exists():
            known = [
                campaign
                for campaign in LinkCampaign.objects.exclude(campaign_id__isnull=True)
                .order_by("campaign_id")
                .values_list("campaign_id", flat=True)
                .distinct()[:20]
                if campaign
            ]
            hint = (
                f" Known campaign_ids: {', '.join(known)}."
                if known
                else " No campaign has a campaign_id yet."
            )
            raise CommandError(f"No campaign has campaign_id {campaign_id!r}.{hint}")
        count = Link.objects.filter(campaign_identifier=campaign_id, active=True).count()
        if now:
            summary = republish_campaign_task.apply(args=[campaign_id]).get()
            self.stdout.write(
                f"Republished campaign {campaign_id}: {summary['written']} written, "
                f"{summary['already_applied']} already applied, {summary['failed']} failed "
                f"of {summary['total']} active links."
            )
            if summary["failed"]:
                raise CommandError(
                    f"{summary['failed']} links were not published; their outbox rows stay "
                    "PENDING and retry_pending_outbox retries them. See the publish outbox."
                )
            return
        try:
            result = republish_campaign_task.delay(campaign_id)
        except Exception as exc:  # the broker is down: say so, don't print a traceback
            raise CommandError(
                f"Could not enqueue the republish ({type(exc).__name__}: {exc}). Is the Celery "
                "broker (CELERY_BROKER_URL) reachable? Or run with --now."
            ) from None
        self.stdout.write(
            f"Enqueued republish of campaign {campaign_id} ({count} active links), task {result.id}."
        )

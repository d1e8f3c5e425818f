"""Create (or reuse) a demo account, domain, campaign and link, through the service layer, so
the link's publish is enqueued exactly as the app does it. Prints the link as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from devsite.crm.models import Account
from link_tracking_publisher.models import Domain, GlobalUTMPolicy, Link, LinkCampaign
from link_tracking_publisher.services.links import create_link


class Command(BaseCommand):
    help = "Create the demo account, domain, campaign and link (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", default="127.0.0.1", help="Short-link host of the demo.")
        parser.add_argument("--slug", default="DEMO", help="Vanity slug of the demo link.")
        parser.add_argument("--destination", default="https://www.example.com/spring-sale?ref=demo")

    def handle(self, *args: Any, domain: str, slug: str, destination: str, **options: Any) -> None:
        with transaction.atomic():
            account, _ = Account.objects.get_or_create(name="Demo account")
            host, _ = Domain.objects.get_or_create(
                domain_name=domain,
                # The demo host is local: verified by hand, as staff would in the admin.
                defaults={
                    "purpose": Domain.Purpose.SMS,
                    "status": Domain.Status.ACTIVE,
                    "verified_at": timezone.now(),
                    "verification_method": Domain.VerificationMethod.MANUAL,
                },
            )
            policy = GlobalUTMPolicy.load()
            if not policy.default_utm_params:
                policy.default_utm_params = {"utm_source": "link-tracking"}
                policy.save()
            campaign, _ = LinkCampaign.objects.get_or_create(
                account=account,
                campaign_id="SPRING26",
                defaults={
                    "name": "Spring sale",
                    "utm_template": {"utm_medium": "${channel}", "utm_campaign": "${campaign_id}"},
                },
            )
            link = Link.objects.filter(domain=host, slug_canonical=slug.upper()).first()
            created = link is None
            if link is None:
                link = create_link(
                    account=account,
                    domain=host,
                    campaign=campaign,
                    slug=slug,
                    destination_url=destination,
                    keyword="SALE",
                    channel="sms",
                    dynamic_param_allowlist=["click_id", "sms_msg_id"],
                    reason="demo data",
                )
        self.stdout.write(
            json.dumps(
                {
                    "created": created,
                    "link_id": str(link.pk),
                    "domain": host.domain_name,
                    "slug": link.slug,
                    "runtime_version": link.runtime_version,
                }
            )
        )

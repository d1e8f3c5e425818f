"""Link campaigns: a change that alters what their links' records say republishes them."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..models import LinkCampaign
from .publishing import republish_links_on_commit

__all__ = ["create_campaign", "update_campaign"]


def create_campaign(*, user: Any = None, **fields: Any) -> LinkCampaign:
    """Add a link campaign (``campaign_id`` optional; when set, unique per account). It has no
    links yet, so nothing is published."""
    campaign = LinkCampaign(**fields)
    campaign.full_clean()
    campaign.save(force_insert=True)
    return campaign


def update_campaign(campaign: LinkCampaign, *, user: Any = None, **changes: Any) -> LinkCampaign:
    """Change a campaign. When its ``utm_template``, ``campaign_id`` or ``active`` changes, its
    links' records change too: ``campaign_identifier`` is re-denormalised and every link of
    the campaign is republished (:func:`republish_links_on_commit`)."""
    with transaction.atomic():
        current = LinkCampaign.objects.select_for_update().get(pk=campaign.pk)
        before = (current.utm_template, current.campaign_id)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        if (current.utm_template, current.campaign_id) != before:
            current.links.update(campaign_identifier=current.campaign_id or "")
            republish_links_on_commit(current.links.all())
    return current

"""Link campaign ↔ CRM campaign mappings (attribution). They are not part of any runtime
record, so changing them publishes nothing; they are still changed here, in one place, with
the model's validation."""

from __future__ import annotations

from typing import Any

from ..models import LinkCampaign, LinkCampaignCrmCampaignMapping

__all__ = ["create_mapping", "delete_mapping", "update_mapping"]

#: What an update may change: the date range and whether the mapping is active.
UPDATABLE = ("start_date", "end_date", "is_active")


def create_mapping(
    link_campaign: LinkCampaign, *, crm_campaign: Any, user: Any = None, **fields: Any
) -> LinkCampaignCrmCampaignMapping:
    """Map ``link_campaign`` to ``crm_campaign`` (optionally over a date range)."""
    unknown = set(fields) - set(UPDATABLE)
    if unknown:
        raise TypeError(f"create_mapping() got unexpected fields: {', '.join(sorted(unknown))}")
    mapping = LinkCampaignCrmCampaignMapping(
        link_campaign=link_campaign, crm_campaign=crm_campaign, **fields
    )
    mapping.full_clean()
    mapping.save(force_insert=True)
    return mapping


def update_mapping(
    mapping: LinkCampaignCrmCampaignMapping, *, user: Any = None, **changes: Any
) -> LinkCampaignCrmCampaignMapping:
    """Change a mapping's dates or ``is_active``."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise TypeError(f"update_mapping() got unexpected fields: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(mapping, name, value)
    mapping.full_clean()
    mapping.save()
    return mapping


def delete_mapping(mapping: LinkCampaignCrmCampaignMapping, *, user: Any = None) -> None:
    """Remove a mapping (attribution only: no record changes, nothing is published)."""
    mapping.delete()

"""Statistics rows written as ingestion writes them (``write_rollups``), for tests that need
counts with values no click event could carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection

from link_tracking_publisher.clicks.ingest import rollup_context, write_rollups
from link_tracking_publisher.models import Link, LinkCampaign


def add_clicks(
    link: Any, hour: datetime, *, human: int = 0, bot: int = 0, **breakdowns: str
) -> None:
    """``human`` and ``bot`` clicks on ``link`` in ``hour``, with one value per breakdown
    dimension named (``outcome`` defaults to ``ok``)."""
    key = Link._meta.pk.get_db_prep_value(link.pk, connection)
    campaign = (
        None
        if link.campaign_id is None
        else LinkCampaign._meta.pk.get_db_prep_value(link.campaign_id, connection)
    )
    at = hour.timestamp()
    day = at - at % 86400
    values = {"outcome": "ok", **breakdowns}
    write_rollups(
        {(key, campaign, at): [human, bot, 0, 0, at, at]},
        {(key, campaign, day, name, value): [human, bot] for name, value in values.items()},
        rollup_context(),
    )

"""Orphan clicks: click events on no link of a domain, counted per domain, UTC day and slug.

The runtime answers a slug that is no link (outcome ``not_found``, no ``link_id``) with the
domain's not-found page and writes its click event as for any click. Ingestion used to drop
those as ``unknown_link``; it now counts them in :class:`~..models.OrphanClicks`, once each
(the same dedupe keys as link clicks), so a domain's owner sees which slugs people try
(a typo in a printed URL, a link deleted too early, a guessed slug) and how many a day. Events of
a domain the control plane does not know stay skipped as ``unknown_link``. A slug that could
not be a slug (``/wp-login.php``) is counted under ``""``: the paths scanners try are not kept one
by one.

Only the chunk's orphan records are decoded here (with their ``domain`` and ``slug``): link
clicks never pay for the two fields.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from django.db import connection
from django.db.models import Max, Sum

from link_tracking_runtime.record import SLUG_MAX_LENGTH, canonical_host, is_valid_slug

from ..models import Domain, OrphanClicks
from .bulk_sql import max_update, sum_update, upsert
from .dedupe import event_keys, insert_keys

__all__ = ["ORPHAN_DAYS_MAX", "ORPHAN_SLUGS_MAX", "count_orphans", "is_orphan", "orphan_summary"]

_Orphan = msgspec.defstruct(
    "_Orphan",
    [
        ("event_id", Annotated[str, msgspec.Meta(max_length=64)]),
        ("timestamp", Annotated[float, msgspec.Meta(gt=0)]),
        ("is_bot", bool),
        ("domain", Annotated[str, msgspec.Meta(max_length=253)]),
        ("slug", str),
    ],
    gc=False,
)
_decode_json = msgspec.json.Decoder(_Orphan).decode


def is_orphan(link_id: str | None, outcome: str) -> bool:
    """Whether a record the links do not take is an orphan click (no link, ``not_found``)."""
    return link_id is None and outcome == "not_found"


def _decode(raw: Any) -> Any:
    return msgspec.convert(raw, _Orphan) if type(raw) is dict else _decode_json(raw)


def count_orphans(records: Sequence[Any], domains: dict[str, Any]) -> tuple[int, int]:
    """Count the chunk's orphan records (inside the chunk's transaction): ``(new, unknown
    domain)``; a duplicate of an event already counted adds nothing. ``domains`` caches
    canonical host → ``Domain`` pk (``None``: no such domain) for the run."""
    events = []
    for raw in records:
        try:
            events.append(_decode(raw))
        except (msgspec.MsgspecError, TypeError, ValueError):
            continue  # checked as a link record before: cannot happen but for a race
    hosts = {canonical_host(event.domain) for event in events} - set(domains)
    if hosts:
        found = dict(Domain.objects.filter(domain_name__in=hosts).values_list("domain_name", "pk"))
        domains.update({host: found.get(host) for host in hosts})
    known = [event for event in events if domains.get(canonical_host(event.domain)) is not None]
    unknown = len(events) - len(known)
    if not known:
        return 0, unknown
    keys = event_keys([event.event_id for event in known])
    first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
    new = sorted(map(first.__getitem__, insert_keys(first, [e.timestamp for e in known])))
    counts: dict[tuple[Any, float, str], list[Any]] = collections.defaultdict(lambda: [0, 0, 0.0])
    for index in new:
        event = known[index]
        slug = event.slug.strip().upper()
        if len(slug) > SLUG_MAX_LENGTH or not is_valid_slug(slug):
            slug = ""
        row = counts[domains[canonical_host(event.domain)], event.timestamp // 86400, slug]
        row[1 if event.is_bot else 0] += 1
        row[2] = max(row[2], event.timestamp)
    # The bulk statements take database values (the raw cursor adapts nothing).
    domain_value = Domain._meta.pk.get_db_prep_value
    time_value = OrphanClicks._meta.get_field("day").get_db_prep_value
    rows = [
        (
            domain_value(domain, connection),
            time_value(datetime.fromtimestamp(day * 86400, UTC), connection),
            slug,
            human,
            bot,
            time_value(datetime.fromtimestamp(last, UTC), connection),
        )
        for (domain, day, slug), (human, bot, last) in counts.items()
    ]
    if rows:
        upsert(
            OrphanClicks,
            ["domain", "day", "slug", "human_clicks", "bot_clicks", "last_click_at"],
            ["domain", "day", "slug"],
            ", ".join(
                (
                    sum_update(OrphanClicks, "human_clicks"),
                    sum_update(OrphanClicks, "bot_clicks"),
                    max_update(OrphanClicks, "last_click_at"),
                )
            ),
            rows,
        )
    return len(new), unknown


#: The longest range ``orphan-clicks/`` reads, days, and the most top slugs it lists.
ORPHAN_DAYS_MAX = 366
ORPHAN_SLUGS_MAX = 100


def orphan_summary(domain: Any, *, days: int, limit: int, now: float) -> dict[str, Any]:
    """A domain's orphan clicks over the ``days`` UTC days up to ``now`` (today included): the
    ``limit`` most clicked missing slugs (people's clicks first, then bots'), and the counts by
    day. Reads day rows only: as many as slugs a day were missed, never the clicks."""
    start = datetime.fromtimestamp((now // 86400 - days + 1) * 86400, UTC)
    rows = OrphanClicks.objects.filter(domain=domain, day__gte=start)
    top = (
        rows.values("slug")
        .annotate(human=Sum("human_clicks"), bot=Sum("bot_clicks"), last=Max("last_click_at"))
        .order_by("-human", "-bot", "slug")[:limit]
    )
    by_day = rows.values("day").annotate(human=Sum("human_clicks"), bot=Sum("bot_clicks"))
    return {
        "since": start,
        "top_slugs": [
            {
                "slug": row["slug"],
                "human_clicks": row["human"],
                "bot_clicks": row["bot"],
                "last_click_at": row["last"],
            }
            for row in top
        ],
        "by_day": [
            {"day": row["day"], "human_clicks": row["human"], "bot_clicks": row["bot"]}
            for row in by_day.order_by("day")
        ],
    }

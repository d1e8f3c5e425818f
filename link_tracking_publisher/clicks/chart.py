"""A small server-rendered SVG chart of clicks over time (human and bot stacked), for the
admin: no JavaScript, no CDN, nothing fetched by the browser."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .stats import Owner, click_stats, click_totals, unique_visitors

__all__ = ["click_summary_html", "clicks_svg"]

WIDTH, HEIGHT, MARGIN = 640, 180, 28
HUMAN_COLOUR, BOT_COLOUR = "#2f6fb3", "#b9c2cc"
#: The chart shows at most this many days, ending with the last click.
CHART_DAYS = 60


def clicks_svg(series: list[dict[str, Any]], title: str) -> SafeString:
    """Stacked bars, one per period of ``series`` (``click_stats``'s), humans at the bottom."""
    if not series:
        return mark_safe("<p>No clicks yet.</p>")
    peak = max(point["clicks"] for point in series) or 1
    slot = (WIDTH - 2 * MARGIN) / len(series)
    bar = max(1.0, slot * 0.8)
    scale = (HEIGHT - 2 * MARGIN) / peak
    base = HEIGHT - MARGIN
    rects = []
    for index, point in enumerate(series):
        x = MARGIN + index * slot + (slot - bar) / 2
        human_h = point["human_clicks"] * scale
        bot_h = point["bot_clicks"] * scale
        label = f"{point['start']:%Y-%m-%d %H:%M}: {point['human_clicks']} human, {point['bot_clicks']} bot"
        rects.append((x, base - human_h, bar, human_h, HUMAN_COLOUR, label))
        rects.append((x, base - human_h - bot_h, bar, bot_h, BOT_COLOUR, label))
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        (
            (f"{x:.1f}", f"{y:.1f}", f"{w:.1f}", f"{h:.1f}", colour, label)
            for x, y, w, h, colour, label in rects
            if h > 0
        ),
    )
    return format_html(
        '<svg class="click-chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" role="img" aria-label="{title}">'
        "<title>{title}</title>"
        '<line x1="{m}" y1="{base}" x2="{right}" y2="{base}" stroke="#555"/>'
        "{bars}"
        '<text x="{m}" y="14" font-size="11" fill="#333">{peak} clicks</text>'
        '<text x="{m}" y="{labels}" font-size="11" fill="#333">{first}</text>'
        '<text x="{right}" y="{labels}" font-size="11" fill="#333" text-anchor="end">'
        "{last}</text>"
        '<rect x="{legend}" y="4" width="10" height="10" fill="{human}"/>'
        '<text x="{legend_text}" y="13" font-size="11" fill="#333">human</text>'
        '<rect x="{legend2}" y="4" width="10" height="10" fill="{bot}"/>'
        '<text x="{legend2_text}" y="13" font-size="11" fill="#333">bot</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        m=MARGIN,
        base=base,
        right=WIDTH - MARGIN,
        bars=bars,
        peak=peak,
        labels=HEIGHT - 8,
        first=f"{series[0]['start']:%Y-%m-%d}",
        last=f"{series[-1]['start']:%Y-%m-%d}",
        legend=WIDTH - 150,
        legend_text=WIDTH - 136,
        legend2=WIDTH - 80,
        legend2_text=WIDTH - 66,
        human=HUMAN_COLOUR,
        bot=BOT_COLOUR,
    )


def click_summary_html(owner: Owner) -> SafeString:
    """Counts (all time, from the totals row) and the chart (by day, up to the last
    :data:`CHART_DAYS` days with clicks)."""
    totals = click_totals(owner)
    if not totals["human"] + totals["bot"]:
        return mark_safe("<p>No clicks yet.</p>")
    since = max(totals["first"], totals["last"] - timedelta(days=CHART_DAYS - 1))
    recent = click_stats(owner, since=since.replace(hour=0, minute=0, second=0, microsecond=0))
    reasons = recent["breakdowns"]["bot_reason"]
    why = (
        format_html(
            "<p>Bot clicks of the chart's days by reason: {}.</p>",
            format_html_join(", ", "{} {}", ((r["value"], r["bot_clicks"]) for r in reasons)),
        )
        if reasons
        else ""
    )
    return format_html(
        '<div class="click-summary"><p><strong>{}</strong> clicks: <strong>{}</strong> human, '
        "{} bot; {} unique visitors; first {}, last {} UTC.</p>"
        "{}{}</div>",
        totals["human"] + totals["bot"],
        totals["human"],
        totals["bot"],
        unique_visitors(owner),
        f"{totals['first']:%Y-%m-%d %H:%M}",
        f"{totals['last']:%Y-%m-%d %H:%M}",
        clicks_svg(recent["series"], "Clicks per day, human and bot"),
        why,
    )

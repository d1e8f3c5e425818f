"""Statistics benchmark: each statistics endpoint's latency and queries at two volumes, against
a baseline checkout in the same run.

    python benchmarks/stats_bench.py                          # 300,000 events and 10x
    python benchmarks/stats_bench.py --events 3000000         # the 3M run (10x: 30M; long)
    python benchmarks/stats_bench.py --baseline /path/to/checkout   # also today's code there

Generates click events as the runtime writes them (the contract's ``encode_event``): 10%
duplicate deliveries, 20% bots, a third as many message ids as events, over ``--links`` links
(300) in ``--campaigns`` campaigns (3) and 180 days, with skewed link popularity (the biggest
link and campaign are what is measured). The larger volume has ``--scale`` (10) times the
events over the same links and days, so every cell of the statistics holds more clicks: the
cost of a statistic that reads pre-aggregated rows stays flat, one that reads per-event rows
grows with it. Then, for each code tree (this one, and ``--baseline``'s) and each volume, in a
fresh process with a fresh SQLite database (``--postgres URL``: a fresh PostgreSQL database on
that server instead):

* ingests the file with that tree's ``ingest_objects`` (CPU time reported);
* requests each endpoint ``--repeat`` times with Django's test client (after one warm-up):
  link statistics of the biggest link, campaign statistics of the biggest campaign (default
  range, 180 days by day, 180 days by hour, the last 7 days by hour), the admin campaign
  page, the links export; p50, p95 and the queries of one request;
* counts the rows of each click table, and the database's size.

Prints a table per tree and the 10x/1x ratio of each figure; the databases are kept, and
``--split VAR_DIR`` then times ``click_stats`` in process on one of this tree's, with and
without its distinct-visitor count. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAYS = 180
T_END = 1793613600.0  # 2026-11-02 10:00 UTC: the last event's time
T_START = T_END - DAYS * 86400
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
]
BOT_AGENTS = ["Slackbot-LinkExpanding 1.0", "facebookexternalhit/1.1"]


def link_id(n: int) -> str:
    return str(uuid.UUID(int=n + 1, version=4))


def campaign_id(n: int) -> str:
    return str(uuid.UUID(int=10_000 + n + 1, version=4))


def generate(path: Path, events: int, links: int, seed: int = 11) -> None:
    """``events`` lines in time order over :data:`DAYS` days; link ``n`` has weight 1/(n+1)."""
    sys.path.insert(0, str(ROOT))
    from link_tracking_runtime.events import ClickEvent, encode_event

    rng = random.Random(seed)
    ids = [link_id(n) for n in range(links)]
    weights = [1 / (n + 1) for n in range(links)]
    picks = rng.choices(range(links), weights, k=events)
    messages = max(1, events // 3)
    recent: list[bytes] = []
    with path.open("wb") as out:
        for n, pick in enumerate(picks):
            if recent and rng.random() < 0.10:
                out.write(rng.choice(recent))
                continue
            bot = rng.random() < 0.20
            line = encode_event(
                ClickEvent(
                    event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    timestamp=T_START + n * (DAYS * 86400 - 60) / events + rng.random() * 5,
                    domain="go.example.com",
                    slug=f"S{pick}",
                    click_session_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                    ip_hash=f"{rng.getrandbits(22):06x}",
                    final_url_hash="f" * 16,
                    is_bot=bot,
                    redirect_latency_ms=rng.randint(1, 20),
                    outcome="ok" if rng.random() < 0.97 else "expired",
                    link_id=ids[pick],
                    campaign_id="BENCH",
                    channel="qr" if rng.random() < 0.1 else "sms",
                    user_agent=rng.choice(BOT_AGENTS if bot else AGENTS),
                    geo_country=rng.choice(["US", "GB", "DE", "FR", "CA", None]),
                    sms_msg_id=f"msg-{rng.randrange(messages)}",
                    ab_variant=rng.choice(["a", "b", None]),
                )
            )
            out.write(line)
            recent.append(line)
            if len(recent) > 1000:
                recent.pop(rng.randrange(len(recent)))


# --- worker: one code tree, one volume, one fresh database ----------------------------------


def _setup(root: Path, var_dir: Path, links: int, campaigns: int, postgres: str) -> Any:
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ.update(
        LINK_TRACKING_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="devsite.settings",
        LOG_LEVEL="ERROR",
        DEBUG="false",
    )
    os.environ.pop("DATABASE_URL", None)
    if postgres:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from ingest_bench import fresh_postgres  # this tree's helper

        os.environ["DATABASE_URL"] = fresh_postgres(postgres, f"stats_bench_{var_dir.name}")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    from devsite.crm.models import Account
    from link_tracking_publisher.models import Domain, Link, LinkCampaign

    account = Account.objects.create(name="bench")
    domain = Domain.objects.create(domain_name="go.example.com")
    made = LinkCampaign.objects.bulk_create(
        LinkCampaign(
            id=uuid.UUID(campaign_id(n)), account=account, name=f"c{n}", campaign_id=f"C{n}"
        )
        for n in range(campaigns)
    )
    Link.objects.bulk_create(
        Link(
            id=uuid.UUID(link_id(n)),
            account=account,
            domain=domain,
            campaign=made[n % campaigns],
            slug_canonical=f"S{n}",
            destination_url="https://shop.example.com/",
        )
        for n in range(links)
    )
    return get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")


def _table_rows() -> dict[str, int]:
    from django.apps import apps
    from django.db import connection

    rows = {}
    with connection.cursor() as cursor:
        for model in apps.get_app_config("link_tracking").get_models():
            name = model.__name__
            if name.startswith(("Click", "Link", "Campaign", "Message")) and (
                "Click" in name or "Breakdown" in name or "Rollup" in name
            ):
                if name.startswith(("ClickWebhook", "ClickIngest")):
                    continue
                cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")
                rows[name] = cursor.fetchone()[0]
    return rows


def _db_bytes(var_dir: Path) -> int:
    from django.db import connection

    if connection.vendor == "sqlite":
        return (var_dir / "devsite.sqlite3").stat().st_size
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def worker(
    root: Path, path: Path, var_dir: Path, links: int, campaigns: int, repeat: int, postgres: str
) -> dict[str, Any]:
    user = _setup(root, var_dir, links, campaigns, postgres)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from rest_framework.test import APIClient

    from link_tracking_publisher.clicks.ingest import ingest_objects
    from link_tracking_publisher.clicks.sources import local_objects

    no_horizon = {**settings.LINK_TRACKING, "CLICK_DEDUPE_HORIZON_DAYS": None}
    with override_settings(LINK_TRACKING=no_horizon):
        cpu, wall = time.process_time(), time.perf_counter()
        report = ingest_objects(local_objects(path), now=T_END + 60)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    api = APIClient()
    api.force_authenticate(user)
    admin = Client()
    admin.force_login(user)
    link, campaign = link_id(0), campaign_id(0)
    last = "2026-11-03T00:00:00Z"
    base = "/api/link_tracking"
    endpoints = {
        "link stats, biggest link, default range": (api, f"{base}/links/{link}/stats/", {}),
        "campaign stats, biggest campaign, default range": (
            api,
            f"{base}/campaigns/{campaign}/stats/",
            {},
        ),
        "campaign stats, 180 days by day": (
            api,
            f"{base}/campaigns/{campaign}/stats/",
            {"from": "2026-05-06T00:00:00Z", "to": last, "interval": "day"},
        ),
        "campaign stats, 180 days by hour": (
            api,
            f"{base}/campaigns/{campaign}/stats/",
            {"from": "2026-05-06T00:00:00Z", "to": last, "interval": "hour"},
        ),
        "campaign stats, last 7 days by hour": (
            api,
            f"{base}/campaigns/{campaign}/stats/",
            {"from": "2026-10-27T00:00:00Z", "to": last, "interval": "hour"},
        ),
        "admin campaign page": (admin, f"/admin/link_tracking/linkcampaign/{campaign}/change/", {}),
        "links export (all links with counts)": (api, f"{base}/links/export/", {}),
    }
    results = {}
    for name, (client, url, params) in endpoints.items():
        times = []
        for n in range(repeat + 1):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url, params)
                body = b"".join(response.streaming_content) if response.streaming else b""
                elapsed = (time.perf_counter() - start) * 1000
            del body
            if n:  # the first is a warm-up
                times.append(elapsed)
        times.sort()
        results[name] = {
            "p50_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
            "queries": len(queries.captured_queries),
            "status": response.status_code,
        }
    return {
        "events": report.read,
        "counted": report.counted,
        "ingest_cpu_s": cpu,
        "ingest_wall_s": wall,
        "endpoints": results,
        "rows": _table_rows(),
        "db_mib": _db_bytes(var_dir) / 2**20,
    }


def split(var_dir: Path, repeat: int) -> dict[str, dict[str, float]]:
    """In process, on a database a worker of this tree left: ``click_stats`` p50 with the
    distinct visitors, the visitors alone, and the rest (visitors stubbed out)."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        LINK_TRACKING_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="devsite.settings",
        LOG_LEVEL="ERROR",
        DEBUG="false",
    )
    import django

    django.setup()
    from datetime import UTC, datetime

    from link_tracking_publisher.clicks import stats
    from link_tracking_publisher.models import Link, LinkCampaign

    campaign = LinkCampaign.objects.get(pk=campaign_id(0))
    link = Link.objects.get(pk=link_id(0))
    since, until = datetime(2026, 5, 6, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    cases = {
        "link, default range": lambda: stats.click_stats(link),
        "campaign, default range": lambda: stats.click_stats(campaign),
        "campaign, 180 days by day": lambda: stats.click_stats(campaign, since=since, until=until),
        "campaign, 180 days by hour": lambda: stats.click_stats(
            campaign, since=since, until=until, interval="hour"
        ),
    }

    def p50(call: Any) -> float:
        call()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    visitors = stats.unique_visitors
    out: dict[str, dict[str, float]] = {name: {"all_ms": p50(call)} for name, call in cases.items()}
    out["link, default range"]["visitors_ms"] = p50(lambda: visitors(link))
    out["campaign, default range"]["visitors_ms"] = p50(lambda: visitors(campaign))
    stats.unique_visitors = lambda *args, **kwargs: 0  # type: ignore[assignment]
    for name, call in cases.items():
        out[name]["without_visitors_ms"] = p50(call)
    return out


def run_worker(python: str, root: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [python, __file__, "--worker", str(root), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(name: str, small: dict[str, Any], large: dict[str, Any]) -> None:
    print(f"\n## {name}: {small['counted']:,} and {large['counted']:,} events counted")
    print(
        f"ingest: {small['counted'] / small['ingest_cpu_s']:,.0f} and "
        f"{large['counted'] / large['ingest_cpu_s']:,.0f} events/s of CPU; database "
        f"{small['db_mib']:,.0f} and {large['db_mib']:,.0f} MiB"
    )
    print("| endpoint | p50 1x | p95 1x | queries | p50 10x | p95 10x | queries | p50 ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for endpoint, one in small["endpoints"].items():
        ten = large["endpoints"][endpoint]
        if one["status"] != 200 or ten["status"] != 200:
            print(
                f"| {endpoint} | HTTP {one['status']} | | {one['queries']} | "
                f"HTTP {ten['status']} | | {ten['queries']} | |"
            )
            continue
        print(
            f"| {endpoint} | {one['p50_ms']:.1f} ms | {one['p95_ms']:.1f} ms | "
            f"{one['queries']} | {ten['p50_ms']:.1f} ms | {ten['p95_ms']:.1f} ms | "
            f"{ten['queries']} | {ten['p50_ms'] / one['p50_ms']:.2f}x |"
        )
    print("| table | rows 1x | per event | rows 10x | per event |")
    print("|---|---:|---:|---:|---:|")
    for table, rows in small["rows"].items():
        if rows or large["rows"][table]:
            print(
                f"| {table} | {rows:,} | {rows / small['counted']:.3f} | "
                f"{large['rows'][table]:,} | {large['rows'][table] / large['counted']:.3f} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--scale", type=int, default=10, help="the larger volume, x events")
    parser.add_argument("--links", type=int, default=300)
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per endpoint")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure the same way")
    parser.add_argument("--postgres", metavar="URL", default="", help="PostgreSQL server URL")
    parser.add_argument(
        "--split",
        type=Path,
        metavar="VAR_DIR",
        help="only time click_stats in process on the database a run of this tree left in "
        "VAR_DIR (e.g. /tmp/stats-bench-…/this-tree-10x): with, without and only the "
        "distinct visitors",
    )
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.split:
        for name, figures in split(args.split, args.repeat).items():
            print(name, {key: round(value, 1) for key, value in figures.items()})
        return 0
    if args.worker:
        root, path, var_dir, links, campaigns, repeat, *postgres = args.worker
        print(
            json.dumps(
                worker(
                    Path(root),
                    Path(path),
                    Path(var_dir),
                    int(links),
                    int(campaigns),
                    int(repeat),
                    "".join(postgres),
                )
            )
        )
        return 0
    work = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    sizes = {"1x": args.events, "10x": args.events * args.scale}
    for label, events in sizes.items():
        started = time.perf_counter()
        generate(work / f"{label}.ndjson", events, args.links)
        print(
            f"generated {events:,} events ({label}) in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    trees = [("this tree", ROOT)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    for name, root in trees:
        python = str(root / ".venv" / "bin" / "python")
        measured = {}
        for label in sizes:
            started = time.perf_counter()
            measured[label] = run_worker(
                python,
                root,
                str(work / f"{label}.ndjson"),
                str(work / f"{name.replace(' ', '-')}-{label}"),
                str(args.links),
                str(args.campaigns),
                str(args.repeat),
                args.postgres,
            )
            print(f"{name} {label}: {time.perf_counter() - started:.0f} s", flush=True)
        report(name, measured["1x"], measured["10x"])
        (work / f"{name.replace(' ', '-')}.json").write_text(json.dumps(measured, indent=1))
    print(f"\nraw figures: {work}/*.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Click ingestion benchmark: ingest_click_events' path against a naive ORM loop, same run.

    python benchmarks/ingest_bench.py                  # 1,000,000 events; --events, --sample
    python benchmarks/ingest_bench.py --before 0013    # also bulk without the later migrations

Generates NDJSON click events as the runtime writes them (the contract's ``encode_event``):
10% duplicates (redelivered event ids), 20% bots, 100,000 distinct ``sms_msg_id`` values over
100 links, 24 hours in arrival order. Then, each in a fresh process with a fresh SQLite database:

* **bulk**: ``ingest_objects`` over the file (the command's path: parse, validate, dedupe by
  ``event_id``, roll up, checkpoint), timed end to end, CPU time and peak RSS reported; run at
  a quarter of the input and at all of it, so a flat memory profile shows as equal peaks;
* **naive**: the same outcome one event at a time through the ORM (``get_or_create`` of the
  event key, then of the link's and the campaign's hour cell and totals, the five day
  breakdown cells of each, the visitor and the message row, and an ``F()`` update of each),
  over the first ``--sample`` events, in transactions of the same batch size as bulk (so
  per-row ORM work is measured, not one fsync per event); extrapolated per event.

Reports events/s (wall and CPU) and the ratio. With ``--before MIGRATION``, the bulk case runs
``--pairs`` more times each way, interleaved: with the app's schema migrated back to
``MIGRATION`` (the indexes added since then are not written) and with all of it, and reports
the medians and their ratio. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINKS = 100
T0 = 1793613600.0
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
BOT_AGENTS = ["Slackbot-LinkExpanding 1.0", "facebookexternalhit/1.1", "Googlebot/2.1"]


def link_ids() -> list[str]:
    return [str(uuid.UUID(int=i + 1, version=4)) for i in range(LINKS)]


def generate(path: Path, events: int, seed: int = 7) -> None:
    from link_tracking_runtime.events import ClickEvent, encode_event

    rng = random.Random(seed)
    ids = link_ids()
    recent: list[bytes] = []
    with path.open("wb") as out:
        for n in range(events):
            if recent and rng.random() < 0.10:  # a redelivered event: the same line again
                out.write(rng.choice(recent))
                continue
            bot = rng.random() < 0.20
            event = ClickEvent(
                event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                # Arrival order, as Firehose writes them: a day, a few seconds of jitter.
                timestamp=T0 + n * 86400 / events + rng.random() * 5,
                domain="go.example.com",
                slug=f"S{n % LINKS}",
                click_session_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                ip_hash=f"{rng.getrandbits(40):010x}",
                final_url_hash="f" * 16,
                is_bot=bot,
                redirect_latency_ms=rng.randint(1, 20),
                outcome="ok" if rng.random() < 0.97 else "expired",
                link_id=ids[rng.randrange(LINKS)],
                campaign_id="BENCH",
                channel="sms",
                user_agent=rng.choice(BOT_AGENTS if bot else AGENTS),
                geo_country=rng.choice(["US", "GB", "DE", "FR", "CA"]),
                sms_msg_id=f"msg-{rng.randrange(100_000)}",
                ab_variant=rng.choice(["a", "b", None]),
            )
            line = encode_event(event)
            out.write(line)
            recent.append(line)
            if len(recent) > 1000:
                recent.pop(rng.randrange(len(recent)))


def fresh_postgres(server_url: str, name: str) -> str:
    """A new, empty database ``name`` on the server of ``server_url``; its URL."""
    import psycopg

    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return server_url.rsplit("/", 1)[0] + "/" + name


def setup_django(var_dir: Path) -> None:
    os.environ.update(
        LINK_TRACKING_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="devsite.settings",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "ERROR"),
    )
    server = os.environ.pop("INGEST_BENCH_POSTGRES", "")
    os.environ.pop("DATABASE_URL", None)
    if server:
        os.environ["DATABASE_URL"] = fresh_postgres(server, f"ingest_bench_{var_dir.name}")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    before = os.environ.pop("INGEST_BENCH_MIGRATION", "")
    if before:
        call_command("migrate", "link_tracking", before, "--no-input", verbosity=0)
    from devsite.crm.models import Account
    from link_tracking_publisher.models import Domain, Link, LinkCampaign

    account = Account.objects.create(name="bench")
    domain = Domain.objects.create(domain_name="go.example.com")
    campaign = LinkCampaign.objects.create(account=account, name="bench", campaign_id="BENCH")
    Link.objects.bulk_create(
        Link(
            id=uuid.UUID(pk),
            account=account,
            domain=domain,
            campaign=campaign,
            slug_canonical=f"S{i}",
            destination_url="https://shop.example.com/",
        )
        for i, pk in enumerate(link_ids())
    )


def worker_bulk(path: Path, var_dir: Path) -> dict[str, float]:
    setup_django(var_dir)
    from link_tracking_publisher.clicks.ingest import ingest_objects
    from link_tracking_publisher.clicks.sources import local_objects

    wall, cpu = time.perf_counter(), time.process_time()
    report = ingest_objects(local_objects(path), now=T0 + 2 * 86400)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "events": report.read,
        "counted": report.counted,
        "duplicates": report.duplicates,
        "wall": wall,
        "cpu": cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker_naive(path: Path, var_dir: Path, sample: int, batch: int) -> dict[str, float]:
    setup_django(var_dir)
    from datetime import UTC, datetime

    from django.db import transaction
    from django.db.models import F

    from link_tracking_publisher.clicks.dedupe import event_key
    from link_tracking_publisher.clicks.devices import device_of
    from link_tracking_publisher.clicks.ingest import visitor_number
    from link_tracking_publisher.models import (
        CampaignClickTotals,
        CampaignDayBreakdown,
        CampaignHourClicks,
        ClickEventKey,
        ClickVisitor,
        Link,
        LinkClickTotals,
        LinkDayBreakdown,
        LinkHourClicks,
        MessageClick,
    )

    campaigns = dict(Link.objects.values_list("pk", "campaign_id"))

    def count(model: type, at: datetime, human: bool, scan: bool, **key: object) -> None:
        clicks = "human_clicks" if human else "bot_clicks"
        scans = "human_scans" if human else "bot_scans"
        cell, created = model.objects.get_or_create(  # type: ignore[attr-defined]
            **key,
            defaults={clicks: 1, scans: int(scan), "first_click_at": at, "last_click_at": at},
        )
        if not created:
            model.objects.filter(pk=cell.pk).update(  # type: ignore[attr-defined]
                **{clicks: F(clicks) + 1, scans: F(scans) + int(scan)}, last_click_at=at
            )

    def save(raw: dict[str, object]) -> None:
        _, new = ClickEventKey.objects.get_or_create(
            key=event_key(raw["event_id"]),  # type: ignore[arg-type]
            defaults={"day": int(float(raw["timestamp"]) // 86400)},  # type: ignore[arg-type]
        )
        if not new:
            return
        at = datetime.fromtimestamp(float(raw["timestamp"]), UTC)  # type: ignore[arg-type]
        hour = at.replace(minute=0, second=0, microsecond=0)
        dimensions = {
            "outcome": raw["outcome"],
            "channel": raw["channel"] or "",
            "country": raw["geo_country"] or "",
            "device": device_of(raw["user_agent"]),  # type: ignore[arg-type]
            "variant": raw["ab_variant"] or "",
        }
        human, scan = not raw["is_bot"], raw["channel"] == "qr"
        campaign = campaigns[uuid.UUID(raw["link_id"])]  # type: ignore[arg-type]
        count(LinkHourClicks, at, human, scan, link_id=raw["link_id"], hour=hour)
        count(CampaignHourClicks, at, human, scan, campaign_id=campaign, hour=hour)
        count(LinkClickTotals, at, human, scan, link_id=raw["link_id"])
        count(CampaignClickTotals, at, human, scan, campaign_id=campaign)
        clicks = "human_clicks" if human else "bot_clicks"
        day = hour.replace(hour=0)
        for dimension, value in dimensions.items():
            for model, owner in (
                (LinkDayBreakdown, {"link_id": raw["link_id"]}),
                (CampaignDayBreakdown, {"campaign_id": campaign}),
            ):
                cell, created = model.objects.get_or_create(  # type: ignore[attr-defined]
                    **owner, day=day, dimension=dimension, value=value, defaults={clicks: 1}
                )
                if not created:
                    model.objects.filter(pk=cell.pk).update(  # type: ignore[attr-defined]
                        **{clicks: F(clicks) + 1}
                    )
        if not raw["is_bot"]:
            ClickVisitor.objects.get_or_create(
                link_id=raw["link_id"], hour=hour, visitor=visitor_number(raw["ip_hash"])
            )
        message, created = MessageClick.objects.get_or_create(
            link_id=raw["link_id"], sms_msg_id=raw["sms_msg_id"], defaults={"last_click_at": at}
        )
        field = "bot_clicks" if raw["is_bot"] else "human_clicks"
        MessageClick.objects.filter(pk=message.pk).update(**{field: F(field) + 1}, last_click_at=at)

    wall, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as handle:
        done = 0
        while done < sample:
            with transaction.atomic():
                for _ in range(min(batch, sample - done)):
                    save(json.loads(handle.readline()))
                    done += 1
    return {
        "events": sample,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
    }


def run_worker(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="events the naive loop runs")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL (a fresh database per case on this server, e.g. the URL "
        "scripts/postgres prints) instead of SQLite",
    )
    parser.add_argument(
        "--before",
        metavar="MIGRATION",
        help="also run bulk with link_tracking migrated back to MIGRATION (e.g. 0009), "
        "interleaved with runs on the whole schema, and report the ratio",
    )
    parser.add_argument("--pairs", type=int, default=3, help="runs each way with --before")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, path, var_dir, *rest = args.worker
        if kind == "bulk":
            result = worker_bulk(Path(path), Path(var_dir))
        else:
            result = worker_naive(Path(path), Path(var_dir), int(rest[0]), 5000)
        print(json.dumps(result))
        return 0

    if args.postgres:
        os.environ["INGEST_BENCH_POSTGRES"] = args.postgres
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    full, quarter = work / "events.ndjson", work / "quarter.ndjson"
    print(f"generating {args.events:,} events in {work} …", flush=True)
    generate(full, args.events)
    generate(quarter, args.events // 4)
    small = run_worker("bulk", str(quarter), str(work / "q"))
    bulk = run_worker("bulk", str(full), str(work / "b"))
    naive = run_worker("naive", str(full), str(work / "n"), str(args.sample))
    bulk_rate, bulk_cpu_rate = bulk["events"] / bulk["wall"], bulk["events"] / bulk["cpu"]
    naive_rate, naive_cpu_rate = naive["events"] / naive["wall"], naive["events"] / naive["cpu"]
    print(
        f"bulk:  {bulk['events']:,.0f} events ({bulk['counted']:,.0f} new, "
        f"{bulk['duplicates']:,.0f} duplicates) in {bulk['wall']:.1f} s: "
        f"{bulk_rate:,.0f} events/s wall, {bulk_cpu_rate:,.0f} events/s of CPU"
    )
    print(
        f"naive: {naive['events']:,.0f} events in {naive['wall']:.1f} s: {naive_rate:,.0f} "
        f"events/s wall, {naive_cpu_rate:,.0f} events/s of CPU "
        f"(1M events extrapolated: {1_000_000 / naive_rate / 60:.1f} min)"
    )
    print(
        f"ratio bulk/naive: {bulk_rate / naive_rate:.1f}x wall, {bulk_cpu_rate / naive_cpu_rate:.1f}x CPU"
    )
    print(
        f"peak RSS: {small['peak_rss_mib']:.0f} MiB for {small['events']:,.0f} events, "
        f"{bulk['peak_rss_mib']:.0f} MiB for {bulk['events']:,.0f}"
    )
    if args.before:
        compare_schemas(full, work, args.before, args.pairs)
    return 0


def compare_schemas(path: Path, work: Path, before: str, pairs: int) -> None:
    """Bulk ingestion of ``path`` on the schema as of ``before`` and on the whole schema."""
    import statistics

    rates: dict[str, list[float]] = {"before": [], "now": []}
    for n in range(pairs):
        for name in rates:
            if name == "before":
                os.environ["INGEST_BENCH_MIGRATION"] = before
            result = run_worker("bulk", str(path), str(work / f"{name}{n}"))
            os.environ.pop("INGEST_BENCH_MIGRATION", None)
            rates[name].append(result["events"] / result["cpu"])
    old, new = statistics.median(rates["before"]), statistics.median(rates["now"])
    print(
        f"schema as of {before}: {old:,.0f} events/s of CPU; whole schema: {new:,.0f} "
        f"(medians of {pairs}, interleaved); before/now {old / new:.2f}x"
    )


if __name__ == "__main__":
    raise SystemExit(main())

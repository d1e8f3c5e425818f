"""Publish benchmark: republish N links of one campaign against a moto server process.

Compares, in the same run and against the same server and database, ``bulk_republish_campaign``
(bounded concurrent conditional puts, database work batched) with the naive sequential loop: the
app's own single-link path once per link, ``republish_link`` through the service layer (new
version and outbox row in a transaction) with the publish task run inline on commit (Celery
eager: its outbox bookkeeping, conditional put and completion), exactly what publishing the links
one by one costs without the bulk path. A third mode, **campaign change**, is what an operator's
edit costs end to end: ``update_campaign`` (new template) writes every link's new version and
outbox row in the change's transaction, and on commit the ``publish_outbox`` batches run inline
(Celery eager) through the same bulk path; it also counts the task messages that took.

    python benchmarks/publish_bench.py --links 10000 --repeat 3

Reports links/s per run, the median of each, and the ratio of medians. Not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devsite.processes import local_aws_env, moto_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="default: BULK_PUBLISH_CONCURRENCY"
    )
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    with moto_server(log_path=var_dir / "moto.log") as endpoint:
        os.environ.update(local_aws_env(endpoint))
        os.environ.update(
            LINK_TRACKING_VAR_DIR=str(var_dir),
            DJANGO_SETTINGS_MODULE="devsite.settings",
            LINK_RUNTIME_TABLE_NAME="link-runtime-bench",
            # Per-link INFO lines would make the loop measure terminal I/O, not publishing.
            LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
            # The sequential loop runs the publish task inline, as a worker would run it.
            CELERY_TASK_ALWAYS_EAGER="true",
        )
        import django

        django.setup()
        return run(args)


def run(args: argparse.Namespace) -> int:
    from celery.signals import task_prerun
    from django.core.management import call_command
    from django.utils import timezone

    from devsite.crm.models import Account
    from link_tracking_publisher.dispatch import PUBLISH_OUTBOX
    from link_tracking_publisher.models import Domain, Link, LinkCampaign, PublishOutbox
    from link_tracking_publisher.services import republish_link, update_campaign
    from link_tracking_publisher.services.publisher import LinkPublisher
    from link_tracking_publisher.services.slugs import generate_slug

    call_command("migrate", "--no-input", verbosity=0)
    call_command("setup_dynamodb", stdout=open(os.devnull, "w"))  # noqa: SIM115
    account = Account.objects.create(name="bench")
    domain = Domain.objects.create(
        domain_name="go.example.com", status=Domain.Status.ACTIVE, verified_at=timezone.now()
    )
    campaign = LinkCampaign.objects.create(
        account=account,
        name="bench",
        campaign_id="BENCH",
        utm_template={"utm_campaign": "${campaign_id}", "utm_content": "${slug}"},
    )
    slugs: set[str] = set()
    while len(slugs) < args.links:
        slugs.add(generate_slug())
    Link.objects.bulk_create(
        [
            Link(
                account=account,
                domain=domain,
                campaign=campaign,
                campaign_identifier="BENCH",
                slug_canonical=slug,
                destination_url=f"https://shop.example.com/p/{i}",
                dynamic_param_allowlist=["click_id", "sms_msg_id"],
                runtime_version=1,
            )
            for i, slug in enumerate(sorted(slugs))
        ],
        batch_size=1000,
    )
    publisher = LinkPublisher()
    print(f"{args.links} links in campaign BENCH; moto server at {os.environ['AWS_ENDPOINT_URL']}")

    def sequential() -> float:
        start = time.perf_counter()
        for link in Link.objects.filter(campaign_identifier="BENCH", active=True):
            republish_link(link)  # the publish task runs on commit, inline
        return time.perf_counter() - start

    def bulk() -> float:
        start = time.perf_counter()
        result = publisher.bulk_republish_campaign("BENCH", concurrency=args.concurrency)
        elapsed = time.perf_counter() - start
        if not result.ok or result.written != args.links:
            raise SystemExit(f"bulk republish did not write every link: {result}")
        return elapsed

    messages: list[str] = []
    task_prerun.connect(
        lambda sender, **_: messages.append(sender.name) if sender.name == PUBLISH_OUTBOX else None,
        weak=False,
    )

    def campaign_change() -> float:
        before = PublishOutbox.objects.filter(status="complete").count()
        messages.clear()
        start = time.perf_counter()
        template = {"utm_campaign": "${campaign_id}", "utm_term": f"r{len(rates['bulk'])}{start}"}
        update_campaign(campaign, utm_template=template)
        elapsed = time.perf_counter() - start
        done = PublishOutbox.objects.filter(status="complete").count() - before
        if done != args.links:
            raise SystemExit(f"campaign change published {done} of {args.links} links")
        print(f"  campaign change: {len(messages)} publish_outbox messages for {done} links")
        return elapsed

    rates: dict[str, list[float]] = {"sequential": [], "bulk": [], "campaign change": []}
    for run_no in range(1, args.repeat + 1):
        # Alternate the order so neither mode always runs on a warmer (or bigger) server.
        order = [("sequential", sequential), ("bulk", bulk), ("campaign change", campaign_change)]
        if run_no % 2 == 0:
            order.reverse()
        for name, fn in order:
            seconds = fn()
            rates[name].append(args.links / seconds)
            print(f"run {run_no} {name:<15} {seconds:8.2f} s  {args.links / seconds:8.0f} links/s")
    complete = PublishOutbox.objects.filter(status="complete").count()
    expected = args.links * args.repeat * 3
    print(f"outbox rows complete: {complete} of {expected}")
    seq, blk = statistics.median(rates["sequential"]), statistics.median(rates["bulk"])
    change = statistics.median(rates["campaign change"])
    print(
        f"median links/s: sequential {seq:.0f}, bulk_republish_campaign {blk:.0f}; ratio {blk / seq:.1f}x (target >= 5x)"
    )
    print(f"median links/s: campaign change {change:.0f}; ratio to bulk {change / blk:.2f}x")
    return 0 if complete == expected else 1


if __name__ == "__main__":
    sys.exit(main())

"""Per-message clicks at volume: page numbers (OFFSET) against the cursor, same run, and the
streamed export of a campaign.

    python benchmarks/message_clicks_bench.py            # 300,000 message ids; --messages N
    python benchmarks/message_clicks_bench.py --postgres postgresql://…/postgres

Builds a fresh SQLite database (or a fresh PostgreSQL one) with ``--messages`` message rows
(``MessageClick``, bulk-inserted) over 300 links in 3 campaigns of 1/6, 2/6 and 3/6 of the
rows, then asks ``message-clicks/?campaign=`` of the biggest campaign, through the API's view
with a staff user (DRF request, rendered JSON), for:

* the **first** and the **last** page, with the page numbers the list used before the cursor
  (``LinkTrackingPagination``, ``COUNT(*)`` and ``OFFSET``, ordered by ``sms_msg_id, link``;
  the old view is kept here only) and with the cursor (``?cursor=`` of the last page's
  position, ordered by the ``message_click_unique`` index);
* the export of each campaign, CSV and NDJSON: seconds, rows/s and the peak of Python's
  allocations (``tracemalloc``) while streaming, to show time linear in the rows and memory
  flat.

Medians of ``--repeat`` runs after one warm-up; the ratio offset/cursor. Not a test: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINKS = 300
PAGE_SIZE = 50
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def setup_django(var_dir: Path, postgres: str | None) -> None:
    os.environ.update(
        LINK_TRACKING_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="devsite.settings",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "ERROR"),
    )
    os.environ.pop("DATABASE_URL", None)
    if postgres:
        from benchmarks.ingest_bench import fresh_postgres

        os.environ["DATABASE_URL"] = fresh_postgres(postgres, "message_clicks_bench")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


def generate(messages: int) -> list[Any]:
    """The links, campaigns and ``messages`` message rows; the campaigns, smallest first."""
    from django.db import connection, transaction

    from devsite.crm.models import Account
    from link_tracking_publisher.models import Domain, Link, LinkCampaign, MessageClick

    account = Account.objects.create(name="bench")
    domain = Domain.objects.create(domain_name="go.example.com")
    campaigns = [
        LinkCampaign.objects.create(account=account, name=f"c{i}", campaign_id=f"C{i}")
        for i in range(3)
    ]
    # 50, 100 and 150 links: the campaigns hold 1/6, 2/6 and 3/6 of the rows.
    owners = [campaigns[0]] * 50 + [campaigns[1]] * 100 + [campaigns[2]] * 150
    links = Link.objects.bulk_create(
        Link(
            id=uuid.uuid4(),
            account=account,
            domain=domain,
            campaign=owner,
            slug_canonical=f"S{i}",
            destination_url="https://shop.example.com/",
        )
        for i, owner in enumerate(owners)
    )
    batch = 20_000
    with transaction.atomic():
        for start in range(0, messages, batch):
            MessageClick.objects.bulk_create(
                (
                    MessageClick(
                        link=links[n % LINKS],
                        sms_msg_id=f"{(n * 7919) % messages:09d}",
                        human_clicks=1 + n % 3,
                        bot_clicks=n % 2,
                        first_human_click_at=T0 + timedelta(seconds=n),
                        last_click_at=T0 + timedelta(seconds=n + 60),
                    )
                    for n in range(start, min(start + batch, messages))
                ),
                batch_size=2000,
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return campaigns


def median_ms(call: Any, repeat: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server instead of SQLite")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="message-clicks-bench-"))
    setup_django(work, args.postgres)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIRequestFactory, force_authenticate

    from link_tracking_publisher.api.click_views import MessageClickViewSet
    from link_tracking_publisher.api.pagination import LinkTrackingPagination, encode_cursor
    from link_tracking_publisher.clicks import messages as message_export
    from link_tracking_publisher.models import MessageClick

    class PageNumberMessageClickViewSet(MessageClickViewSet):
        """The list as it was before the cursor: page numbers, COUNT(*) and OFFSET."""

        pagination_class = LinkTrackingPagination
        ordering = ["sms_msg_id", "link"]

    started = time.perf_counter()
    campaigns = generate(args.messages)
    print(
        f"{connection.vendor}: {args.messages:,} message rows over {LINKS} links in "
        f"{time.perf_counter() - started:.1f} s ({work})",
        flush=True,
    )
    staff = get_user_model().objects.create_user("bench", is_staff=True)
    factory = APIRequestFactory()
    biggest = campaigns[-1]
    rows = MessageClick.objects.filter(link__campaign=biggest).count()
    last_page = -(-rows // PAGE_SIZE)

    def ask(viewset: Any, **params: Any) -> Any:
        request = factory.get("/api/link_tracking/message-clicks/", params)
        force_authenticate(request, staff)
        response = viewset.as_view({"get": "list"})(request)
        response.render()
        assert response.status_code == 200, response.content[:300]
        return response

    # The cursor of the last page: the position of the row just before it.
    ordering = ("link_id", "sms_msg_id")
    before_last = (
        MessageClick.objects.filter(link__campaign=biggest)
        .order_by(*ordering)
        .values_list(*ordering)[(last_page - 1) * PAGE_SIZE - 1]
    )
    last_cursor = encode_cursor(ordering, before_last)
    campaign = str(biggest.pk)
    cases = {
        "first page": (
            lambda: ask(PageNumberMessageClickViewSet, campaign=campaign),
            lambda: ask(MessageClickViewSet, campaign=campaign),
        ),
        f"last page (OFFSET {(last_page - 1) * PAGE_SIZE:,})": (
            lambda: ask(PageNumberMessageClickViewSet, campaign=campaign, page=last_page),
            lambda: ask(MessageClickViewSet, campaign=campaign, cursor=last_cursor),
        ),
    }
    last = ask(MessageClickViewSet, campaign=campaign, cursor=last_cursor)
    old_last = ask(PageNumberMessageClickViewSet, campaign=campaign, page=last_page)
    assert last.data["next"] is None and len(last.data["results"]) == len(old_last.data["results"])

    print(f"\nmessage-clicks/?campaign= ({rows:,} rows), median of {args.repeat}, ms:")
    print("| page | page numbers (OFFSET) | cursor | ratio |\n|---|---:|---:|---:|")
    for name, (offset, cursor) in cases.items():
        a, b = median_ms(offset, args.repeat), median_ms(cursor, args.repeat)
        print(f"| {name} | {a:,.1f} | {b:,.1f} | {a / b:,.1f}x |")

    if connection.vendor == "sqlite":
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            ask(MessageClickViewSet, campaign=campaign, cursor=last_cursor)
        sql = next(q["sql"] for q in queries.captured_queries if "messageclick" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = "; ".join(str(row[-1]) for row in cursor.fetchall())
        print(f"\ncursor page's plan: {plan}")

    print("\nexport of each campaign (one run each):")
    print(
        "| campaign rows | format | s | rows/s | peak Python allocations |\n|---:|---|---:|---:|---:|"
    )
    for each in campaigns:
        count = MessageClick.objects.filter(link__campaign=each).count()
        for export_format in ("csv", "ndjson"):

            def lines(each: Any = each, export_format: str = export_format) -> int:
                rows = message_export.campaign_rows(each.pk)
                stream = message_export.stream(rows, export_format)
                return sum(chunk.count(b"\n") for chunk in stream)

            start = time.perf_counter()
            written = lines()
            seconds = time.perf_counter() - start
            assert written == count + (export_format == "csv")
            # Allocations traced apart: tracing slows Python several times over.
            tracemalloc.start()
            lines()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"| {count:,} | {export_format} | {seconds:.2f} | {count / seconds:,.0f} | "
                f"{peak / 2**20:.1f} MiB |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

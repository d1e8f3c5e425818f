"""CSV import benchmark: an import job against the synchronous import of the same file, same run.

    python benchmarks/import_bench.py                  # --rows 2000 --rounds 3 --batch 500

One process, a fresh SQLite database, the Celery broker in memory (a publish is sent per link,
as in production, but to nowhere). Each round runs, in this order, on a fresh domain each:

* **sync**: ``import_links`` over the file, all or nothing, as ``POST links/import/`` does for
  a file of at most ``IMPORT_MAX_ROWS`` rows — the baseline;
* **job**: ``create_import_job`` + ``run_import_job``, all or nothing: every row checked in
  batches (rolled back, progress committed), then written in one transaction;
* **job, per row**: the same in per-row mode: each batch commits its rows and the progress.

Reports the median CPU and wall seconds per 1,000 rows and each job's ratio to sync. Not a
test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(var_dir: Path, **link_tracking: object) -> None:
    """The devsite on a fresh SQLite database in ``var_dir`` (an in-memory broker, quiet logs),
    migrated, with ``link_tracking`` over its LINK_TRACKING settings. The control-plane
    benchmarks that run in process (this one, bounds_bench) start from it."""
    os.environ.update(
        LINK_TRACKING_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="devsite.settings",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "ERROR"),
        CELERY_BROKER_URL="memory://",
    )
    os.environ.pop("DATABASE_URL", None)
    import django
    from django.conf import settings

    django.setup()
    settings.LINK_TRACKING = {**getattr(settings, "LINK_TRACKING", {}), **link_tracking}
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


def csv_file(rows: int) -> bytes:
    lines = ["destination_url,keyword,channel"]
    lines += [f"https://shop.example.com/p/{n}?ref=bench,K{n},sms" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def measure(run: Callable[[], Any]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        setup_django(
            Path(tmp),
            IMPORT_MAX_ROWS=args.rows,
            IMPORT_ASYNC_MAX_ROWS=args.rows,
            IMPORT_BATCH_SIZE=args.batch,
        )
        from devsite.crm.models import Account
        from link_tracking_publisher.models import Domain, Link, LinkImport
        from link_tracking_publisher.services.import_jobs import create_import_job, run_import_job
        from link_tracking_publisher.services.link_import import import_links

        data = csv_file(args.rows)
        account = Account.objects.create(name="bench")
        counter = iter(range(10**6))

        def domain() -> Domain:
            return Domain.objects.create(
                domain_name=f"d{next(counter)}.example.com", account=account
            )

        def sync() -> None:
            result = import_links(data, account=account, domain=domain(), max_rows=args.rows)
            assert len(result.links) == args.rows, result.errors[:3]

        def job(per_row: bool) -> Callable[[], None]:
            def run() -> None:
                created = create_import_job(
                    data,
                    file_name="bench.csv",
                    account=account,
                    rows=args.rows,
                    domain=domain(),
                    per_row=per_row,
                )
                assert run_import_job(created.pk) == LinkImport.Status.SUCCEEDED

            return run

        cases = {"sync": sync, "job": job(False), "job, per row": job(True)}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, run in cases.items():
                results[name].append(measure(run))
        assert Link.objects.count() == args.rows * args.rounds * len(cases)

    per_k = 1000 / args.rows
    base_cpu = statistics.median(c for c, _ in results["sync"])
    print(f"{args.rows} rows, batches of {args.batch}, {args.rounds} rounds (medians)")
    print(f"{'case':<14}{'CPU s/1k rows':>15}{'wall s/1k rows':>16}{'CPU vs sync':>13}")
    for name, samples in results.items():
        cpu = statistics.median(c for c, _ in samples)
        wall = statistics.median(w for _, w in samples)
        print(f"{name:<14}{cpu * per_k:>15.3f}{wall * per_k:>16.3f}{cpu / base_cpu:>12.2f}x")


if __name__ == "__main__":
    main()

"""Input bounds benchmark: the CPU time of each refusal at ten times its bound.

    python benchmarks/bounds_bench.py                  # --rounds 5

One process, a fresh SQLite database, requests through Django's test client (the whole
middleware, DRF and admin stack, no server). For each bound, a request at ten times it is
sent ``--rounds`` times; the table shows the answer's status and size and the median CPU time
(``time.process_time``) of the request. The target is under 100 ms each. The first row is the
security review's header (a column name repeated 50,000 times), which held a worker for 30 s
before the header was bounded. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import import_bench  # noqa: E402

API = "/api/link_tracking"


def setup_django(var_dir: Path) -> None:
    # Every round is sent by one user: the throttles would answer 429 instead.
    import_bench.setup_django(var_dir, API_WRITE_THROTTLE_RATE=None, API_BULK_THROTTLE_RATE=None)
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    # Every answer here is a 400, which Django logs as a warning each time.
    logging.getLogger("django.request").setLevel(logging.ERROR)


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return {"applinks": {"details": value}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bounds-bench-") as tmp:
        setup_django(Path(tmp))
        from django.contrib.auth import get_user_model
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.test import Client
        from rest_framework.test import APIClient

        from devsite.crm.models import Account
        from link_tracking_publisher.conf import app_settings
        from link_tracking_publisher.models import Domain
        from link_tracking_publisher.services.link_import import (
            IMPORT_MAX_COLUMNS,
            IMPORT_MAX_HEADER_BYTES,
            IMPORT_MAX_REPORTED_ERRORS,
        )
        from link_tracking_runtime.applinks import DOCUMENT_MAX_DEPTH, DOCUMENT_MAX_NODES
        from link_tracking_runtime.routing import MAX_LANGUAGES, MAX_VARIANTS

        user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
        account = Account.objects.create(name="Bench")
        domain = Domain.objects.create(domain_name="bench.example.com", account=account)
        api = APIClient()
        api.force_authenticate(user)
        admin = Client()
        admin.force_login(user)

        def csv_import(content: str) -> Callable[[], Any]:
            def send() -> Any:
                upload = SimpleUploadedFile("links.csv", content.encode(), "text/csv")
                body = {"file": upload, "account": account.pk, "domain": str(domain.pk)}
                return api.post(f"{API}/links/import/", body, format="multipart")

            return send

        def admin_import(content: str) -> Callable[[], Any]:
            def send() -> Any:
                upload = SimpleUploadedFile("links.csv", content.encode(), "text/csv")
                body = {"file": upload, "account": account.pk, "domain": domain.pk}
                return admin.post("/admin/link_tracking/link/import/", body)

            return send

        def patch_domain(document: Any) -> Callable[[], Any]:
            text = json.dumps({"apple_app_site_association": document})

            def send() -> Any:
                url = f"{API}/domains/{domain.pk}/"
                return api.patch(url, text, content_type="application/json")

            return send

        def post_json(path: str, body: dict[str, Any]) -> Callable[[], Any]:
            text = json.dumps(body)
            return lambda: api.post(f"{API}/{path}", text, content_type="application/json")

        link = {"account": account.pk, "domain": str(domain.pk)}
        link["destination_url"] = "https://shop.example.com/"
        variants = [
            {"name": f"v{n}", "url": f"https://shop.example.com/{n}"}
            for n in range(10 * MAX_VARIANTS)
        ]
        # Distinct two-letter language tags (676 of them), ten times the bound.
        letters = "abcdefghijklmnopqrstuvwxyz"
        tags = [a + b for a in letters for b in letters][: 10 * MAX_LANGUAGES]
        languages = {tag: f"https://shop.example.com/{tag}" for tag in tags}
        bulk_max = app_settings.BULK_CREATE_MAX_LINKS
        wide = ",".join(["destination_url"] + [f"c{n}" for n in range(10 * IMPORT_MAX_COLUMNS)])
        long_name = "destination_url," + "k" * (10 * IMPORT_MAX_HEADER_BYTES)
        bad_rows = "".join("https://e.com/,x,y\n" for _ in range(10 * IMPORT_MAX_REPORTED_ERRORS))
        cases: list[tuple[str, str, str, Callable[[], Any]]] = [
            (
                "CSV header, review's file",
                f"{IMPORT_MAX_COLUMNS} columns",
                "50,000 x destination_url",
                csv_import(",".join(["destination_url"] * 50_000) + "\n"),
            ),
            (
                "CSV header columns (API)",
                f"{IMPORT_MAX_COLUMNS} columns",
                f"{10 * IMPORT_MAX_COLUMNS + 1} columns",
                csv_import(wide + "\n"),
            ),
            (
                "CSV header columns (admin)",
                f"{IMPORT_MAX_COLUMNS} columns",
                f"{10 * IMPORT_MAX_COLUMNS + 1} columns",
                admin_import(wide + "\n"),
            ),
            (
                "CSV header bytes",
                f"{IMPORT_MAX_HEADER_BYTES} bytes",
                f"{len(long_name)} bytes",
                csv_import(long_name + "\n"),
            ),
            (
                "CSV problems reported",
                f"{IMPORT_MAX_REPORTED_ERRORS} problems",
                f"{10 * IMPORT_MAX_REPORTED_ERRORS} bad rows",
                csv_import("destination_url,slug\n" + bad_rows),
            ),
            (
                "app-link document depth",
                f"{DOCUMENT_MAX_DEPTH} levels",
                f"{10 * DOCUMENT_MAX_DEPTH} levels",
                patch_domain(nested(10 * DOCUMENT_MAX_DEPTH)),
            ),
            (
                "app-link document values",
                f"{DOCUMENT_MAX_NODES} values",
                f"{10 * DOCUMENT_MAX_NODES} values",
                patch_domain({"applinks": {"details": ["/p"] * (10 * DOCUMENT_MAX_NODES)}}),
            ),
            (
                "routing ab_test variants",
                f"{MAX_VARIANTS} variants",
                f"{10 * MAX_VARIANTS} variants",
                post_json(
                    "links/", {**link, "routing_rules": {"type": "ab_test", "variants": variants}}
                ),
            ),
            (
                "routing language tags",
                f"{MAX_LANGUAGES} tags",
                f"{10 * MAX_LANGUAGES} tags",
                post_json("links/", {**link, "routing_rules": {"type": "language", **languages}}),
            ),
            (
                "bulk create keywords",
                f"{bulk_max} keywords",
                f"{10 * bulk_max} keywords",
                post_json(
                    "links/bulk/", {**link, "keywords": [f"K{n}" for n in range(10 * bulk_max)]}
                ),
            ),
        ]
        rows = []
        for name, bound, sent, send in cases:
            times, status, size = [], 0, 0
            for _ in range(args.rounds):
                start = time.process_time()
                response = send()
                times.append(time.process_time() - start)
                status, size = response.status_code, len(response.content)
            rows.append((name, bound, sent, status, size, statistics.median(times) * 1000))
        print(f"{args.rounds} rounds each; CPU = median time.process_time() of one request")
        print()
        print("| bound | limit | sent | status | body bytes | CPU ms |")
        print("|---|---|---|---|---|---|")
        for name, bound, sent, status, size, cpu in rows:
            print(f"| {name} | {bound} | {sent} | {status} | {size} | {cpu:.1f} |")


if __name__ == "__main__":
    main()

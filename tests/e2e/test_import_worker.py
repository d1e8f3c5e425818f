"""End to end: a CSV import job stored by one process, run by a real Celery worker process
through the filesystem broker, its links published to DynamoDB (moto server)."""

from __future__ import annotations

import json
import time

import pytest

from devsite.stack import LocalStack
from link_tracking_runtime import from_item, item_key

pytestmark = pytest.mark.e2e

ROWS = 7


def _shell(stack: LocalStack, code: str) -> str:
    return stack.manage("shell", "-v", "0", "-c", code).stdout.strip().splitlines()[-1]


def test_the_worker_runs_an_import_job_to_its_end(stack: LocalStack) -> None:
    demo = json.loads(
        stack.manage("seed_demo", "--domain", "go.example.com").stdout.splitlines()[-1]
    )
    rows = "".join(f"IMP{n},https://shop.example.com/{n}\n" for n in range(ROWS))
    data = ("slug,destination_url\n" + rows).encode()
    # Stored and sent after commit, as the API does, before any worker runs.
    code = f"""
from django.db import transaction
from link_tracking_publisher.models import Link
from link_tracking_publisher.services.import_jobs import create_import_job
from link_tracking_publisher.tasks.import_tasks import enqueue_link_import
link = Link.objects.get(pk="{demo["link_id"]}")
with transaction.atomic():
    job = create_import_job(
        {data!r}, file_name="e2e.csv", account=link.account, rows={ROWS}, domain=link.domain
    )
    enqueue_link_import(job.pk)
print(job.pk)
"""
    job_id = _shell(stack, code)
    stack.start_worker()
    deadline = time.monotonic() + 60
    while True:
        job = json.loads(
            _shell(
                stack,
                "import json; from link_tracking_publisher.models import LinkImport;"
                f"j = LinkImport.objects.get(pk='{job_id}');"
                "print(json.dumps([j.status, j.rows_done, j.created_count, j.attempts]))",
            )
        )
        if job[0] in ("succeeded", "failed", "partial") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job == ["succeeded", ROWS, ROWS, 1]
    record = from_item(stack.wait_for_item(item_key("go.example.com", f"IMP{ROWS - 1}")))
    assert record.destination_url == f"https://shop.example.com/{ROWS - 1}"

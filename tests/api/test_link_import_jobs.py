"""CSV import jobs: a file longer than IMPORT_MAX_ROWS is stored, answered 202 with the job's
URL, and imported by the task through the same import service, batch by batch; all or nothing
across batches, per-row errors, account isolation, and a job whose worker died resumed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link, LinkImport, PublishOutbox
from link_tracking_publisher.schedule import BEAT_SCHEDULE
from link_tracking_publisher.services import import_jobs, link_import
from link_tracking_publisher.tasks import import_tasks, publish_link_task
from link_tracking_publisher.tasks.import_tasks import (
    cleanup_link_imports,
    resume_link_imports,
    run_link_import_task,
)

from .conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_limits(settings: Any) -> None:
    """Jobs from the 4th row on, batches of 2 rows, at most 20 rows a job."""
    settings.LINK_TRACKING = {
        **getattr(settings, "LINK_TRACKING", {}),
        "IMPORT_MAX_ROWS": 3,
        "IMPORT_ASYNC_MAX_ROWS": 20,
        "IMPORT_BATCH_SIZE": 2,
    }


@pytest.fixture
def sent() -> Iterator[mock.MagicMock]:
    """Import jobs sent to the broker, captured (the tests run the task themselves)."""
    with mock.patch.object(run_link_import_task, "delay") as delay:
        yield delay


@pytest.fixture
def published() -> Iterator[mock.MagicMock]:
    """Publishes sent to the broker (after commit), captured."""
    with mock.patch.object(publish_link_task, "delay") as delay:
        yield delay


@pytest.fixture
def upload(
    alice_client: APIClient,
    account_a: Any,
    domain_a: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
    sent: mock.MagicMock,
    published: mock.MagicMock,
) -> Callable[..., Any]:
    def post(content: str, client: APIClient = alice_client, **fields: Any) -> Any:
        upload = SimpleUploadedFile("big.csv", content.encode(), content_type="text/csv")
        body = {"file": upload, "account": account_a.pk, "domain": str(domain_a.pk), **fields}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"{API}/links/import/", body, format="multipart")

    return post


def _rows(count: int, bad: dict[int, str] | None = None, prefix: str = "s") -> str:
    """A file of ``count`` data rows (file rows 2..count+1), slugs ``<prefix><row>``; ``bad``
    replaces destinations."""
    lines = ["slug,destination_url"]
    for row in range(2, count + 2):
        destination = (bad or {}).get(row, f"https://shop.example.com/{row}")
        lines.append(f"{prefix}{row},{destination}")
    return "\n".join(lines) + "\n"


def _stale(job: LinkImport) -> None:
    """As if the job's worker had died long ago."""
    past = timezone.now() - timedelta(hours=1)
    LinkImport.objects.filter(pk=job.pk).update(heartbeat_at=past, created_at=past)


class WorkerDied(BaseException):
    """A worker killed mid-job: nothing catches it, as nothing catches SIGKILL."""


def _die_at_row(row: int, *, attempt: int = 1) -> Any:
    """The worker dies the ``attempt``-th time it makes the link of file row ``row``."""
    real = link_import.create_link
    calls = {"count": 0}

    def create_link(**fields: Any) -> Any:
        if fields.get("slug") == f"s{row}":
            calls["count"] += 1
            if calls["count"] == attempt:
                raise WorkerDied
        return real(**fields)

    return mock.patch.object(link_import, "create_link", side_effect=create_link)


def test_a_long_file_becomes_a_job_polled_to_its_end(
    upload: Any,
    alice_client: APIClient,
    account_a: Any,
    sent: mock.MagicMock,
    published: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    response = upload(_rows(5), reason="spring list")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["rows_total"], body["rows_done"]) == ("pending", 5, 0)
    assert body["mode"] == "all_or_nothing" and body["file_name"] == "big.csv"
    assert response["Location"] == f"http://testserver{API}/link-imports/{body['id']}/"
    sent.assert_called_once_with(body["id"])  # after commit
    assert not Link.objects.exists()
    job = LinkImport.objects.get(pk=body["id"])
    assert bytes(job.content) == _rows(5).encode()  # the file is kept with the job

    with django_capture_on_commit_callbacks(execute=True):
        assert run_link_import_task(body["id"]) == "succeeded"
    polled = alice_client.get(response["Location"]).json()
    assert polled["status"] == "succeeded"
    assert (polled["rows_checked"], polled["rows_done"], polled["created_count"]) == (5, 5, 5)
    assert polled["errors"] == [] and polled["finished_at"]
    links = Link.objects.filter(account=account_a)
    assert sorted(links.values_list("slug_original", flat=True)) == ["s2", "s3", "s4", "s5", "s6"]
    assert {v.change_reason for link in links for v in link.versions.all()} == {"spring list"}
    # One publish per link, after the commit; none for the check's rolled-back batches.
    assert PublishOutbox.objects.count() == 5 and published.call_count == 5
    assert run_link_import_task(body["id"]) == "not_claimed"  # a second delivery: nothing
    assert Link.objects.count() == 5


def test_a_short_file_is_still_answered_at_once(upload: Any, sent: mock.MagicMock) -> None:
    response = upload(_rows(3))
    assert response.status_code == 201 and response.json()["created"] == 3
    assert not sent.called and not LinkImport.objects.exists()


def test_a_file_that_cannot_be_read_is_refused_at_once(upload: Any) -> None:
    response = upload("url\n" + "https://e.com/\n" * 5)
    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(1, None)]
    assert not LinkImport.objects.exists()


def test_progress_is_committed_batch_by_batch(upload: Any) -> None:
    job_id = upload(_rows(5)).json()["id"]
    seen: list[tuple[str, int, int]] = []
    real = link_import.create_link

    def create_link(**fields: Any) -> Any:
        job = LinkImport.objects.get(pk=job_id)
        seen.append((fields["slug"], job.rows_checked, job.rows_done))
        return real(**fields)

    with mock.patch.object(link_import, "create_link", side_effect=create_link):
        run_link_import_task(job_id)
    # First the check (batches of 2, rolled back, progress committed after each), then the
    # writing in one transaction.
    assert seen == [
        ("s2", 0, 0),
        ("s3", 0, 0),
        ("s4", 2, 0),
        ("s5", 2, 0),
        ("s6", 4, 0),
        *[(f"s{row}", 5, 0) for row in range(2, 7)],
    ]


def test_all_or_nothing_across_batches(upload: Any, alice_client: APIClient) -> None:
    job_id = upload(_rows(5, bad={6: "javascript:alert(1)"})).json()["id"]
    assert run_link_import_task(job_id) == "failed"
    job = alice_client.get(f"{API}/link-imports/{job_id}/").json()
    assert (job["status"], job["rows_checked"], job["rows_done"]) == ("failed", 5, 0)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(6, "destination_url")]
    assert (job["created_count"], job["failed_count"], job["error_count"]) == (0, 1, 1)
    assert not Link.objects.exists() and not PublishOutbox.objects.exists()


def test_a_row_failing_only_when_written_leaves_nothing_written(upload: Any) -> None:
    job_id = upload(_rows(5)).json()["id"]
    real = link_import.create_link
    calls = {"s5": 0}

    def create_link(**fields: Any) -> Any:
        if fields["slug"] == "s5":
            calls["s5"] += 1
            if calls["s5"] == 2:  # taken by someone else between the check and the writing
                from django.core.exceptions import ValidationError

                raise ValidationError({"slug": ["This slug is taken on this domain."]})
        return real(**fields)

    with mock.patch.object(link_import, "create_link", side_effect=create_link):
        assert run_link_import_task(job_id) == "failed"
    job = LinkImport.objects.get(pk=job_id)
    assert [(e["row"], e["column"]) for e in job.errors] == [(5, "slug")]
    assert job.rows_done == 0 and not Link.objects.exists()


def test_per_row_errors_are_kept_bounded(
    upload: Any, alice_client: APIClient, settings: Any
) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "IMPORT_JOB_MAX_ERRORS": 1}
    content = _rows(5, bad={3: "javascript:alert(1)", 6: "ftp://e.com/"})
    job_id = upload(content, mode="per_row").json()["id"]
    assert run_link_import_task(job_id) == "partial"
    job = alice_client.get(f"{API}/link-imports/{job_id}/").json()
    assert (job["rows_done"], job["created_count"], job["failed_count"]) == (5, 3, 2)
    assert job["error_count"] == 2
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "destination_url")]
    assert sorted(Link.objects.values_list("slug_original", flat=True)) == ["s2", "s4", "s5"]


def test_a_dry_run_job_writes_nothing(upload: Any) -> None:
    job_id = upload(_rows(5), dry_run="true").json()["id"]
    assert run_link_import_task(job_id) == "succeeded"
    job = LinkImport.objects.get(pk=job_id)
    assert (job.dry_run, job.rows_checked, job.rows_done, job.created_count) == (True, 5, 0, 0)
    assert not Link.objects.exists()


@pytest.mark.parametrize("mode", ["all_or_nothing", "per_row"])
def test_a_job_whose_worker_died_is_resumed_never_half_applied(
    upload: Any, sent: mock.MagicMock, mode: str
) -> None:
    job = LinkImport.objects.get(pk=upload(_rows(5), mode=mode).json()["id"])
    # All or nothing: the check passes (the 1st time row 5 is made), the writing dies at
    # row 5, its 2nd batch; per row: the 2nd batch dies.
    with _die_at_row(5, attempt=2 if mode == "all_or_nothing" else 1):
        with pytest.raises(WorkerDied):
            run_link_import_task(str(job.pk))
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1
    if mode == "per_row":
        assert job.rows_done == 2 and Link.objects.count() == 2  # the first batch committed
    else:
        assert job.rows_checked == 5 and job.rows_done == 0 and not Link.objects.exists()
    sent.reset_mock()
    assert resume_link_imports() == []  # its worker may still be alive
    assert run_link_import_task(str(job.pk)) == "not_claimed"  # nor a redelivery
    _stale(job)
    assert resume_link_imports() == [str(job.pk)]
    sent.assert_called_once_with(str(job.pk))
    assert run_link_import_task(str(job.pk)) == "succeeded"
    job.refresh_from_db()
    assert (job.attempts, job.rows_done, job.created_count) == (2, 5, 5)
    assert sorted(Link.objects.values_list("slug_original", flat=True)) == [
        "s2",
        "s3",
        "s4",
        "s5",
        "s6",
    ]


def test_an_attempt_taken_over_writes_nothing_more(upload: Any) -> None:
    job = LinkImport.objects.get(pk=upload(_rows(5)).json()["id"])
    real = import_jobs._add_errors
    batches = {"count": 0}

    def add_errors(job_now: LinkImport, errors: Any) -> None:
        batches["count"] += 1
        if batches["count"] == 2:  # meanwhile the sweeper found the job stuck and restarted it
            _stale(job)
            assert import_jobs.claim_import_job(job.pk) is not None
        real(job_now, errors)

    with mock.patch.object(import_jobs, "_add_errors", side_effect=add_errors):
        assert run_link_import_task(str(job.pk)) == "taken_over"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_checked) == ("running", 2, 0)
    assert not Link.objects.exists()  # the old attempt stopped before writing
    assert run_link_import_task(str(job.pk)) == "not_claimed"  # the new attempt owns it


def test_a_job_that_keeps_dying_is_failed(upload: Any, settings: Any) -> None:
    job = LinkImport.objects.get(pk=upload(_rows(5)).json()["id"])
    LinkImport.objects.filter(pk=job.pk).update(status="running", attempts=5)
    _stale(job)
    assert resume_link_imports() == []
    job.refresh_from_db()
    assert job.status == "failed" and "IMPORT_JOB_MAX_ATTEMPTS" in job.errors[0]["message"]


def test_an_unexpected_error_fails_the_job(upload: Any) -> None:
    job_id = upload(_rows(5)).json()["id"]
    with mock.patch.object(link_import, "create_link", side_effect=RuntimeError("boom")):
        assert run_link_import_task(job_id) == "failed"
    job = LinkImport.objects.get(pk=job_id)
    assert job.status == "failed" and "RuntimeError: boom" in job.errors[-1]["message"]
    assert not Link.objects.exists()


def test_a_broker_that_is_down_leaves_the_job_for_the_sweeper(
    upload: Any, sent: mock.MagicMock
) -> None:
    sent.side_effect = ConnectionError("broker down")
    response = upload(_rows(5))
    assert response.status_code == 202  # the file and the job are stored all the same
    job = LinkImport.objects.get(pk=response.json()["id"])
    sent.side_effect = None
    _stale(job)
    assert resume_link_imports() == [str(job.pk)]


def test_finished_jobs_are_deleted_after_the_retention(upload: Any) -> None:
    old, recent, running = (
        LinkImport.objects.get(pk=upload(_rows(5, prefix=prefix)).json()["id"])
        for prefix in ("a", "b", "c")
    )
    for job in (old, recent):
        assert run_link_import_task(str(job.pk)) == "succeeded"
    long_ago = timezone.now() - timedelta(days=31)
    LinkImport.objects.filter(pk__in=[old.pk, running.pk]).update(finished_at=long_ago)
    LinkImport.objects.filter(pk=running.pk).update(status="running")
    links = Link.objects.count()
    assert cleanup_link_imports() == 1
    assert set(LinkImport.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert Link.objects.count() == links == 10  # the links stay


def test_the_sweepers_are_on_the_beat_schedule() -> None:
    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {resume_link_imports.name, cleanup_link_imports.name} <= tasks
    assert import_tasks.run_link_import_task.name == "link_tracking.run_link_import"


def test_jobs_are_scoped_by_account(
    upload: Any, alice_client: APIClient, bob_client: APIClient
) -> None:
    job_id = upload(_rows(5)).json()["id"]
    assert bob_client.get(f"{API}/link-imports/{job_id}/").status_code == 404
    assert bob_client.get(f"{API}/link-imports/").json()["results"] == []
    listed = alice_client.get(f"{API}/link-imports/", {"status": "pending"}).json()["results"]
    assert [job["id"] for job in listed] == [job_id]
    assert "content" not in listed[0]
    # Into another account's name: the account is not a choice (as for a synchronous import).
    response = upload(_rows(5), client=bob_client)
    assert response.status_code == 400 and "account" in response.json()
    assert LinkImport.objects.count() == 1


def test_an_import_job_needs_the_permission_to_add_links(
    upload: Any, make_user: Callable[..., Any], client_for: Any, account_a: Any
) -> None:
    reader = make_user("reader", accounts=(account_a,), perms=False)
    response = upload(_rows(5), client=client_for(reader))
    assert response.status_code == 403 and not LinkImport.objects.exists()
    assert APIClient().get(f"{API}/link-imports/").status_code in (401, 403)


def test_jobs_are_read_only(upload: Any, alice_client: APIClient) -> None:
    job_id = upload(_rows(5)).json()["id"]
    url = f"{API}/link-imports/{job_id}/"
    assert alice_client.delete(url).status_code == 405
    assert alice_client.patch(url, {"status": "succeeded"}, format="json").status_code == 405
    assert alice_client.post(f"{API}/link-imports/", {}, format="json").status_code == 405

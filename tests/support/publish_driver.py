"""The control plane's side of the end-to-end fault tests, run inside ``manage.py shell`` of a
:class:`devsite.stack.LocalStack` (the stack's database, broker and DynamoDB endpoint).

Each function is one whole scenario step in one process (Django starts once, not per change),
changes links through the service layer exactly as the app does (a new version, its outbox row,
the publish enqueued on commit), and prints one JSON line for the test to check. Waits poll
with deadlines and raise on a FAILED outbox row or on time running out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.utils import timezone

from devsite.crm.models import Account
from link_tracking_publisher.aws import runtime_table
from link_tracking_publisher.models import Domain, Link, PublishOutbox
from link_tracking_publisher.outbox import idempotency_key
from link_tracking_publisher.services.links import create_link, update_link
from link_tracking_publisher.tasks import publish_link_task, retry_pending_outbox
from link_tracking_runtime import item_key

DOMAIN = "go.example.com"
DESTINATION = "https://www.example.com/"


def _emit(value: Any) -> None:
    print(json.dumps(value, sort_keys=True))


def _until(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.05)


def _wait_complete(keys: Iterable[str], timeout: float) -> None:
    """Until every outbox row of ``keys`` is COMPLETE; a FAILED one is an error at once."""
    wanted = set(keys)

    def done() -> bool:
        rows = dict(
            PublishOutbox.objects.filter(idempotency_key__in=wanted).values_list(
                "idempotency_key", "status"
            )
        )
        failed = sorted(k for k, status in rows.items() if status == PublishOutbox.Status.FAILED)
        if failed:
            raise AssertionError(f"outbox rows failed: {failed}")
        return len(rows) == len(wanted) and all(
            status == PublishOutbox.Status.COMPLETE for status in rows.values()
        )

    _until(f"outbox rows {sorted(wanted)} complete", done, timeout)


def _links(ids: Iterable[str]) -> list[Link]:
    return list(Link.objects.filter(pk__in=list(ids)).select_related("domain").order_by("pk"))


def _state(ids: Iterable[str]) -> list[dict[str, Any]]:
    """Each link as the database has it, with its outbox rows (version, status, result)."""
    return [
        {
            "link_id": str(link.pk),
            "key": item_key(link.domain.domain_name, link.slug_canonical),
            "runtime_version": link.runtime_version,
            "destination_url": link.destination_url,
            "outbox": [
                list(row)
                for row in PublishOutbox.objects.filter(link=link)
                .order_by("runtime_version", "pk")
                .values_list("runtime_version", "status", "result")
            ],
        }
        for link in _links(ids)
    ]


def _new_links(count: int) -> list[Link]:
    account, _ = Account.objects.get_or_create(name="Fault tests")
    domain, _ = Domain.objects.get_or_create(
        domain_name=DOMAIN,
        defaults={
            "purpose": Domain.Purpose.SMS,
            "status": Domain.Status.ACTIVE,
            "verified_at": timezone.now(),
        },
    )
    return [
        create_link(account=account, domain=domain, destination_url=f"{DESTINATION}v1")
        for _ in range(count)
    ]


def create_links(count: int) -> None:
    """Create ``count`` links (version 1 each) and print their ids; waits for nothing."""
    _emit([str(link.pk) for link in _new_links(count)])


def change_in_rounds(links: int, rounds: int, timeout: float = 30) -> None:
    """Create ``links`` links, then change every one of them ``rounds - 1`` times; each round's
    versions are all published (outbox rows COMPLETE) before the next round changes anything,
    so every version is delivered, and fails or succeeds, on its own. Prints :func:`_state`."""
    ids = [str(link.pk) for link in _new_links(links)]
    _wait_complete((f"{pk}:1" for pk in ids), timeout)
    for round_ in range(2, rounds + 1):
        keys = [
            idempotency_key(
                update_link(
                    Link.objects.get(pk=pk),
                    destination_url=f"{DESTINATION}v{round_}",
                    reason="fault test",
                )
            )
            for pk in ids
        ]
        _wait_complete(keys, timeout)
    _emit(_state(ids))


def state(ids: list[str]) -> None:
    _emit(_state(ids))


def sweep(expected: int, timeout: float = 30) -> None:
    """Run the outbox sweeper (``retry_pending_outbox``) until it has re-enqueued ``expected``
    rows in all (rows qualify once older than ``OUTBOX_STUCK_AFTER_SECONDS``); prints the
    total."""
    total = 0

    def enough() -> bool:
        nonlocal total
        total += retry_pending_outbox()
        return total >= expected

    _until(f"{expected} stuck rows re-enqueued", enough, timeout)
    _emit({"reenqueued": total})


def wait_all_complete(ids: list[str], timeout: float = 30) -> None:
    """Until every outbox row of the links is COMPLETE; prints :func:`_state`."""
    keys = PublishOutbox.objects.filter(link_id__in=ids).values_list("idempotency_key", flat=True)
    _wait_complete(list(keys), timeout)
    _emit(_state(ids))


def wait_idle(ids: list[str], stuck: int, broker_dir: str, timeout: float = 30) -> None:
    """Until the broker holds no message (``*.msg`` in ``broker_dir``) and all but ``stuck``
    outbox rows of the links are COMPLETE: nothing is left to deliver, and those rows wait
    for the sweeper. Prints :func:`_state` of the links with such rows."""
    folder = Path(broker_dir)
    rows = PublishOutbox.objects.filter(link_id__in=ids)

    def idle() -> bool:
        waiting = rows.exclude(status=PublishOutbox.Status.COMPLETE).count()
        return waiting == stuck and not any(folder.glob("*.msg"))

    _until(f"{stuck} rows left and an empty broker", idle, timeout)
    waiting = rows.exclude(status=PublishOutbox.Status.COMPLETE).values_list("link_id", flat=True)
    _emit(_state([str(pk) for pk in waiting]))


def _stored(table: Any, key: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
    return item


def stale_rounds(link_id: str, rounds: int, hold_dir: str, timeout: float = 30) -> None:
    """Deliver an old version after a newer one, ``rounds`` times, with two workers running
    ``tests.support.fault_worker`` on ``hold_dir``.

    Each round: ask for a hold; change the link (version N); one worker picks N up, builds its
    record and is held before its put; change the link again (N+1), which the other worker
    publishes; release the held put. Prints per round the held version, the result on its
    outbox row, and the version and destination stored afterwards.
    """
    folder = Path(hold_dir)
    table = runtime_table()
    link = Link.objects.select_related("domain").get(pk=link_id)
    key = item_key(link.domain.domain_name, link.slug_canonical)
    report = []
    for round_ in range(rounds):
        (folder / "hold").touch()
        old = update_link(link, destination_url=f"{DESTINATION}old-{round_}", reason="fault test")
        held = folder / f"held-{old.runtime_version}"
        _until(f"v{old.runtime_version} held", held.exists, timeout)
        new = update_link(link, destination_url=f"{DESTINATION}new-{round_}", reason="fault test")
        newer = new.runtime_version
        _until(
            f"v{newer} stored",
            lambda v=newer: int(_stored(table, key).get("runtime_version", 0)) >= v,
            timeout,
        )
        (folder / "release").touch()
        _wait_complete([idempotency_key(old), idempotency_key(new)], timeout)
        (folder / "release").unlink()
        held.unlink()
        stored = _stored(table, key)
        rows = dict(
            PublishOutbox.objects.filter(link=link).values_list("runtime_version", "result")
        )
        report.append(
            {
                "held": old.runtime_version,
                "held_result": rows[old.runtime_version],
                "newer": new.runtime_version,
                "newer_result": rows[new.runtime_version],
                "stored_version": int(stored["runtime_version"]),
                "stored_destination": stored["destination_url"],
            }
        )
        link = new
    _emit(report)


def change_repeatedly(link_id: str, changes: int, tag: str) -> None:
    """Change the link ``changes`` times back to back (another process may be changing it
    too); prints the versions this process made."""
    made = [
        update_link(
            Link.objects.get(pk=link_id),
            destination_url=f"{DESTINATION}{tag}-{change}",
            reason="fault test",
        ).runtime_version
        for change in range(1, changes + 1)
    ]
    _emit(made)


def rapid_changes(link_id: str, changes: int, redeliver_every: int, timeout: float = 60) -> None:
    """Change the link ``changes`` times back to back (the workers publish while it changes),
    and after every ``redeliver_every``-th change send the publish of an older version's outbox
    row again (a duplicate, late delivery). Waits until every row of the link is COMPLETE and
    prints :func:`_state` with how many redeliveries were sent."""
    link = Link.objects.get(pk=link_id)
    redelivered = 0
    for change in range(1, changes + 1):
        link = update_link(
            link, destination_url=f"{DESTINATION}rapid-{change}", reason="fault test"
        )
        if change % redeliver_every == 0:
            old = PublishOutbox.objects.get(
                link=link, runtime_version=link.runtime_version - redeliver_every
            )
            publish_link_task.delay(link_id, old.pk)
            redelivered += 1
    keys = PublishOutbox.objects.filter(link=link).values_list("idempotency_key", flat=True)
    _wait_complete(list(keys), timeout)
    _emit({"redelivered": redelivered, "links": _state([link_id])})

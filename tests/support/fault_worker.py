"""A real Celery worker (``celery -A devsite worker …``) with faults injected around the
publisher's conditional put, for the end-to-end fault tests. Nothing here is in the product:
the worker patches :class:`LinkPublisher` in its own process before Celery starts, and the
prefork children inherit the patch.

    python -m tests.support.fault_worker worker --pool solo …   (arguments as for celery -A devsite)

Faults, switched on by environment variables (off when unset):

``FAULT_KILL_AFTER_PUT_LOG`` (+ ``FAULT_KILL_AFTER_PUT_MAX``, default unlimited)
    After a conditional put *succeeds* (the record is in DynamoDB, the outbox row is not yet
    marked), read the record back, append a JSON line to the log (pid, key, version put,
    version stored), and SIGKILL this process: a prefork child, or the whole worker under
    ``--pool solo``. At most ``MAX`` kills in all, counted under a lock on the log, so several
    processes share the budget.

``FAULT_HOLD_BEFORE_PUT_DIR``
    The first put that finds the file ``hold`` in that directory claims it (renames it to
    ``held-<version>``, so exactly one put is held) and waits, its record already built from
    the link as it was, until the file ``release`` appears; then it puts. That delivers an old
    version after a newer one on purpose.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

HOLD_TIMEOUT_SECONDS = 60.0
WORKER_LOST_WAIT_SECONDS = 0.2


def _kill_after_put(table: Any, item: dict[str, Any]) -> None:
    log_path = os.environ.get("FAULT_KILL_AFTER_PUT_LOG")
    if not log_path:
        return
    budget = int(os.environ.get("FAULT_KILL_AFTER_PUT_MAX", "-1"))
    key = {"PK": item["PK"], "SK": item["SK"]}
    with open(log_path, "a+") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.seek(0)
        if 0 <= budget <= len(log.read().splitlines()):
            return
        stored = table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        entry = {
            "pid": os.getpid(),
            "key": key,
            "version": int(item["runtime_version"]),
            "stored_version": int(stored.get("runtime_version", 0)),
        }
        log.write(json.dumps(entry) + "\n")
        log.flush()
        os.fsync(log.fileno())
        os.kill(os.getpid(), signal.SIGKILL)  # the lock goes with the process


def _hold_before_put(item: dict[str, Any]) -> None:
    hold_dir = os.environ.get("FAULT_HOLD_BEFORE_PUT_DIR")
    if not hold_dir:
        return
    folder = Path(hold_dir)
    try:
        (folder / "hold").rename(folder / f"held-{int(item['runtime_version'])}")
    except FileNotFoundError:
        return  # no hold asked for, or another put claimed it
    deadline = time.monotonic() + HOLD_TIMEOUT_SECONDS
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


class _FaultyTable:
    """The runtime table, with the faults around ``put_item``; everything else passes through."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def put_item(self, **kwargs: Any) -> Any:
        _hold_before_put(kwargs["Item"])
        response = self._table.put_item(**kwargs)  # raises when the condition fails
        _kill_after_put(self._table, kwargs["Item"])
        return response


def install() -> None:
    """Patch :attr:`LinkPublisher.table` (single-link publishes) in this process."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devsite.settings")
    django.setup()
    from devsite.celery import app
    from link_tracking_publisher.services.publisher import LinkPublisher

    # A prefork child killed on purpose sends no result: report it lost after 0.2 s, not the
    # default 10 s (worker_lost_wait), or each kill costs the test 10 s of waiting.
    app.conf.worker_lost_wait = WORKER_LOST_WAIT_SECONDS

    real = LinkPublisher.table.fget
    assert real is not None
    LinkPublisher.table = property(lambda self: _FaultyTable(real(self)))  # type: ignore[method-assign,assignment]


def main(argv: list[str]) -> None:
    install()
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", "-A", "devsite", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])

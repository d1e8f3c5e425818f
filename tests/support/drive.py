"""Run a step of :mod:`tests.support.publish_driver` in a local stack's ``manage.py shell``."""

from __future__ import annotations

import json
from typing import Any

from devsite.stack import LocalStack


def drive(stack: LocalStack, call: str) -> Any:
    """Run ``tests.support.publish_driver.<call>`` in the stack's ``manage.py shell`` and return
    the JSON line it printed last. On failure, the error and the tails of the stack's logs."""
    done = stack.manage(
        "shell", "-v", "0", "-c", f"from tests.support.publish_driver import *; {call}", check=False
    )
    if done.returncode:
        logs = "\n".join(f"--- {p.log_path}\n{p.output()[-4000:]}" for p in stack.processes)
        raise AssertionError(f"{call} failed:\n{done.stderr[-4000:]}\n{logs}")
    return json.loads(done.stdout.strip().splitlines()[-1])

"""Whether a record may redirect to its destination right now, as far as the record says.

``max_clicks`` needs the shared counter, so the runtime enforces it after this check; the
control plane's preview reports it as a limit, not as an outcome.
"""

from __future__ import annotations

from typing import Literal

from .record import RuntimeRecord

__all__ = ["PolicyOutcome", "check_policy"]

PolicyOutcome = Literal["ok", "inactive", "expired"]


def check_policy(record: RuntimeRecord, now: float) -> PolicyOutcome:
    """``"ok"``, or why the visitor goes to the record's ``fallback_url`` instead."""
    if not record.active:
        return "inactive"
    if record.expires_at_epoch is not None and now >= record.expires_at_epoch:
        return "expired"
    return "ok"

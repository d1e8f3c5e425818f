"""Whether a record may redirect to its destination right now, as far as the record says.

``max_clicks`` needs the shared counter, so the runtime enforces it after this check; the
control plane's preview reports it as a limit, not as an outcome.
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["PolicyFields", "PolicyOutcome", "check_policy"]

PolicyOutcome = Literal["ok", "inactive", "expired"]


class PolicyFields(Protocol):
    """What the policy reads of a record: a :class:`~.record.RuntimeRecord`, or the compiled
    link that keeps these fields of it (:class:`~.click.CompiledLink`)."""

    @property
    def active(self) -> bool: ...

    @property
    def expires_at_epoch(self) -> int | None: ...


def check_policy(record: PolicyFields, now: float) -> PolicyOutcome:
    """``"ok"``, or why the visitor goes to the record's ``fallback_url`` instead."""
    if not record.active:
        return "inactive"
    if record.expires_at_epoch is not None and now >= record.expires_at_epoch:
        return "expired"
    return "ok"

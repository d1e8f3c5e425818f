"""The audit trail of changes that are not link versions: the admin's log (``LogEntry``).

Links keep their own trail (:class:`~..models.LinkVersion`); other objects' changes made by a
person (a domain verified by hand, a webhook switched on again) are recorded here, in the log
staff read on the object's history page. A change made with an API key is logged by
:func:`~.api_keys.record_request` (the key, the method, the path) instead: a key is no user.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import Model

from .api_keys import acting_user

__all__ = ["log_change"]


def log_change(obj: Model, user: Any, message: str) -> None:
    """Record ``message`` about ``obj`` by ``user`` in the admin's log; skipped without a user
    (an API key, a task), or in a host without ``django.contrib.admin``."""
    if acting_user(user) is None or not apps.is_installed("django.contrib.admin"):
        return
    # Imported here: the admin is optional, and its models cannot be imported without it.
    from django.contrib.admin.models import CHANGE, LogEntry

    LogEntry.objects.log_actions(user.pk, [obj], CHANGE, change_message=message, single_object=True)

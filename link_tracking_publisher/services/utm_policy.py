"""The organisation-wide UTM policy: every link's record carries it, so a change republishes
every link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from ..models import GlobalUTMPolicy, Link
from .api_keys import acting_user
from .publishing import republish_links_on_commit

__all__ = ["update_global_utm_policy"]


def update_global_utm_policy(
    default_utm_params: Mapping[str, Any], *, user: Any = None
) -> GlobalUTMPolicy:
    """Replace the organisation-wide UTM defaults and republish every link
    (:func:`republish_links_on_commit`)."""
    with transaction.atomic():
        policy = (
            GlobalUTMPolicy.objects.select_for_update()
            .filter(id=GlobalUTMPolicy.SINGLETON_ID)
            .first()
            or GlobalUTMPolicy()
        )
        changed = policy.default_utm_params != dict(default_utm_params)
        policy.default_utm_params = dict(default_utm_params)
        if acting_user(user) is not None:
            policy.updated_by = user
        policy.full_clean()
        policy.save()
        if changed:
            republish_links_on_commit(Link.objects.all())
    return policy

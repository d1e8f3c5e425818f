"""An access policy for the tests: a user reaches the accounts named by their groups
(``account:<pk>``), the way a host project maps users to accounts with its own model."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from link_tracking_publisher.api.access import AccountAccessPolicy
from link_tracking_publisher.models import get_account_model

GROUP_PREFIX = "account:"


class GroupMembershipPolicy(AccountAccessPolicy):
    def accounts(self, user: Any) -> QuerySet[Model]:
        manager = get_account_model()._default_manager
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return manager.none()
        if user.is_staff:
            return manager.all()
        names = user.groups.filter(name__startswith=GROUP_PREFIX).values_list("name", flat=True)
        return manager.filter(pk__in=[int(n[len(GROUP_PREFIX) :]) for n in names])

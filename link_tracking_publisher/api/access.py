"""Account-scoped authorisation: which accounts a user may see and change through the API.

The host project decides, with ``LINK_TRACKING['ACCOUNT_ACCESS_POLICY']``: a dotted path to a
subclass of :class:`AccountAccessPolicy`. The default, :class:`StaffAccountAccessPolicy`, is
the safe one: active staff see every account, everyone else none. A project with its own
membership model writes a policy like::

    class MembershipPolicy(AccountAccessPolicy):
        def accounts(self, user):
            return Account.objects.filter(memberships__user=user)

Everything the API shows or changes is filtered through :meth:`AccountAccessPolicy.accounts`:
another account's objects do not exist for the user (404, never 403, so ids cannot be probed).
Writes need, on top of that, :meth:`AccountAccessPolicy.may_write`: by default the Django
model permission for the action (``add_link``, ``change_globalutmpolicy``…), as DRF's
``DjangoModelPermissions`` does. Domains without an account are shared: every authorised user may read them and use them for
links; only users for whom :meth:`AccountAccessPolicy.may_manage_shared` is true (staff, by
default) may create or change them, or change the global UTM policy.

A request made with an API key has an :class:`~link_tracking_publisher.services.api_keys.
ApiKeyPrincipal` as its user, and the configured policy is never asked about it:
:func:`get_access_policy` answers for it that it reaches exactly its key's account, may write
there (its scopes decide what: :class:`~link_tracking_publisher.api.permissions.HasApiKeyScope`)
and manages nothing shared.

This module imports no REST framework code, so a policy can be used outside the API too.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model, QuerySet

from ..conf import app_settings
from ..models import get_account_model, get_crm_campaign_model
from ..services.api_keys import ApiKeyPrincipal

__all__ = [
    "AccountAccessPolicy",
    "ApiKeyAwarePolicy",
    "StaffAccountAccessPolicy",
    "get_access_policy",
]


def _active(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
    )


class AccountAccessPolicy:
    """Decides what a user may reach. Subclass and implement :meth:`accounts`."""

    def accounts(self, user: Any) -> QuerySet[Model]:
        """The accounts whose domains, campaigns, links, outbox and privacy requests ``user``
        may read and change (a queryset of ``LINK_TRACKING_ACCOUNT_MODEL``)."""
        raise NotImplementedError

    def is_authorised(self, user: Any) -> bool:
        """Whether ``user`` may use the API at all (and so read shared domains and the global
        UTM policy): by default, anyone who may manage shared objects or reach an account."""
        return _active(user) and (self.may_manage_shared(user) or self.accounts(user).exists())

    def may_manage_shared(self, user: Any) -> bool:
        """Whether ``user`` may create and change shared domains (``account`` empty) and the
        global UTM policy, which every account's links depend on. Default: active staff."""
        return _active(user) and bool(getattr(user, "is_staff", False))

    def may_write(self, user: Any, model: type[Model], action: str) -> bool:
        """Whether ``user`` may ``action`` (``add``, ``change`` or ``delete``) objects of
        ``model`` through the API, on top of the account scoping. Default: Django's model
        permission ``<app_label>.<action>_<model_name>`` (``DjangoModelPermissions``
        semantics; superusers have them all), so staff status alone changes nothing."""
        opts = model._meta
        return _active(user) and bool(user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))

    def crm_campaigns(self, user: Any, account: Any) -> QuerySet[Model]:
        """The CRM campaigns a link campaign of ``account`` may be mapped to. By default those
        of the same account when the CRM campaign model has an ``account`` field pointing at
        the account model, else all of them."""
        model = get_crm_campaign_model()
        try:
            field = model._meta.get_field("account")
        except FieldDoesNotExist:
            return model._default_manager.all()
        if getattr(field, "related_model", None) is get_account_model():
            return model._default_manager.filter(account=account)
        return model._default_manager.all()


class StaffAccountAccessPolicy(AccountAccessPolicy):
    """The default: active staff reach every account; everyone else reaches none."""

    def accounts(self, user: Any) -> QuerySet[Model]:
        manager = get_account_model()._default_manager
        if _active(user) and getattr(user, "is_staff", False):
            return manager.all()
        return manager.none()


class ApiKeyAwarePolicy(AccountAccessPolicy):
    """The configured policy, with API keys answered for: a key's principal reaches its own
    account only, may write there (within its scopes) and never manages shared objects.
    Everyone else is the configured policy's to decide."""

    def __init__(self, policy: AccountAccessPolicy) -> None:
        self.policy = policy

    def accounts(self, user: Any) -> QuerySet[Model]:
        if isinstance(user, ApiKeyPrincipal):
            return get_account_model()._default_manager.filter(pk=user.account_id)
        return self.policy.accounts(user)

    def is_authorised(self, user: Any) -> bool:
        if isinstance(user, ApiKeyPrincipal):
            return True  # authenticated as a live key of an existing account
        return self.policy.is_authorised(user)

    def may_manage_shared(self, user: Any) -> bool:
        if isinstance(user, ApiKeyPrincipal):
            return False
        return self.policy.may_manage_shared(user)

    def may_write(self, user: Any, model: type[Model], action: str) -> bool:
        if isinstance(user, ApiKeyPrincipal):
            return True  # what it may write is its scopes' to say (HasApiKeyScope)
        return self.policy.may_write(user, model, action)

    def crm_campaigns(self, user: Any, account: Any) -> QuerySet[Model]:
        return self.policy.crm_campaigns(user, account)


@lru_cache(maxsize=8)
def _answering_for_keys(policy: AccountAccessPolicy) -> ApiKeyAwarePolicy:
    return ApiKeyAwarePolicy(policy)


def get_access_policy() -> AccountAccessPolicy:
    """The configured policy (imported and instantiated once per dotted path), answering for
    API keys itself (:class:`ApiKeyAwarePolicy`)."""
    policy = app_settings.imported("ACCOUNT_ACCESS_POLICY")
    if not isinstance(policy, AccountAccessPolicy):
        raise ImproperlyConfigured(
            f"LINK_TRACKING['ACCOUNT_ACCESS_POLICY'] = {app_settings.ACCOUNT_ACCESS_POLICY!r} is "
            "not an AccountAccessPolicy."
        )
    return _answering_for_keys(policy)

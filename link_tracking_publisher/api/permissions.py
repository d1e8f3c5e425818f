"""Permissions: the account access policy, applied to every API view.

Three checks, all needed for a write:

1. :class:`HasAccountAccess`: the access policy authorises the user at all (which objects they
   see is the views' querysets, scoped by the policy's accounts);
2. :class:`HasModelPermission`: for a write, the policy's :meth:`may_write` (by default Django's
   model permissions, ``DjangoModelPermissions`` semantics: ``add_``, ``change_``,
   ``delete_<model>``), so being staff is not enough to change anything;
3. :class:`SharedObjectsStaffOnly`: what every account shares is changed only by users the
   policy lets manage it.

A request made with an API key also needs :class:`HasApiKeyScope`: the scope the view declares
for the request (``api_key_scopes``) among the key's; users signed in otherwise are unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from ..services.api_keys import ApiKeyPrincipal
from .access import get_access_policy

__all__ = [
    "HasAccountAccess",
    "HasApiKeyScope",
    "HasModelPermission",
    "SharedObjectsStaffOnly",
    "required_scope",
    "write_action",
]

#: The permission a write needs, by the view's action; other writes go by HTTP method.
ACTION_PERMISSIONS = {
    "create": "add",
    "bulk": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
    "publish": "change",
    "unpublish": "change",
    "signed_url": "change",
    "verify": "change",
    "retry": "change",
    "rotate_secret": "change",
    "enable": "change",
    "revoke": "change",
    "rotate": "change",
}
METHOD_PERMISSIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def write_action(request: Request, view: Any) -> str | None:
    """``add``, ``change`` or ``delete`` for a write, ``None`` for a read."""
    if request.method in SAFE_METHODS:
        return None
    action = getattr(view, "action", None)
    return ACTION_PERMISSIONS.get(
        action or "", METHOD_PERMISSIONS.get(request.method or "", "change")
    )


class HasAccountAccess(BasePermission):
    """The user is authenticated and the access policy authorises them. Which objects they see
    is decided by the views' querysets (scoped by the policy's accounts)."""

    message = "You have access to no account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return get_access_policy().is_authorised(request.user)


class HasModelPermission(BasePermission):
    """A write needs the policy's consent for the view's model (``view.permission_model``):
    by default the Django model permission for the action."""

    message = "You do not have permission to change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        action = write_action(request, view)
        if action is None:
            return True
        model = view.permission_model
        return get_access_policy().may_write(request.user, model, action)


class SharedObjectsStaffOnly(BasePermission):
    """Objects shared by every account (a domain without an account, the global UTM policy) are
    read by every authorised user and changed only by those the policy lets manage them."""

    message = "Only staff may change what every account shares."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS or not getattr(view, "shared_singleton", False):
            return True
        return get_access_policy().may_manage_shared(request.user)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if getattr(view, "shared_singleton", False) or getattr(obj, "account_id", 0) is None:
            return get_access_policy().may_manage_shared(request.user)
        return True


def required_scope(request: Request, view: Any) -> str | None:
    """The API-key scope ``view`` declares for ``request`` in its ``api_key_scopes``: the
    view's action's own, else ``"read"``'s for a safe method and ``"write"``'s for any other;
    ``None`` when it declares none (keys may not use the view)."""
    scopes: Mapping[str, str] = getattr(view, "api_key_scopes", None) or {}
    action = getattr(view, "action", None)
    scope = scopes.get(action or "") or scopes.get(
        "read" if request.method in SAFE_METHODS else "write"
    )
    return None if scope is None else str(scope)


class HasApiKeyScope(BasePermission):
    """A request made with an API key needs the scope the view declares for it; a 403 names
    the scope. Views that declare none are not for keys (managing keys, privacy requests)."""

    message = "API keys cannot use this endpoint."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, ApiKeyPrincipal):
            return True
        scope = required_scope(request, view)
        if scope is None:
            return False
        if not principal.has_scope(scope):
            self.message = f"This API key does not have the scope '{scope}' this request needs."
            return False
        return True

"""Permissions: the account access policy, applied to every API view."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .access import get_access_policy

__all__ = ["HasAccountAccess", "SharedObjectsStaffOnly"]


class HasAccountAccess(BasePermission):
    """The user is authenticated and the access policy authorises them. Which objects they see
    is decided by the views' querysets (scoped by the policy's accounts)."""

    message = "You have access to no account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return get_access_policy().is_authorised(request.user)


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

"""The client's address behind the production load balancer, for django-axes' lockout."""

from __future__ import annotations

from django.http import HttpRequest


def forwarded_client_address(request: HttpRequest) -> str | None:
    """The last ``X-Forwarded-For`` entry: the address the load balancer (the one proxy in
    front of the control plane) saw and appended; entries before it are the client's own claims.
    Without the header, ``REMOTE_ADDR``."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    return entries[-1] if entries else request.META.get("REMOTE_ADDR")

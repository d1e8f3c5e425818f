"""Privacy request processing (see :mod:`link_tracking_publisher.services.privacy`)."""

from __future__ import annotations

from celery import shared_task

from .. import dispatch
from ..services.privacy import process_privacy_request

__all__ = ["process_privacy_request_task"]


@shared_task(name=dispatch.PROCESS_PRIVACY_REQUEST, acks_late=True)
def process_privacy_request_task(request_id: str) -> str:
    """Run the configured processor on one privacy request; returns its new status."""
    return process_privacy_request(request_id)

"""Signals the host project can connect to.

``link_clicked`` is sent once per newly ingested click (never for a duplicate ``event_id``),
inside the transaction that counts it, as ``post_save`` is: what a receiver writes to the
database commits or rolls back with the counts, so it happens exactly once; a receiver that
raises aborts the batch (nothing is counted, the next run retries it). Keyword arguments:

``link`` (:class:`~link_tracking_publisher.models.Link`), ``campaign`` (its
:class:`~link_tracking_publisher.models.LinkCampaign` or ``None``), ``event_id``,
``sms_msg_id`` (``str`` or ``None``), ``clicked_at`` (aware UTC ``datetime``), ``is_bot``,
``variant``, ``country``, ``device``, ``outcome``, ``channel`` (``str`` or ``None``).
The sender is the :class:`~link_tracking_publisher.models.Link` class.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["link_clicked"]

link_clicked = Signal()

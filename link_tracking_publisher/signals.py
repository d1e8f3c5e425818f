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

``webhook_disabled`` is sent once when a click webhook is switched off: the delivery that
brought its consecutive failed deliveries to ``WEBHOOK_DISABLE_AFTER_FAILURES`` has just been
given up (another failure of a webhook switched off already sends nothing). It is sent by the
delivery worker after the row is saved, outside any transaction: a receiver that raises is
logged by the worker and changes nothing (the webhook stays switched off). Tell the account
from here (an e-mail, a notice). Keyword arguments: ``webhook`` (the
:class:`~link_tracking_publisher.models.ClickWebhook`, as saved: ``disabled_at`` set),
``reason`` (``str``, its ``disabled_reason``: how many failures and the last error). The
sender is the :class:`~link_tracking_publisher.models.ClickWebhook` class.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["link_clicked", "webhook_disabled"]

link_clicked = Signal()
webhook_disabled = Signal()

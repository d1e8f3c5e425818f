"""The control plane's REST API (Django REST framework), mounted by the host project::

    path("api/link_tracking/", include("link_tracking_publisher.api.urls")),

Every write goes through the service layer (:mod:`link_tracking_publisher.services`), so API
changes are versioned, outboxed and published exactly like any other change. Which accounts a
user may see is decided by ``LINK_TRACKING['ACCOUNT_ACCESS_POLICY']``
(:mod:`link_tracking_publisher.api.access`).
"""

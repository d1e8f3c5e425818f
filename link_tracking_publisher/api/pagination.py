"""Page-number pagination sized by ``LINK_TRACKING['API_PAGE_SIZE']`` (clients may ask for up to
``API_MAX_PAGE_SIZE`` with ``?page_size=``)."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

from ..conf import app_settings

__all__ = ["LinkTrackingPagination"]


class LinkTrackingPagination(PageNumberPagination):
    page_size_query_param = "page_size"

    # Read from the settings on each request (they reload on setting_changed), where DRF has
    # plain class attributes.
    @property
    def page_size(self) -> int:  # type: ignore[override]
        return int(app_settings.API_PAGE_SIZE)

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return int(app_settings.API_MAX_PAGE_SIZE)

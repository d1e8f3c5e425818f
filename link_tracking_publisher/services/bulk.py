"""Bulk link creation: one link per keyword, all or nothing.

Every link is made with :func:`create_link` (so each is versioned and outboxed and its publish
enqueued after commit, like any other), all inside one transaction: if any keyword fails, the
transaction rolls back, nothing is written and nothing is enqueued. Each keyword is tried in
its own savepoint, so one request reports every bad keyword at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from ..conf import app_settings
from ..errors import LinkTrackingError
from ..models import Link
from .links import create_link

__all__ = ["BulkCreateError", "bulk_create_links"]


class BulkCreateError(LinkTrackingError):
    """A bulk create that wrote nothing. ``item_errors`` maps the index of a keyword to its
    messages; ``errors`` holds the errors of fields shared by every item (field → messages)."""

    def __init__(
        self,
        item_errors: dict[int, list[str]] | None = None,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
        self.item_errors = dict(item_errors or {})
        self.errors = dict(errors or {})
        super().__init__(f"bulk create failed: {self.item_errors or self.errors}")


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}


def bulk_create_links(
    *,
    keywords: Sequence[str],
    account: Any,
    domain: Any,
    destination_url: str,
    user: Any = None,
    reason: str = "",
    **fields: Any,
) -> list[Link]:
    """Create one link per keyword (system slugs), in order, or none at all.

    At most ``BULK_CREATE_MAX_LINKS`` keywords; each non-blank and unique in the request.
    Raises :class:`BulkCreateError` with per-item and shared errors; writes nothing then.
    """
    limit = app_settings.BULK_CREATE_MAX_LINKS
    if not keywords:
        raise BulkCreateError(errors={"keywords": ["Give at least one keyword."]})
    if len(keywords) > limit:
        raise BulkCreateError(
            errors={"keywords": [f"At most {limit} keywords per request, not {len(keywords)}."]}
        )
    if "keyword" in fields or "slug" in fields:
        raise TypeError("bulk_create_links() takes keywords, not keyword or slug")
    item_errors: dict[int, list[str]] = {}
    seen: dict[str, int] = {}
    for index, keyword in enumerate(keywords):
        if not isinstance(keyword, str) or not keyword.strip():
            item_errors[index] = ["A keyword cannot be blank."]
        elif keyword in seen:
            item_errors[index] = [f"Duplicate of keyword {seen[keyword]} in this request."]
        else:
            seen[keyword] = index
    if item_errors:
        raise BulkCreateError(item_errors)

    with transaction.atomic():
        links: list[Link] = []
        for index, keyword in enumerate(keywords):
            try:
                with transaction.atomic():
                    links.append(
                        create_link(
                            account=account,
                            domain=domain,
                            destination_url=destination_url,
                            keyword=keyword,
                            user=user,
                            reason=reason or "bulk create",
                            **fields,
                        )
                    )
            except ValidationError as exc:
                messages = _messages(exc)
                keyword_messages = messages.pop("keyword", None)
                if messages:
                    # A field every link shares is wrong: the same for every item, stop here.
                    raise BulkCreateError(item_errors, messages) from None
                item_errors[index] = keyword_messages or []
        if item_errors:
            raise BulkCreateError(item_errors)  # rolls back every link made above
    return links

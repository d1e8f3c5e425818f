"""The API's pagination, sized by ``LINK_TRACKING['API_PAGE_SIZE']`` (clients may ask for up to
``API_MAX_PAGE_SIZE`` with ``?page_size=``).

- :class:`LinkTrackingPagination`: page numbers and a ``count``, for the lists people create
  row by row (domains, campaigns, links, imports, the outbox, privacy requests).
- :class:`LinkTrackingCursorPagination`: a keyset cursor, for the lists that grow with the
  clicks (``message-clicks``, ``webhook-deliveries``): every page costs one index seek and a
  page of rows, wherever it is, and a walk sees each row once while rows are added.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, Func, Model, QuerySet, Value
from django.db.models.lookups import (
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Lookup,
)
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from ..conf import app_settings

__all__ = ["LinkTrackingCursorPagination", "LinkTrackingPagination", "encode_cursor"]


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


class _RowValue(Func):
    """``(a, b, …)``: a row value, compared column by column in one index range scan."""

    template = "(%(expressions)s)"
    output_field = Field()


#: The comparison of the row with the cursor's position, by (descending, inclusive).
_AFTER: dict[tuple[bool, bool], type[Lookup]] = {
    (True, False): LessThan,
    (True, True): LessThanOrEqual,
    (False, False): GreaterThan,
    (False, True): GreaterThanOrEqual,
}

#: Salt of the cursors' signature: a cursor is only ever one this API signed.
_CURSOR_SALT = "link_tracking.api.cursor"
#: The longest cursor read (about 60 bytes per ordering column): bounded before decoding.
MAX_CURSOR_LENGTH = 1024

INVALID_CURSOR = (
    "This cursor is not one this list gave, or it was changed: follow the next or previous "
    "link as it was given, or start again without a cursor."
)
STALE_CURSOR = (
    "This cursor was given for another ordering ({given}); start again without a cursor, or "
    "keep the ordering the walk started with ({asked} asked now)."
)
PAGE_REFUSED = (
    "This list pages with a cursor, not page numbers: follow the `next` link of each answer "
    "(`?cursor=`), starting without one (see the changelog)."
)


def encode_cursor(
    ordering: Sequence[str],
    position: Sequence[Any],
    reverse: bool = False,
    inclusive: bool = False,
) -> str:
    """The signed ``?cursor=`` of the page after (or with ``reverse``, before) the row at
    ``position`` (its values of the columns of ``ordering``, the key included); with
    ``inclusive``, from that row on."""
    payload = {
        "o": list(ordering),
        "p": [_to_json(value) for value in position],
        "r": reverse,
        "i": inclusive,
    }
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=True)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class LinkTrackingCursorPagination(CursorPagination):
    """Keyset pagination over the view's ordering (``ordering`` and its ``OrderingFilter``),
    with the primary key added as the last column unless the ordering is already unique.

    DRF's own ``CursorPagination`` keeps only the first ordering column in the cursor and
    counts ties with an OFFSET (a link's 100,000 message rows would be read again on every
    page), and answers a bad cursor with a 404. Here the cursor holds the whole position, the
    query is ``WHERE (col, …, pk) > (…) ORDER BY col, …, pk LIMIT n`` (one range scan of an
    index in that order), and a cursor that was tampered with or belongs to another ordering
    is a field-level 400 on ``cursor``. The cursor is signed (``django.core.signing``, so a
    rotated ``SECRET_KEY`` keeps its fallbacks' cursors): the API reads only positions it gave.

    Every ordering column must be non-null (NULLs do not compare), and one request orders in
    one direction: all ascending or all descending. ``?page=`` is refused with a 400 naming
    the change; ``?page_size=`` outside 1..``API_MAX_PAGE_SIZE`` is a 400. No ``count``: it
    would cost a scan of every matching row on each page. Measured by
    ``benchmarks/message_clicks_bench.py``.
    """

    page_size_query_param = "page_size"
    page_size_query_description = "Rows per page (1 to the API's maximum page size)."
    cursor_query_description = (
        "Where the page starts: the `cursor` of a `next` or `previous` link, as given."
    )
    refused_query_params: Sequence[str] = ("page",)

    @property
    def page_size(self) -> int:  # type: ignore[override]
        return int(app_settings.API_PAGE_SIZE)

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return int(app_settings.API_MAX_PAGE_SIZE)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    # --- the ordering --------------------------------------------------------------------

    def keyset(self, request: Request, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        """The view's ordering for this request, made total with ``pk`` if it is not."""
        ordering = self.get_ordering(request, queryset, view)
        descending = {name.startswith("-") for name in ordering}
        if len(descending) != 1:
            raise ValidationError(
                {
                    "ordering": [
                        "Order by fields in one direction (all ascending or all "
                        "descending) to page with a cursor."
                    ]
                }
            )
        model = queryset.model
        names = [name.lstrip("-") for name in ordering]
        for name in names:
            if model._meta.get_field(name).null:
                raise ImproperlyConfigured(
                    f"{model.__name__}.{name} is nullable: it cannot be a cursor's ordering."
                )
        if not _is_unique(model, names):
            sign = "-" if descending.pop() else ""
            ordering = (*ordering, f"{sign}{model._meta.pk.name}")
        return tuple(ordering)

    # --- the page ------------------------------------------------------------------------

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        for name in self.refused_query_params:
            if name in request.query_params:
                raise ValidationError({name: [PAGE_REFUSED]})
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.size = self.get_page_size(request)
        self.keys = self.keyset(request, queryset, view)
        self.model = queryset.model
        self.position, self.reverse, inclusive = self.read_cursor(request)

        names = [name.lstrip("-") for name in self.keys]
        # Scanning backwards (a previous link) reads the ordering the other way round.
        descending = self.keys[0].startswith("-") != self.reverse
        page = queryset.order_by(*[f"-{name}" if descending else name for name in names])
        if self.position is not None:
            key = _RowValue(*[F(name) for name in names])
            bound = _RowValue(
                *[
                    Value(value, output_field=_value_field(self.model, name))
                    for name, value in zip(names, self.position, strict=True)
                ]
            )
            page = page.filter(_AFTER[descending, inclusive](key, bound))
        rows = list(page[: self.size + 1])
        self.more = len(rows) > self.size
        rows = rows[: self.size]
        if self.reverse:
            rows.reverse()
        self.page = rows
        return rows

    def _position_of(self, row: Model) -> list[Any]:
        return [
            getattr(row, self.model._meta.get_field(name.lstrip("-")).attname) for name in self.keys
        ]

    def _link(self, position: list[Any], reverse: bool, inclusive: bool = False) -> str:
        cursor = encode_cursor(self.keys, position, reverse, inclusive)
        return replace_query_param(self.base_url or "", self.cursor_query_param, cursor)

    def get_next_link(self) -> str | None:
        if self.page and (self.more or self.reverse):
            return self._link(self._position_of(self.page[-1]), False)
        if not self.page and self.reverse and self.position is not None:
            # Nothing before the position any more: the next page starts with its row again.
            return self._link(self.position, False, inclusive=True)
        return None

    def get_previous_link(self) -> str | None:
        if self.page and (self.more if self.reverse else self.position is not None):
            return self._link(self._position_of(self.page[0]), True)
        if not self.page and not self.reverse and self.position is not None:
            # Nothing after the position any more: the previous page ends with its row.
            return self._link(self.position, True, inclusive=True)
        return None

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    # --- the cursor ----------------------------------------------------------------------

    def read_cursor(self, request: Request) -> tuple[list[Any] | None, bool, bool]:
        """The position (typed as the columns are), direction and inclusiveness the
        ``?cursor=`` names; a 400 on ``cursor`` for anything this API did not give for this
        ordering."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None, False, False
        if len(encoded) > MAX_CURSOR_LENGTH:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        try:
            payload = signing.loads(encoded, salt=_CURSOR_SALT)
            given, position = payload["o"], payload["p"]
            reverse, inclusive = payload["r"], payload["i"]
        except (signing.BadSignature, TypeError, KeyError, ValueError):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if given != list(self.keys):
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        STALE_CURSOR.format(given=",".join(given), asked=",".join(self.keys))
                    ]
                }
            )
        names = [name.lstrip("-") for name in self.keys]
        if not isinstance(position, list) or len(position) != len(names):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        try:
            typed = [
                self.model._meta.get_field(name).to_python(value)
                for name, value in zip(names, position, strict=True)
            ]
        except (DjangoValidationError, TypeError, ValueError):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return typed, bool(reverse), bool(inclusive)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            if parameter["name"] == self.cursor_query_param:
                parameter["schema"]["maxLength"] = MAX_CURSOR_LENGTH
        return parameters


def _value_field(model: type[Model], name: str) -> Any:
    field = model._meta.get_field(name)
    return getattr(field, "target_field", field)


def _is_unique(model: type[Model], names: Sequence[str]) -> bool:
    """Whether no two rows can share the values of ``names`` (they cover a unique key)."""
    fields = {model._meta.get_field(name).name for name in names}
    pk = model._meta.pk
    if pk is not None and pk.name in fields:
        return True
    if any(getattr(model._meta.get_field(name), "unique", False) for name in fields):
        return True
    return any(
        set(constraint.fields) <= fields for constraint in model._meta.total_unique_constraints
    )

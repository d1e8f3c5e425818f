"""A domain's stored app-link documents, as the pages and the API read them.

Documents are bounded when they are written (the contract's
:data:`~link_tracking_runtime.applinks.DOCUMENT_MAX_DEPTH`, ``DOCUMENT_MAX_NODES`` and
``DOCUMENT_MAX_BYTES``), but one stored before they were, or written past validation, can be
any size or depth. Nothing that reads a domain may break on it:

- :class:`AppLinkDocumentField` decodes such a document as any JSON field does, except one
  nested deeper than the JSON decoder can go at the reader's stack depth: that one loads as an
  :class:`UndecodedDocument` (its text), which a save writes back unchanged;
- :func:`stored_document_problems` says what is past a bound (``[]``: nothing), walking
  without recursion, so a page or an answer shows a note instead of encoding the document.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from link_tracking_runtime import applinks

__all__ = [
    "AppLinkDocumentField",
    "UndecodedDocument",
    "stored_document_problems",
]


class UndecodedDocument:
    """A stored document nested deeper than the JSON decoder can go: its text, kept as stored.
    It is past the depth bound by construction."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UndecodedDocument) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"UndecodedDocument({len(self.text)} characters)"


class _StoredText(json.JSONEncoder):
    """Writes an :class:`UndecodedDocument` back as the text it was read from."""

    def encode(self, o: Any) -> str:
        if isinstance(o, UndecodedDocument):
            return o.text
        return super().encode(o)


class AppLinkDocumentField(models.JSONField):
    """A JSON field whose too-deep stored values load as :class:`UndecodedDocument`."""

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if isinstance(value, UndecodedDocument):
            return connection.ops.adapt_json_value(value, _StoredText)
        return super().get_db_prep_value(value, connection, prepared)

    def validate(self, value: Any, model_instance: Any) -> None:
        if isinstance(value, UndecodedDocument):
            # Not JSON this process can encode: the validators name the bound it is past.
            self.run_validators(value)
            return
        super().validate(value, model_instance)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        try:
            return super().from_db_value(value, expression, connection)
        except RecursionError:
            return UndecodedDocument(value)


def _past_the_depth_bound() -> list[Any]:
    """A document one level deeper than the contract allows, built without recursion."""
    document: list[Any] = []
    for _ in range(applinks.DOCUMENT_MAX_DEPTH):
        document = [document]
    return document


def stored_document_problems(document: Any) -> list[str]:
    """What of the contract's bounds a stored document is past (``[]``: none): its depth and
    number of values (walked without recursion), then its size as compact JSON."""
    if isinstance(document, UndecodedDocument):
        return applinks.bound_errors(_past_the_depth_bound())
    return applinks.limit_errors(document)

"""Contract test vectors, shipped with the package so both halves test against the same files.

``publish``: a link fixture and the exact item the publisher must write for it.
``redirect``: an item, a request and the exact redirect URL the runtime must answer with.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["load", "load_document"]


def load_document(name: str) -> dict[str, Any]:
    """The whole of ``vectors/{name}.json``: its vectors and the settings they assume."""
    text = resources.files(__package__).joinpath("vectors", f"{name}.json").read_text("utf-8")
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


def load(name: str) -> list[dict[str, Any]]:
    """The vectors of ``vectors/{name}.json`` (each a dict with at least ``name``)."""
    vectors = load_document(name)["vectors"]
    assert isinstance(vectors, list)
    return vectors

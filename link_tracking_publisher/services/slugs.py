"""Slug generation: short, unambiguous when read from a phone screen, upper-case."""

from __future__ import annotations

import secrets

from ..conf import app_settings

__all__ = ["generate_slug"]


def generate_slug(length: int | None = None, alphabet: str | None = None) -> str:
    """A random slug from the configured alphabet (no 0/O, 1/I/L by default)."""
    alphabet = alphabet or app_settings.SLUG_ALPHABET
    length = length or app_settings.SLUG_LENGTH
    return "".join(secrets.choice(alphabet) for _ in range(length))

"""Shared by every test package."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """The API's throttles count in Django's cache; each test starts with no counts."""
    from django.core.cache import cache

    cache.clear()

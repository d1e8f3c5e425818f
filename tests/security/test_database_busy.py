"""A write the database cannot take yet is a 503 the client can retry, never a 500.

Before: on SQLite, a write made while a 50,000-row import job held the one writer's lock waited
Python's 5 s and answered 500 ("database is locked"). Now the devsite waits 20 s for the lock,
and a write that still times out is a 503 with ``Retry-After``, nothing written.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError
from rest_framework.test import APIClient

from link_tracking_publisher.models import Link
from link_tracking_publisher.services import links as link_service
from tests.api.conftest import API


def test_a_locked_database_is_a_503_with_retry_after(
    staff_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    body = {
        "account": account_a.pk,
        "domain": str(domain_a.pk),
        "destination_url": "https://shop.example.com/x",
    }
    locked = OperationalError("database is locked")
    with mock.patch.object(link_service, "create_link", side_effect=locked):
        response = staff_client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["detail"].startswith("The database is busy")
    assert not Link.objects.exists()


def test_another_operational_error_is_not_dressed_as_busy(
    staff_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    body = {
        "account": account_a.pk,
        "domain": str(domain_a.pk),
        "destination_url": "https://shop.example.com/x",
    }
    broken = OperationalError("no such table: link_tracking_link")
    staff_client.raise_request_exception = False
    with mock.patch.object(link_service, "create_link", side_effect=broken):
        response = staff_client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 500  # the host's handling of an unexpected error


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="the lock timeout is SQLite's (PostgreSQL writers do not share one lock)",
)
def test_the_devsite_waits_longer_than_pythons_default_for_the_lock() -> None:
    assert settings.DATABASES["default"]["OPTIONS"]["timeout"] >= 20

"""The OpenAPI schema and its Swagger UI page need a login, like every other route of the API.

Before: both were public (drf-spectacular's default permission is AllowAny), so anyone could
read the whole API's shape.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import API

pytestmark = pytest.mark.django_db

PAGES = [f"{API}/schema/?format=json", f"{API}/schema/", f"{API}/schema/swagger-ui/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_refused(url: str) -> None:
    assert APIClient().get(url).status_code in (401, 403)


@pytest.mark.parametrize("url", PAGES)
def test_a_logged_in_user_gets_them(url: str, make_user: Any) -> None:
    client = APIClient()
    # Any logged-in user, even one without an account or a permission: the schema is the same
    # for all and shows no data.
    client.force_login(make_user("reader", perms=False))
    assert client.get(url).status_code == 200

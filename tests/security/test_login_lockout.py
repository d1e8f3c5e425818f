"""Passwords cannot be guessed without limit: failed logins lock out per user name and per
client, in the admin and in the API alike, and production takes no passwords in the API.

Before: 60 wrong passwords to ``/admin/login/`` and 60 to the API's HTTP Basic, then the right
one: all answered, the last accepted; the production settings kept HTTP Basic, and their
throttles counted in each process's own memory (30 writes a minute per gunicorn worker).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from devsite.client_address import forwarded_client_address
from tests.api.conftest import API
from tests.security.test_settings import ROOT, _production_env

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"


@pytest.fixture
def operator(make_user: Any) -> Any:
    return make_user("operator", staff=True)


def _admin_login(username: str, password: str, address: str = "198.51.100.7") -> Any:
    return Client(REMOTE_ADDR=address).post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}
    )


#: DRF's answer to failed authentication (403: session authentication comes first and has no
#: WWW-Authenticate challenge).
REFUSED = 403


def _basic(username: str, password: str, address: str = "198.51.100.7") -> Any:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return APIClient(REMOTE_ADDR=address).get(f"{API}/links/", HTTP_AUTHORIZATION=f"Basic {token}")


def test_the_right_password_works_until_the_limit(operator: Any) -> None:
    assert _admin_login("operator", "wrong").status_code == 200  # the form again
    assert _admin_login("operator", "pw").status_code == 302
    assert _basic("operator", "pw").status_code == 200


def test_the_admin_locks_a_user_name_out_after_the_limit(operator: Any) -> None:
    limit = django_settings.AXES_FAILURE_LIMIT
    for attempt in range(limit):  # from different clients: counted per user name
        _admin_login("operator", f"guess{attempt}", address=f"203.0.113.{attempt + 1}")
    response = _admin_login("operator", "pw", address="198.51.100.99")
    assert response.status_code == 429 and "_auth_user_id" not in response.client.session
    assert _basic("operator", "pw", address="198.51.100.98").status_code == REFUSED


def test_the_api_locks_a_user_name_out_after_the_limit(operator: Any) -> None:
    for attempt in range(django_settings.AXES_FAILURE_LIMIT):
        assert _basic("operator", f"guess{attempt}").status_code == REFUSED
    assert _basic("operator", "pw").status_code == REFUSED
    assert _admin_login("operator", "pw", address="198.51.100.97").status_code == 429


def test_a_client_is_locked_out_whatever_user_names_it_tries(operator: Any, make_user: Any) -> None:
    make_user("other", staff=True)
    for attempt in range(django_settings.AXES_FAILURE_LIMIT):
        _admin_login(f"nobody{attempt}", "guess", address="192.0.2.50")
    assert _admin_login("other", "pw", address="192.0.2.50").status_code == 429
    assert _basic("other", "pw", address="192.0.2.50").status_code == REFUSED
    assert _admin_login("other", "pw", address="192.0.2.51").status_code == 302


def test_behind_the_load_balancer_the_client_is_the_last_forwarded_address() -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.1.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"
    )
    assert forwarded_client_address(request) == "198.51.100.7"  # 1.2.3.4 is the client's claim
    assert forwarded_client_address(RequestFactory().get("/", REMOTE_ADDR="10.0.1.5")) == (
        "10.0.1.5"
    )


def _production_settings(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'auth': s.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'], "
        "'cache': s.CACHES['default']['BACKEND'], 'apps': s.INSTALLED_APPS, "
        "'backends': s.AUTHENTICATION_BACKENDS, 'middleware': s.MIDDLEWARE, "
        "'ip': s.AXES_CLIENT_IP_CALLABLE}))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_production_env(tmp_path, **overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_takes_no_passwords_in_the_api_and_shares_its_cache(tmp_path: Path) -> None:
    result = _production_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "rest_framework.authentication.BasicAuthentication" not in seen["auth"]
    assert "rest_framework.authentication.TokenAuthentication" in seen["auth"]
    assert seen["cache"] == "django.core.cache.backends.db.DatabaseCache"
    assert "axes" in seen["apps"] and seen["backends"][0] == "axes.backends.AxesStandaloneBackend"
    assert seen["middleware"][-1] == "axes.middleware.AxesMiddleware"
    assert seen["ip"] == "devsite.client_address.forwarded_client_address"


def test_production_refuses_a_cache_of_one_process(tmp_path: Path) -> None:
    result = _production_settings(tmp_path, CACHE_URL="locmemcache://")
    assert result.returncode != 0 and "CACHE_URL" in result.stderr

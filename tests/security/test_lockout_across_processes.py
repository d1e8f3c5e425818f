"""Failed logins and API throttles count across processes with the documented production settings.

Before, only one process was ever tested: that the production settings name a shared cache
(``test_login_lockout.py``) said nothing of whether one gunicorn worker's failed logins or
throttled writes are seen by another. Here two separate ``manage.py shell`` processes run under
``devsite.settings_production`` with its documented defaults: the database cache
(``CACHE_URL=dbcache://link_tracking_cache``, after ``createcachetable``) for the API's
throttles, and django-axes' database handler for failed logins, on one database file as two
workers share one database. Each process sends its requests through the whole middleware stack
(Django's test client, as the load balancer would: HTTPS in ``X-Forwarded-Proto``, the client
in ``X-Forwarded-For``), and nothing but the database is shared between them.

The machine has no Redis server, and Redis is not the documented default; ``CACHE_URL=redis://``
would share the throttles the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.security.test_settings import ROOT, _production_env

pytestmark = pytest.mark.e2e  # starts real processes (make test-fast leaves it out)

HOST = "control.example.com"
LIMIT = 5  # AXES_FAILURE_LIMIT's documented default
BULK_LIMIT = 30  # API_BULK_THROTTLE_RATE's default, 30/minute

#: What one process runs: each step is a request; it prints the status codes as JSON.
WORKER = f"""
import json, os
from django.test import Client
steps = json.loads(os.environ["STEPS"])
codes = []
for step in steps:
    client = Client(
        HTTP_HOST="{HOST}", HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_FOR="10.0.0.1, " + step["client"],
    )
    if step["kind"] == "login":
        response = client.post(
            "/admin/login/",
            {{"username": step["user"], "password": step["password"], "next": "/admin/"}},
        )
    else:
        response = client.post(
            "/api/link_tracking/links/bulk/", {{}}, content_type="application/json",
            HTTP_AUTHORIZATION="Token " + step["token"],
        )
    codes.append(response.status_code)
print("CODES " + json.dumps(codes))
"""

SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_superuser("operator", "op@example.com", "right-pw")
print("TOKEN " + Token.objects.create(user=user).key)
"""


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _line(output: str, prefix: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(prefix))[len(prefix) :]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A database (file) with the app's tables, the cache table and a superuser with a token,
    made once: each test starts from a copy."""
    folder = tmp_path_factory.mktemp("production")
    env = _production_env(folder)
    assert "CACHE_URL" not in env  # the documented default: the database cache
    _manage(env, "migrate", "--no-input")
    _manage(env, "createcachetable")
    token = _line(_manage(env, "shell", "-c", SETUP), "TOKEN ")
    return {"database": folder / "db.sqlite3", "token": token}


@pytest.fixture
def production(template: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The documented production environment on a fresh copy of the template's database."""
    env = _production_env(tmp_path)
    shutil.copyfile(template["database"], tmp_path / "db.sqlite3")
    return {"env": env, "token": template["token"]}


def _process(production: dict[str, Any], steps: list[dict[str, str]]) -> list[int]:
    """Run ``steps`` in a new process; their status codes."""
    env = {**production["env"], "STEPS": json.dumps(steps)}
    codes: list[int] = json.loads(_line(_manage(env, "shell", "-c", WORKER), "CODES "))
    return codes


def _login(password: str, client: str, user: str = "operator") -> dict[str, str]:
    return {"kind": "login", "user": user, "password": password, "client": client}


def test_failed_logins_in_one_process_lock_the_user_out_in_another(
    production: dict[str, Any],
) -> None:
    steps_of_b = [_login("wrong", "203.0.113.9"), _login("right-pw", "203.0.113.9")]
    # Process A: one failure short of the limit, from one client.
    first = _process(production, [_login("wrong", "198.51.100.7")] * (LIMIT - 1))
    assert first == [200] * (LIMIT - 1)  # the form again each time
    # Process B, another client: its first failure is the limit's, so the right password is
    # refused; counted per process, it would have had one failure and let the password in.
    assert _process(production, steps_of_b) == [429, 429]


def test_the_same_steps_in_one_fresh_process_let_the_right_password_in(
    production: dict[str, Any],
) -> None:
    """The control: process B's steps alone (one failure) leave the user able to log in."""
    assert _process(
        production, [_login("wrong", "203.0.113.9"), _login("right-pw", "203.0.113.9")]
    ) == [200, 302]


def test_a_client_locked_out_in_one_process_is_locked_out_in_another(
    production: dict[str, Any],
) -> None:
    """Per client address: different user names from one client, across the two processes."""
    names = [f"guess{n}" for n in range(LIMIT)]
    assert _process(production, [_login("x", "198.51.100.8", n) for n in names[:-1]]) == [200] * (
        LIMIT - 1
    )
    assert _process(
        production, [_login("x", "198.51.100.8", names[-1]), _login("right-pw", "198.51.100.8")]
    ) == [429, 429]


def test_the_api_throttle_counts_one_users_requests_across_processes(
    production: dict[str, Any],
) -> None:
    """The bulk throttle (30 a minute per user) lives in the shared database cache: 30 bulk
    requests in process A (each a 400, the body is empty: a throttle counts requests), then
    process B's first is a 429."""
    bulk = {"kind": "bulk", "token": production["token"], "client": "198.51.100.9"}
    assert _process(production, [bulk] * BULK_LIMIT) == [400] * BULK_LIMIT
    assert _process(production, [bulk]) == [429]

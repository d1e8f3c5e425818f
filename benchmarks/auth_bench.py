"""API-key authentication against session authentication, same run.

    python benchmarks/auth_bench.py                 # --calls 2000 --rounds 5

One process, a fresh SQLite database (the devsite's settings: SessionAuthentication, then
Basic, then ApiKeyAuthentication). A user (staff) and an API key of one account with one link.
Each round measures, interleaved, per call:

* **auth, floor**: the same for a request with no credentials (anonymous): building the
  request, the middleware and DRF's ``Request``, the baseline the two below add to;
* **auth, session**: what DRF does to find ``request.user`` for a request carrying a session
  cookie: the session middleware's lazy user, then the configured authenticators in order
  (the session's user is loaded: a session row and a user row, CSRF checked);
* **auth, key**: the same for ``Authorization: Bearer lt_…`` (session and Basic decline
  first): one ``ApiKey`` row by prefix
  (with its account), HMAC-SHA256 and a constant-time compare; ``last_used_at`` is written at
  most once a minute, so not in the loop;
* **request, session** / **request, key**: a whole ``GET links/`` through the Django test
  client (middleware, view, access policy, one link serialised).

Then the hash alone: ``key_hash`` (HMAC-SHA256) against ``check_password`` with the project's
first password hasher (PBKDF2 by default), what a slow hash would have cost per request.

Reports the median microseconds per call over the rounds and the key's ratio to the session,
whole and above the floor.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.import_bench import setup_django  # noqa: E402


def per_call_us(function: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as var_dir:
        setup_django(Path(var_dir))
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.contrib.auth.middleware import AuthenticationMiddleware
        from django.contrib.sessions.middleware import SessionMiddleware
        from django.http import HttpResponse
        from django.test import Client, RequestFactory
        from rest_framework.request import Request
        from rest_framework.settings import api_settings

        from link_tracking_publisher.services import api_keys
        from tests.publisher.factories import AccountFactory, DomainFactory, LinkFactory

        settings.ALLOWED_HOSTS = ["*"]
        account = AccountFactory()
        LinkFactory(account=account, domain=DomainFactory(account=account))
        user = get_user_model().objects.create_user("bench", password="pw", is_staff=True)
        _, raw_key = api_keys.create_api_key(account=account, name="bench", scopes=["links:read"])

        session_client = Client()
        session_client.force_login(user)
        cookie = session_client.cookies[settings.SESSION_COOKIE_NAME].value
        key_client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        api_keys.authenticate(raw_key)  # last_used_at written now, not in the loop

        factory = RequestFactory()
        middleware = SessionMiddleware(lambda request: HttpResponse())
        auth_middleware = AuthenticationMiddleware(lambda request: HttpResponse())
        authenticator_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES

        def authenticate(**headers: str) -> Callable[[], object]:
            def run() -> object:
                django_request = factory.get("/api/link_tracking/links/", **headers)
                middleware.process_request(django_request)
                auth_middleware.process_request(django_request)
                request = Request(
                    django_request, authenticators=[cls() for cls in authenticator_classes]
                )
                assert request.user.is_authenticated == bool(headers)
                return request.user

            return run

        def whole_request(client: Client) -> Callable[[], object]:
            def run() -> object:
                response = client.get("/api/link_tracking/links/")
                assert response.status_code == 200, response.content
                return response

            return run

        cases: dict[str, Callable[[], object]] = {
            "auth, floor": authenticate(),
            "auth, session": authenticate(HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={cookie}"),
            "auth, key": authenticate(HTTP_AUTHORIZATION=f"Bearer {raw_key}"),
            "request, session": whole_request(session_client),
            "request, key": whole_request(key_client),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        for case in cases.values():  # warm up: imports, caches, the first queries
            case()
        for _ in range(args.rounds):
            for name, case in cases.items():
                calls = args.calls if name.startswith("auth") else max(args.calls // 10, 50)
                results[name].append(per_call_us(case, calls))

        # The hash alone: the one chosen, and the password hasher it is not (settings' first).
        from django.contrib.auth.hashers import check_password, make_password

        encoded = make_password(raw_key)
        hashes = {
            "hash, HMAC-SHA256": [per_call_us(lambda: api_keys.key_hash(raw_key), args.calls)],
            "hash, password hasher": [per_call_us(lambda: check_password(raw_key, encoded), 3)],
        }

    medians = {name: statistics.median(values) for name, values in results.items()}
    print(
        f"rounds: {args.rounds}, calls per round: {args.calls} (auth), "
        f"{max(args.calls // 10, 50)} (request)"
    )
    print(f"{'case':<18} {'median µs/call':>15} {'min':>9} {'max':>9}")
    for name, values in results.items():
        print(f"{name:<18} {medians[name]:>15.1f} {min(values):>9.1f} {max(values):>9.1f}")
    for name, values in hashes.items():
        print(f"{name:<22} {values[0]:>11.1f} µs/call")
    for kind in ("auth", "request"):
        ratio = medians[f"{kind}, key"] / medians[f"{kind}, session"]
        print(f"{kind}: key / session = {ratio:.2f}")
    floor = medians["auth, floor"]
    key, session = medians["auth, key"] - floor, medians["auth, session"] - floor
    print(
        f"auth above the floor: key {key:.1f} µs, session {session:.1f} µs, "
        f"key / session = {key / session:.2f}"
    )


if __name__ == "__main__":
    main()

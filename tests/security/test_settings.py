"""Control-plane settings that cannot be half-set, and signing keyrings only under their prefix.

Before: ``DJANGO_SECRET_KEY_FALLBACKS`` did not exist as a checked list (an empty entry would
have been an empty key), the development ``SECRET_KEY`` was accepted anywhere, there was no
production settings module (``check --deploy`` failed), and ``signature_secret_ref`` accepted
any Secrets Manager id, with errors that told "missing" from "not a keyring".
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from devsite.secret_settings import MIN_LENGTHS, secret, secret_list
from tests.api.conftest import API
from tests.publisher.factories import DomainFactory, LinkFactory

ROOT = Path(__file__).resolve().parents[2]


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "LINK_TRACKING_", "DATABASE_URL", "ALLOWED_HOSTS"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="devsite.settings_production",
        LINK_TRACKING_VAR_DIR=str(tmp_path),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        LINK_TRACKING_PRIVACY_HASH_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="control.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    env.update(overrides)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_for_the_production_settings(tmp_path: Path) -> None:
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DJANGO_SECRET_KEY", "", "must be set"),
        ("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-0123456789", "development value"),
        ("DJANGO_SECRET_KEY", "django-insecure-" + "x1y2z3" * 10, "development value"),
        ("DJANGO_SECRET_KEY", secrets.token_urlsafe(30), "at least 50"),
        ("DJANGO_SECRET_KEY_FALLBACKS", ", ", "empty entry"),
        ("DJANGO_SECRET_KEY_FALLBACKS", secrets.token_urlsafe(48) + ",", "empty entry"),
        ("DJANGO_SECRET_KEY_FALLBACKS", "short", "at least 50"),
        ("LINK_TRACKING_PRIVACY_HASH_KEY", "", "must be set"),
        ("LINK_TRACKING_PRIVACY_HASH_KEY", "a" * 40, "at least 32"),  # one repeated character
        ("DEBUG", "true", "DEBUG"),
        ("ALLOWED_HOSTS", "", "ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_half_set_settings_naming_the_variable(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    result = _manage(_production_env(tmp_path, **{variable: value}), "check")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured")
    assert variable in last and says in last


def test_the_development_settings_refuse_empty_entries_too(tmp_path: Path) -> None:
    env = _production_env(tmp_path, DJANGO_SETTINGS_MODULE="devsite.settings")
    env["DJANGO_SECRET_KEY_FALLBACKS"] = "old-key,"
    result = _manage(env, "check")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY_FALLBACKS has an empty entry" in (
        result.stderr
    )


def test_the_rules_in_one_place() -> None:
    assert MIN_LENGTHS["DJANGO_SECRET_KEY"] == 50
    with pytest.raises(ImproperlyConfigured, match="X_KEYS has an empty entry"):
        secret_list("X_KEYS", ["a", " "], production=False)
    assert secret_list("X_KEYS", [], production=True) == []
    # Development may use the published defaults; production may not.
    assert secret("X_KEY", "dev-only-x", production=False) == "dev-only-x"
    with pytest.raises(ImproperlyConfigured, match="X_KEY is a development value"):
        secret("X_KEY", "dev-only-" + "k3y" * 20, production=True)


# --- signing keyrings -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ref",
    ["prod/database-password", "link-runtime-prod/ip-hash-key", "link-signatures/", "x"],
)
def test_signature_secret_ref_only_names_keyrings_under_the_prefix(
    alice_client: APIClient, account_a: Any, ref: str
) -> None:
    domain = DomainFactory(account=account_a)
    body = {
        "account": account_a.pk,
        "domain": str(domain.pk),
        "destination_url": "https://good.example/",
        "signature_required": True,
        "signature_secret_ref": ref,
    }
    response = alice_client.post(f"{API}/links/", body, format="json")
    assert response.status_code == 400 and list(response.json()) == ["signature_secret_ref"]
    assert "link-signatures/" in str(response.json())


@pytest.mark.django_db
def test_the_prefix_is_configurable(alice_client: APIClient, account_a: Any, settings: Any) -> None:
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "SIGNING_KEYRING_PREFIX": "acme/keys/"}
    domain = DomainFactory(account=account_a)
    body = {
        "account": account_a.pk,
        "domain": str(domain.pk),
        "destination_url": "https://good.example/",
        "signature_required": True,
        "signature_secret_ref": "acme/keys/main",
    }
    assert alice_client.post(f"{API}/links/", body, format="json").status_code == 201


@pytest.mark.django_db
def test_signing_errors_do_not_tell_which_secrets_exist(
    alice_client: APIClient, account_a: Any, aws: None
) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="link-signatures/not-a-keyring", SecretString="hunter2")
    domain = DomainFactory(account=account_a)
    details = {}
    for name in ("link-signatures/not-a-keyring", "link-signatures/no-such-secret"):
        link = LinkFactory(
            account=account_a, domain=domain, signature_required=True, signature_secret_ref=name
        )
        response = alice_client.post(f"{API}/links/{link.pk}/signed-url/", {}, format="json")
        assert response.status_code == 409
        details[name] = response.json()["detail"].replace(name, "<ref>")
    assert len(set(details.values())) == 1, details
    assert "hunter2" not in str(details)

"""Signed URLs: keyring from Secrets Manager (moto), signed with the contract's sign_url and
verifiable with the contract's verify (what the runtime runs)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from rest_framework.test import APIClient

from link_tracking_runtime import keyring_from_secret_string, verify
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db

KEYRING = json.dumps(
    {
        "current": {"kid": "k2", "secret": "s" * 32},
        "previous": [{"kid": "k1", "secret": "p" * 32}],
    }
)


@pytest.fixture
def secret(aws: None) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="link-signatures/signing", SecretString=KEYRING)
    return "link-signatures/signing"


@pytest.fixture
def signed_link(account_a: Any, domain_a: Any, secret: str) -> Any:
    return LinkFactory(
        account=account_a,
        domain=domain_a,
        slug="Secret",
        signature_required=True,
        signature_secret_ref=secret,
        dynamic_param_allowlist=["click_id", "sms_msg_id"],
    )


def _verify(url: str, now: float) -> str:
    parts = urlsplit(url)
    return verify(
        parts.hostname or "",
        parts.path.strip("/"),
        parse_qsl(parts.query),
        keyring_from_secret_string(KEYRING),
        now,
    )


def test_signed_url_verifies_with_the_contract(staff_client: APIClient, signed_link: Any) -> None:
    before = int(time.time())
    response = staff_client.post(
        f"{API}/links/{signed_link.pk}/signed-url/",
        {"expires_in": 3600, "sms_msg_id": "42"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["key_id"] == "k2"
    assert before + 3600 <= data["expires_at"] <= int(time.time()) + 3600
    assert data["url"].startswith("https://a.example.com/Secret?sms_msg_id=42&kid=k2&ts=")
    assert _verify(data["url"], time.time()) == "ok"
    assert _verify(data["url"], data["expires_at"] + 1) == "expired"
    tampered = data["url"].replace("sms_msg_id=42", "sms_msg_id=43")
    assert _verify(tampered, time.time()) == "mismatch"


def test_default_and_maximum_lifetime(
    staff_client: APIClient, signed_link: Any, settings: Any
) -> None:
    settings.LINK_TRACKING = {
        "SIGNED_URL_DEFAULT_TTL_SECONDS": 60,
        "SIGNED_URL_MAX_TTL_SECONDS": 120,
    }
    data = staff_client.post(f"{API}/links/{signed_link.pk}/signed-url/", {}, format="json").json()
    assert data["expires_at"] - time.time() <= 61
    for expires_in in (121, 0, -5, "soon"):
        response = staff_client.post(
            f"{API}/links/{signed_link.pk}/signed-url/", {"expires_in": expires_in}, format="json"
        )
        assert response.status_code == 400 and list(response.json()) == ["expires_in"]


def test_a_link_that_is_not_signed_is_a_conflict(
    staff_client: APIClient, account_a: Any, domain_a: Any, aws: None
) -> None:
    link = LinkFactory(account=account_a, domain=domain_a)
    response = staff_client.post(f"{API}/links/{link.pk}/signed-url/", {}, format="json")
    assert response.status_code == 409 and "does not require" in response.json()["detail"]


def test_a_missing_or_unusable_keyring_is_a_conflict(
    staff_client: APIClient, account_a: Any, domain_a: Any, aws: None
) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="link-signatures/short", SecretString="too-short"
    )
    for ref in ("link-signatures/no-such-secret", "link-signatures/short"):
        link = LinkFactory(
            account=account_a, domain=domain_a, signature_required=True, signature_secret_ref=ref
        )
        response = staff_client.post(f"{API}/links/{link.pk}/signed-url/", {}, format="json")
        assert response.status_code == 409, ref
        assert ref in response.json()["detail"]


def test_secrets_manager_unreachable_is_503(
    staff_client: APIClient, signed_link: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.config import Config

    from link_tracking_publisher import keyrings

    def unreachable() -> Any:
        # Nothing listens on port 9: a connection error, not a bad secret.
        return boto3.session.Session().client(
            "secretsmanager",
            config=Config(
                region_name="us-east-1",
                connect_timeout=0.2,
                read_timeout=0.2,
                retries={"total_max_attempts": 1},
            ),
            endpoint_url="http://127.0.0.1:9",
        )

    monkeypatch.setattr(keyrings, "_secretsmanager", unreachable)
    response = staff_client.post(f"{API}/links/{signed_link.pk}/signed-url/", {}, format="json")
    assert response.status_code == 503
    assert "could not be reached" in response.json()["detail"]

"""Runtime settings that cannot be half-set (``runtime_service.config``).

Before: ``ORIGIN_VERIFY_SECRET=", "`` parsed to no secret at all and turned the origin check
off in production; the published development IP-hash key (``development-only-ip-hash-key``)
and 16-character keys were accepted in production, which makes IPv4 hashes reversible by
enumeration. Now, outside development, each is refused at start-up (exit status 3, naming the
variable, never showing the value); development keeps its defaults.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from runtime_service.config import (
    DEVELOPMENT_IP_HASH_KEY,
    PRODUCTION_KEY_MIN_LENGTH,
    load_settings,
)
from runtime_service.errors import ImproperlyConfigured

GOOD_KEY = "k" * PRODUCTION_KEY_MIN_LENGTH
GOOD_SECRET = "s" * PRODUCTION_KEY_MIN_LENGTH

PRODUCTION = {
    "ENVIRONMENT": "production",
    "AWS_REGION": "eu-west-1",
    "DYNAMODB_TABLE_NAME": "link-runtime-prod",
    "FIREHOSE_STREAM_NAME": "link-click-events",
    "DEFAULT_FALLBACK_URL": "https://www.example.com/link-unavailable",
    "IP_HASH_KEY": GOOD_KEY,
    "ORIGIN_VERIFY_SECRET": GOOD_SECRET,
    "TRUSTED_PROXY_COUNT": "2",
}

HALF_SET = [
    ("ORIGIN_VERIFY_SECRET", ", "),
    ("ORIGIN_VERIFY_SECRET", ","),
    ("ORIGIN_VERIFY_SECRET", f"{GOOD_SECRET},"),
    ("ORIGIN_VERIFY_SECRET", f"{GOOD_SECRET}, ,{GOOD_SECRET}"),
    ("ORIGIN_VERIFY_SECRET", "x" * (PRODUCTION_KEY_MIN_LENGTH - 1)),
    ("IP_HASH_KEY", DEVELOPMENT_IP_HASH_KEY),
    ("IP_HASH_KEY", "k" * (PRODUCTION_KEY_MIN_LENGTH - 1)),
]


def test_well_set_production_settings_load() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.origin_verify_secret == (GOOD_SECRET,)
    assert settings.ip_hash_key == GOOD_KEY.encode()
    rotating = load_settings({**PRODUCTION, "ORIGIN_VERIFY_SECRET": f"{GOOD_SECRET}, {GOOD_KEY}"})
    assert rotating.origin_verify_secret == (GOOD_SECRET, GOOD_KEY)


@pytest.mark.parametrize("environment", ["production", "staging"])
@pytest.mark.parametrize(("name", "value"), HALF_SET)
def test_a_half_set_secret_is_refused_outside_development(
    environment: str, name: str, value: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"^{name}=<secret>: ") as caught:
        load_settings({**PRODUCTION, "ENVIRONMENT": environment, name: value})
    if value.strip(", "):
        assert value.strip(", ") not in str(caught.value)


def test_development_keeps_its_defaults() -> None:
    settings = load_settings({"ENVIRONMENT": "development"})
    assert settings.ip_hash_key == DEVELOPMENT_IP_HASH_KEY.encode()
    assert settings.origin_verify_secret == ()


def test_the_server_does_not_start_with_an_empty_origin_secret_entry() -> None:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYNAMODB_", "FIREHOSE_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", "import runtime_service.asgi"],
        env={**clean, **PRODUCTION, "ORIGIN_VERIFY_SECRET": ", "},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "ORIGIN_VERIFY_SECRET" in result.stderr and "Traceback" not in result.stderr

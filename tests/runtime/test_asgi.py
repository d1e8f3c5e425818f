"""``runtime_service.asgi``: the environment is read once at import; bad values stop it."""

from __future__ import annotations

import os
import subprocess
import sys


def _import(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYNAMODB_", "FIREHOSE_"))
    }
    return subprocess.run(
        [sys.executable, "-c", "import runtime_service.asgi as m; print(type(m.app).__name__)"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_setting_stops_start_up_with_its_name_and_no_traceback() -> None:
    result = _import({"ENVIRONMENT": "development", "CACHE_TTL_SECONDS": "soon"})
    assert result.returncode == 3
    assert "CACHE_TTL_SECONDS" in result.stderr and "Traceback" not in result.stderr


def test_production_without_required_settings_does_not_start() -> None:
    result = _import({"ENVIRONMENT": "production"})
    assert result.returncode == 3 and "is required" in result.stderr


def test_development_starts_with_defaults() -> None:
    result = _import({"ENVIRONMENT": "development"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RuntimeApp"

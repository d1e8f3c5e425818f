from __future__ import annotations

import dataclasses

import pytest

from runtime_service import config
from runtime_service.config import SETTINGS, Settings, declared_settings, load_settings
from runtime_service.errors import ImproperlyConfigured

PRODUCTION = {
    "ENVIRONMENT": "production",
    "AWS_REGION": "eu-west-1",
    "DYNAMODB_TABLE_NAME": "link-runtime-prod",
    "FIREHOSE_STREAM_NAME": "link-click-events",
    "DEFAULT_FALLBACK_URL": "https://www.example.com/link-unavailable",
    "IP_HASH_KEY": "a-production-ip-hash-key-0123456789",
    "ORIGIN_VERIFY_SECRET": "cloudfront-origin-secret-0123456789",
    "TRUSTED_PROXY_COUNT": "2",
}


def test_every_settings_field_is_declared_once_and_the_other_way_round() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert {s.field for s in SETTINGS} == {f.name for f in dataclasses.fields(Settings)}
    for setting in SETTINGS:
        assert setting.description
        if setting.required:
            assert setting.default is None and setting.development_default is not None


def test_settings_are_derived_from_the_fields_declarations() -> None:
    assert [s.field for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    assert SETTINGS == declared_settings(Settings)
    assert SETTINGS[0].name == "ENVIRONMENT"  # load_settings reads it first


def test_a_field_without_a_declaration_cannot_be_added() -> None:
    @dataclasses.dataclass(frozen=True)
    class Declared:
        cache_max_size: int = config._setting("CACHE_MAX_SIZE", "Most records.", default="5")
        forgotten: int = 3

    with pytest.raises(TypeError, match="Declared.forgotten"):
        declared_settings(Declared)
    with pytest.raises(TypeError, match="NEW_SETTING"):
        config._setting("NEW_SETTING", "Neither a default nor a development default.")


def test_the_typed_defaults_are_what_development_gives() -> None:
    """The dataclass's defaults and the declarations agree about the environment: a
    Settings() is what ENVIRONMENT=development reads from an empty environment."""
    assert Settings() == load_settings({"ENVIRONMENT": "development"})
    assert Settings().environment == "development"
    assert load_settings({**PRODUCTION}).environment == "production"
    assert {"ENVIRONMENT", *PRODUCTION} >= {s.name for s in SETTINGS if s.required}


def test_interface_names_the_terraform_side_relies_on() -> None:
    by_name = {s.name: s for s in SETTINGS}
    for name in (
        "DYNAMODB_TABLE_NAME",
        "AWS_REGION",
        "FIREHOSE_STREAM_NAME",
        "DEFAULT_FALLBACK_URL",
    ):
        assert by_name[name].required and not by_name[name].secret
    for name in ("IP_HASH_KEY", "ORIGIN_VERIFY_SECRET"):
        assert by_name[name].required and by_name[name].secret
    assert by_name["CACHE_TTL_SECONDS"].default == "60"
    assert by_name["CACHE_MAX_SIZE"].default == "10000"


def test_production_settings_load() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.aws_region == "eu-west-1"
    assert settings.origin_verify_secret == ("cloudfront-origin-secret-0123456789",)
    assert settings.ip_hash_key == b"a-production-ip-hash-key-0123456789"
    assert settings.cache_ttl_seconds == 60.0
    assert settings.trusted_proxy_count == 2


@pytest.mark.parametrize("missing", [s.name for s in SETTINGS if s.required])
def test_production_refuses_to_start_without_a_required_setting(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ImproperlyConfigured, match=missing):
        load_settings(env)
    with pytest.raises(ImproperlyConfigured, match=missing):
        load_settings({**env, missing: "  "})


def test_aws_default_region_is_read_when_aws_region_is_unset() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "AWS_REGION"}
    assert load_settings({**env, "AWS_DEFAULT_REGION": "eu-west-3"}).aws_region == "eu-west-3"
    both = {**PRODUCTION, "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-3"}
    assert load_settings(both).aws_region == "eu-central-1"  # the runtime's own name wins
    blank = {**env, "AWS_REGION": " ", "AWS_DEFAULT_REGION": "eu-west-3"}
    assert load_settings(blank).aws_region == "eu-west-3"
    with pytest.raises(ImproperlyConfigured, match="AWS_REGION or AWS_DEFAULT_REGION is required"):
        load_settings(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CACHE_TTL_SECONDS", "five"),
        ("CACHE_TTL_SECONDS", "-1"),
        ("CACHE_MAX_SIZE", "0"),
        ("DEFAULT_FALLBACK_URL", "www.example.com/x"),
        ("ENVIRONMENT", "prod"),
        ("RATE_LIMIT_PER_MINUTE", "1.5"),
        ("LOG_LEVEL", "LOUD"),
        ("CACHE_TTL_SECONDS", "nan"),
        ("TRUSTED_PROXY_COUNT", "99"),
        ("DYNAMODB_FALLBACK_REGION", "Frankfurt"),
        ("DYNAMODB_FALLBACK_ENDPOINT_URL", "localhost:5000"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings({**PRODUCTION, name: value})


def test_a_fallback_region_is_read_and_off_by_default() -> None:
    assert load_settings(PRODUCTION).dynamodb_fallback_region == ""
    settings = load_settings(
        {
            **PRODUCTION,
            "DYNAMODB_FALLBACK_REGION": " eu-central-1 ",
            "DYNAMODB_FALLBACK_ENDPOINT_URL": "http://127.0.0.1:5001",
        }
    )
    assert settings.dynamodb_fallback_region == "eu-central-1"
    assert settings.dynamodb_fallback_endpoint_url == "http://127.0.0.1:5001"


def test_a_fallback_region_equal_to_the_own_region_is_refused() -> None:
    with pytest.raises(
        ImproperlyConfigured, match="DYNAMODB_FALLBACK_REGION='eu-west-1'.*AWS_REGION"
    ):
        load_settings({**PRODUCTION, "DYNAMODB_FALLBACK_REGION": "eu-west-1"})
    with pytest.raises(ImproperlyConfigured, match="DYNAMODB_FALLBACK_REGION"):
        load_settings({"ENVIRONMENT": "development", "DYNAMODB_FALLBACK_REGION": "us-east-1"})


def test_a_fallback_endpoint_without_a_fallback_region_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="DYNAMODB_FALLBACK_ENDPOINT_URL.*REGION"):
        load_settings({**PRODUCTION, "DYNAMODB_FALLBACK_ENDPOINT_URL": "http://127.0.0.1:5001"})


def test_a_bad_secret_is_named_but_not_shown() -> None:
    with pytest.raises(ImproperlyConfigured, match="IP_HASH_KEY") as info:
        load_settings({**PRODUCTION, "IP_HASH_KEY": "short-key"})
    assert "short-key" not in str(info.value)


def test_development_fills_required_settings_with_local_defaults() -> None:
    settings = load_settings({"ENVIRONMENT": "development"})
    assert settings.firehose_stream_name == ""
    assert settings.origin_verify_secret == ()
    assert settings.default_fallback_url.startswith("http://localhost")


def test_public_view_masks_secrets() -> None:
    shown = load_settings(PRODUCTION).public()
    assert shown["IP_HASH_KEY"] == "<set>" and shown["ORIGIN_VERIFY_SECRET"] == "<set>"
    assert "0123456789" not in repr(shown)
    assert shown["DYNAMODB_TABLE_NAME"] == "link-runtime-prod"


def test_every_setting_is_documented_in_runtime_md() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "RUNTIME.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in text, f"{setting.name} missing from docs/RUNTIME.md"
    assert (
        "uvicorn runtime_service.asgi:app --http runtime_service.server:RuntimeHttpProtocol --host 127.0.0.1 --port 8080"
        in text
    )
    assert (
        "gunicorn -k runtime_service.server.RuntimeWorker -w 2 -b 0.0.0.0:8000 runtime_service.asgi:app"
        in text
    )

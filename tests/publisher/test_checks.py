from __future__ import annotations

from typing import Any

import pytest

from link_tracking_publisher.checks import check_settings, check_swappable_models


def _ids(**overrides: Any) -> set[str]:
    return {m.id for m in check_settings()}


def test_default_configuration_is_clean() -> None:
    assert check_settings() == []


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("LINK_RUNTIME_TABLE_NAME", "a", "link_tracking.E001"),
        ("LINK_RUNTIME_TABLE_NAME", "bad name!", "link_tracking.E001"),
        ("AWS_REGION", "", "link_tracking.E002"),
        ("LINK_TRACKING", {"SLUG_LENGHT": 8}, "link_tracking.E003"),
        ("LINK_TRACKING", {"SLUG_ALPHABET": "abcdefghijklmnopq"}, "link_tracking.E004"),
        ("LINK_TRACKING", {"SLUG_ALPHABET": "0123456789ABCDEFGH"}, "link_tracking.W001"),
        ("LINK_TRACKING", {"SLUG_LENGTH": 3}, "link_tracking.E005"),
        ("LINK_TRACKING", {"BULK_PUBLISH_CONCURRENCY": 0}, "link_tracking.E006"),
        ("LINK_TRACKING_ACCOUNT_MODEL", "nope.Missing", "link_tracking.E008"),
        ("LINK_TRACKING", {"SHORT_URL_SCHEME": "ftp"}, "link_tracking.E009"),
        ("LINK_TRACKING", {"IMPORT_BATCH_SIZE": 0}, "link_tracking.E011"),
        ("LINK_TRACKING", {"IMPORT_JOB_STUCK_AFTER_SECONDS": "600"}, "link_tracking.E011"),
        (
            "LINK_TRACKING",
            {"IMPORT_MAX_ROWS": 1000, "IMPORT_ASYNC_MAX_ROWS": 999},
            "link_tracking.E011",
        ),
    ],
)
def test_misconfiguration_is_reported(
    settings: Any, setting: str, value: Any, check_id: str
) -> None:
    setattr(settings, setting, value)
    assert check_id in _ids()


def test_the_swappable_models_default_to_the_apps_own(settings: Any) -> None:
    del settings.LINK_TRACKING_ACCOUNT_MODEL
    del settings.LINK_TRACKING_CRM_CAMPAIGN_MODEL
    assert check_swappable_models() == []


@pytest.mark.parametrize(
    ("setting", "label"),
    [
        ("LINK_TRACKING_ACCOUNT_MODEL", "nope.Missing"),  # no such app
        ("LINK_TRACKING_ACCOUNT_MODEL", "auth.Account"),  # no such model
        ("LINK_TRACKING_CRM_CAMPAIGN_MODEL", "campaigns"),  # not a label
    ],
)
def test_a_swappable_model_that_is_not_installed_is_named_with_a_hint(
    settings: Any, setting: str, label: str
) -> None:
    setattr(settings, setting, label)
    [message] = check_swappable_models()
    assert message.id == "link_tracking.E008"
    assert message.msg == f"{setting} refers to {label!r}, which is not an installed model."
    assert "app_label.ModelName" in message.hint
    assert message in check_settings()

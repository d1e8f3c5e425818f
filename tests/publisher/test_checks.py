from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from link_tracking_publisher.checks import check_settings, check_swappable_models
from link_tracking_publisher.conf import SETTINGS, Setting, app_settings

CONFIGURATION_DOC = (Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md").read_text()


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
        ("LINK_TRACKING", {"WEBHOOK_DISABLE_AFTER_FAILURES": 0}, "link_tracking.E011"),
        ("LINK_TRACKING", {"WEBHOOK_DISABLE_AFTER_FAILURES": 2.5}, "link_tracking.E011"),
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


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=lambda setting: setting.key)
def test_every_setting_is_documented_and_refuses_a_value_of_the_wrong_kind(
    settings: Any, setting: Setting
) -> None:
    assert f"`{setting.django_setting or setting.key}`" in CONFIGURATION_DOC
    assert setting.parse(setting.default) == setting.default  # its default is its own
    wrong = object()
    if setting.django_setting:
        setattr(settings, setting.django_setting, wrong)
    else:
        settings.LINK_TRACKING = {setting.key: wrong}
    reported = [e for e in check_settings() if e.id == setting.check_id]
    assert [e for e in reported if setting.label in e.msg], check_settings()
    with pytest.raises(ImproperlyConfigured, match=re.escape(setting.label)):
        getattr(app_settings, setting.key)


def test_a_bound_is_named_in_the_message(settings: Any) -> None:
    settings.LINK_TRACKING = {"CLICK_WEBHOOK_MAX_ATTEMPTS": 0, "AWS_READ_TIMEOUT_SECONDS": "10"}
    messages = {e.msg for e in check_settings()}
    assert "LINK_TRACKING['CLICK_WEBHOOK_MAX_ATTEMPTS'] = 0 must be an integer >= 1." in messages
    assert (
        "LINK_TRACKING['AWS_READ_TIMEOUT_SECONDS'] = '10' must be a number of seconds." in messages
    )


def test_a_dotted_path_is_imported_once_and_again_when_it_changes(settings: Any) -> None:
    from link_tracking_publisher.api.access import StaffAccountAccessPolicy, get_access_policy

    first = get_access_policy()
    assert isinstance(first.policy, StaffAccountAccessPolicy) and get_access_policy() is first
    settings.LINK_TRACKING = {"ACCOUNT_ACCESS_POLICY": "tests.api.policies.GroupMembershipPolicy"}
    assert type(get_access_policy().policy).__name__ == "GroupMembershipPolicy"
    settings.LINK_TRACKING = {"ACCOUNT_ACCESS_POLICY": "link_tracking_publisher.models.Link"}
    with pytest.raises(ImproperlyConfigured, match="not an AccountAccessPolicy"):
        get_access_policy()

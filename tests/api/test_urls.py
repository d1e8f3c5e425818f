"""The API's URLconf: mounted whatever the settings, so the system checks can run."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.test import override_settings

from link_tracking_publisher.api import urls


@pytest.fixture
def reload_urls() -> Iterator[None]:
    yield
    importlib.reload(urls)  # with the test's settings gone again


def test_every_route_is_mounted_before_the_404() -> None:
    assert len(urls.urlpatterns) > 1
    assert urls.urlpatterns[-1].callback is urls.not_found  # type: ignore[union-attr]


@pytest.mark.usefixtures("reload_urls")
@pytest.mark.parametrize(
    "setting", ["LINK_TRACKING_ACCOUNT_MODEL", "LINK_TRACKING_CRM_CAMPAIGN_MODEL"]
)
def test_with_a_model_setting_naming_no_installed_model_only_the_404_is_mounted(
    setting: str,
) -> None:
    # The views need the models; importing them would end `manage.py check` in a traceback
    # before link_tracking.E008 could say which setting is wrong.
    with override_settings(**{setting: "nope.Missing"}):
        importlib.reload(urls)
        [pattern] = urls.urlpatterns
        assert pattern.callback is urls.not_found  # type: ignore[union-attr]

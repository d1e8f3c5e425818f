from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from link_tracking_publisher.conf import app_settings
from link_tracking_publisher.models import Domain, GlobalUTMPolicy, get_account_model

pytestmark = pytest.mark.django_db


def test_global_policy_is_a_true_singleton() -> None:
    policy = GlobalUTMPolicy.load()
    assert GlobalUTMPolicy.load().pk == policy.pk == 1
    GlobalUTMPolicy(default_utm_params={"utm_source": "x"}).save()  # saves onto the one row
    assert GlobalUTMPolicy.objects.count() == 1
    assert GlobalUTMPolicy.load().default_utm_params == {"utm_source": "x"}
    with pytest.raises(IntegrityError):
        GlobalUTMPolicy.objects.bulk_create([GlobalUTMPolicy(id=2)])  # the database refuses it
    with pytest.raises(ValidationError):
        policy.delete()


@pytest.mark.parametrize(
    "name",
    ["Go.Example.com", "go.example.com.", "https://go.example.com", "go", "go_x.example.com"],
)
def test_domain_names_are_canonical_hosts(name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Domain(domain_name=name).full_clean()
    assert "domain_name" in exc.value.message_dict


def test_swappable_account_model_is_the_configured_one() -> None:
    assert get_account_model()._meta.label == "crm.Account"


def test_app_settings_follow_setting_changes(settings: Any) -> None:
    assert app_settings.RUNTIME_TABLE_NAME == "link-runtime-prod"
    settings.LINK_RUNTIME_TABLE_NAME = "link-runtime-dev"
    settings.LINK_TRACKING = {"SLUG_LENGTH": 9}
    assert app_settings.RUNTIME_TABLE_NAME == "link-runtime-dev"
    assert app_settings.SLUG_LENGTH == 9
    with pytest.raises(AttributeError):
        app_settings.NOT_A_SETTING  # noqa: B018

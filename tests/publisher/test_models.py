from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from link_tracking_publisher.conf import (
    ACCOUNT_MODEL_SETTING,
    CRM_CAMPAIGN_MODEL_SETTING,
    SWAPPABLE_MODELS,
    app_settings,
    swappable_model,
)
from link_tracking_publisher.models import (
    Account,
    CrmCampaign,
    Domain,
    GlobalUTMPolicy,
    get_account_model,
    get_crm_campaign_model,
)

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
    assert get_crm_campaign_model()._meta.label == "crm.Campaign"


def test_the_default_models_are_swapped_out_by_the_settings() -> None:
    assert Account._meta.swapped == "crm.Account"
    assert CrmCampaign._meta.swapped == "crm.Campaign"
    # Their CreateModel in 0001_initial made no table, and the admin leaves them out.
    tables = set(connection.introspection.table_names())
    assert {"crm_account", "crm_campaign"} <= tables
    assert not {"link_tracking_account", "link_tracking_crmcampaign"} & tables
    assert not admin.site.is_registered(Account)
    assert not admin.site.is_registered(CrmCampaign)


def test_without_settings_the_app_uses_its_own_models(settings: Any) -> None:
    del settings.LINK_TRACKING_ACCOUNT_MODEL
    del settings.LINK_TRACKING_CRM_CAMPAIGN_MODEL
    assert swappable_model(ACCOUNT_MODEL_SETTING) == "link_tracking.Account"
    assert swappable_model(CRM_CAMPAIGN_MODEL_SETTING) == "link_tracking.CrmCampaign"
    assert apps.get_model(SWAPPABLE_MODELS[ACCOUNT_MODEL_SETTING]) is Account
    assert apps.get_model(SWAPPABLE_MODELS[CRM_CAMPAIGN_MODEL_SETTING]) is CrmCampaign
    # A default CRM campaign belongs to an account (the access policy scopes by it).
    assert CrmCampaign._meta.get_field("account").related_model is get_account_model()


def test_app_settings_follow_setting_changes(settings: Any) -> None:
    assert app_settings.RUNTIME_TABLE_NAME == "link-runtime-prod"
    settings.LINK_RUNTIME_TABLE_NAME = "link-runtime-dev"
    settings.LINK_TRACKING = {"SLUG_LENGTH": 9}
    assert app_settings.RUNTIME_TABLE_NAME == "link-runtime-dev"
    assert app_settings.SLUG_LENGTH == 9
    with pytest.raises(AttributeError):
        app_settings.NOT_A_SETTING  # noqa: B018

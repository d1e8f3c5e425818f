"""Serializer fields shared by the API's serializers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models import Model, Q, QuerySet
from rest_framework import serializers

from ..models import Domain, LinkCampaign, get_account_model, get_crm_campaign_model
from .access import get_access_policy
from .parsers import any_json_string

__all__ = [
    "AccountField",
    "CampaignField",
    "CrmCampaignField",
    "DomainField",
    "SafeJSONField",
    "StrictCharField",
    "StrictModelSerializer",
    "pk_serializer_field",
]


def pk_serializer_field(model: type[Model]) -> serializers.Field:
    """A serializer field for ``model``'s primary key values (strict: ``1.5`` is no integer)."""
    mapping = serializers.ModelSerializer.serializer_field_mapping
    field_class: type[serializers.Field] = serializers.CharField
    for klass in type(model._meta.pk).__mro__:
        if klass in mapping:
            field_class = mapping[klass]
            break
    return field_class()


class StrictCharField(serializers.CharField):
    """Text that must be a JSON string: DRF's CharField would take ``12`` or ``1.5`` and store
    ``"12"``, which the schema (``type: string``) says is invalid."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class BoundedListField(serializers.ListField):
    """A list whose length is checked before its items: a request with a million items is
    refused at once, not after a million child validations."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return list(super().to_internal_value(data))


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose text fields take strings only."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }


class SafeJSONField(serializers.JSONField):
    """A JSON field that refuses NUL characters (no database column can store them)."""

    default_error_messages = {"null_character": "Text may not contain NUL characters."}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if any_json_string(value, lambda text: "\x00" in text):
            self.fail("null_character")
        return value


class _ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A primary key of an object the requesting user may reach; any other id is simply
    "does not exist" (its existence is not revealed)."""

    model: Callable[[], type[Model]]

    def __init__(self, **kwargs: Any) -> None:
        model = type(self).model()
        kwargs.setdefault("queryset", model._default_manager.all())
        kwargs.setdefault("pk_field", pk_serializer_field(model))
        super().__init__(**kwargs)

    def accounts(self) -> QuerySet[Model]:
        request = self.context.get("request")
        return get_access_policy().accounts(getattr(request, "user", None))


class AccountField(_ScopedPrimaryKeyField):
    model = staticmethod(get_account_model)

    def get_queryset(self) -> QuerySet[Model]:
        return self.accounts()


class DomainField(_ScopedPrimaryKeyField):
    """A domain of one of the user's accounts, or a shared one."""

    model = staticmethod(lambda: Domain)

    def get_queryset(self) -> QuerySet[Model]:
        return Domain.objects.filter(Q(account__in=self.accounts()) | Q(account__isnull=True))


class CampaignField(_ScopedPrimaryKeyField):
    model = staticmethod(lambda: LinkCampaign)

    def get_queryset(self) -> QuerySet[Model]:
        return LinkCampaign.objects.filter(account__in=self.accounts())


class CrmCampaignField(_ScopedPrimaryKeyField):
    """A CRM campaign the link campaign in the context (``link_campaign``) may map to."""

    model = staticmethod(get_crm_campaign_model)

    def get_queryset(self) -> QuerySet[Model]:
        request = self.context.get("request")
        campaign = self.context.get("link_campaign")
        if campaign is None:
            return get_crm_campaign_model()._default_manager.none()
        return get_access_policy().crm_campaigns(getattr(request, "user", None), campaign.account)

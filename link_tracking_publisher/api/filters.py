"""Filtering, search and ordering of the list endpoints."""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django.db.models import Model, QuerySet
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from link_tracking_runtime.record import canonical_slug

from ..models import (
    TAG_NAME_MAX_LENGTH,
    Channel,
    Domain,
    Link,
    LinkCampaign,
    LinkImport,
    PrivacyRequest,
    PublishOutbox,
    Tag,
    get_account_model,
)
from .access import get_access_policy

__all__ = [
    "CampaignFilter",
    "DomainFilter",
    "LinkFilter",
    "LinkImportFilter",
    "PrivacyRequestFilter",
    "PublishOutboxFilter",
    "SearchFilter",
    "TagFilter",
]


def _accounts(request: Request | None) -> QuerySet[Model]:
    if request is None:  # schema generation
        return get_account_model()._default_manager.none()
    return get_access_policy().accounts(request.user)


class _AccountFilterSet(django_filters.FilterSet):
    # Scoped: an account the user cannot reach is "not a valid choice", like one that does
    # not exist, so filtering cannot probe for ids.
    # django-filter also takes a callable of the request; its stubs only say a queryset.
    account = django_filters.ModelChoiceFilter(queryset=_accounts)  # type: ignore[arg-type]


class DomainFilter(_AccountFilterSet):
    shared = django_filters.BooleanFilter(
        field_name="account", lookup_expr="isnull", label="Shared domains only (no account)."
    )

    class Meta:
        model = Domain
        fields = ["account", "active", "status", "purpose"]


class CampaignFilter(_AccountFilterSet):
    campaign_id = django_filters.CharFilter()

    class Meta:
        model = LinkCampaign
        fields = ["account", "active", "campaign_id"]


class LinkFilter(_AccountFilterSet):
    domain = django_filters.UUIDFilter(field_name="domain_id")
    campaign = django_filters.UUIDFilter(field_name="campaign_id")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    keyword = django_filters.CharFilter(lookup_expr="iexact")
    campaign_identifier = django_filters.CharFilter()
    slug = django_filters.CharFilter(method="filter_slug", label="Slug, in any case.")
    tag = django_filters.CharFilter(
        method="filter_tag",
        max_length=TAG_NAME_MAX_LENGTH,
        label="A tag's id, or its name in any case: the links carrying it.",
    )

    class Meta:
        model = Link
        fields = ["account", "domain", "campaign", "channel", "active", "keyword", "tag"]

    def filter_slug(self, queryset: QuerySet[Link], name: str, value: str) -> QuerySet[Link]:
        return queryset.filter(slug_canonical=canonical_slug(value))

    def filter_tag(self, queryset: QuerySet[Link], name: str, value: str) -> QuerySet[Link]:
        # A link carries only tags of its own account, and each name once (unique per
        # account): one join, no duplicates, and another account's tag matches nothing.
        try:
            return queryset.filter(tags__id=uuid.UUID(value))
        except ValueError:
            return queryset.filter(tags__name__iexact=value)


class TagFilter(_AccountFilterSet):
    name = django_filters.CharFilter(lookup_expr="iexact", label="Name, in any case.")

    class Meta:
        model = Tag
        fields = ["account", "name"]


class PublishOutboxFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PublishOutbox.Status.choices)
    link = django_filters.UUIDFilter(field_name="link_id")
    domain = django_filters.UUIDFilter(
        field_name="domain_id", help_text="A domain's app-links record publishes."
    )

    class Meta:
        model = PublishOutbox
        fields = ["status", "link", "domain"]


class PrivacyRequestFilter(_AccountFilterSet):
    class Meta:
        model = PrivacyRequest
        fields = ["account", "status", "request_type", "subject_type"]


class LinkImportFilter(_AccountFilterSet):
    class Meta:
        model = LinkImport
        fields = ["account", "status", "mode", "dry_run"]


class SearchFilter(filters.SearchFilter):
    """DRF's search, refusing NUL characters (PostgreSQL cannot compare text with them)."""

    def get_search_terms(self, request: Request) -> list[Any]:
        value = request.query_params.get(self.search_param, "")
        if "\x00" in value:
            raise ValidationError({self.search_param: ["Text may not contain NUL characters."]})
        return list(super().get_search_terms(request))

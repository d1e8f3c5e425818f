"""Click statistics, per-message clicks and click webhooks in the API (account-scoped)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import django_filters
from django.db.models import Model, QuerySet
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ..clicks import messages as message_export
from ..clicks import webhooks as click_webhooks
from ..clicks.stats import RangeTooLong, click_stats, stats_csv_rows
from ..clicks.webhooks import CANCELLED_REASON, retry_deliveries
from ..models import (
    ApiKey,
    ClickWebhook,
    ClickWebhookDelivery,
    Link,
    LinkCampaign,
    MessageClick,
    Tag,
)
from ..services.link_csv import spreadsheet_safe
from ..services.webhooks import enable_webhook
from . import click_serializers as s
from . import examples
from .exceptions import Conflict
from .pagination import LinkTrackingCursorPagination
from .schema import extend_schema
from .views import JSONErrorsNegotiation, LinkTrackingAPIMixin

Scope = ApiKey.Scope

__all__ = [
    "CampaignStatsView",
    "ClickWebhookDeliveryViewSet",
    "ClickWebhookViewSet",
    "LinkStatsView",
    "MessageClickExportView",
    "MessageClickViewSet",
    "TagStatsView",
]


class StatsCSVRenderer(BaseRenderer):
    """``?format=csv`` (or ``Accept: text/csv``): the statistics as CSV rows; an error as
    ``field,message`` rows."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, dict) and "breakdowns" in data:
            rows = stats_csv_rows(data)
            response = (renderer_context or {}).get("response")
            if response is not None:
                response["Content-Disposition"] = 'attachment; filename="click-stats.csv"'
        else:
            rows = [["field", "message"]]
            for key, value in (data or {}).items():
                for message in value if isinstance(value, list) else [value]:
                    rows.append([key, message])
        writer.writerows([spreadsheet_safe(value) for value in row] for row in rows)
        return out.getvalue().encode(self.charset)


_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class _StatsView(LinkTrackingAPIMixin, generics.GenericAPIView):
    renderer_classes = [JSONRenderer, StatsCSVRenderer]
    pagination_class = None
    filter_backends: list[Any] = []
    serializer_class = s.ClickStatsSerializer
    model: type[Model]

    def scoped(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get(self, request: Request, id: str) -> Response:
        try:
            pk = uuid.UUID(id)
        except ValueError:
            raise Http404 from None
        # The range is checked first: a refused one never reaches the database.
        query = s.StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        obj = get_object_or_404(self.scoped(), pk=pk)
        try:
            stats = click_stats(
                obj, since=params.get("from"), until=params.get("to"), interval=params["interval"]
            )
        except RangeTooLong as exc:  # no "from": the range is known once the data is read
            raise ValidationError({"interval": [s.too_many_points(exc)]}) from None
        return Response(s.ClickStatsSerializer(stats).data)


_STATS_DOC = (
    "Clicks (human and bot apart), distinct human visitors, first and last click, a time "
    "series and breakdowns by country, device, A/B variant, outcome and channel, and the bot "
    "clicks by bot_reason (user_agent, prefetch_header, head, behaviour; unknown for clicks "
    "recorded before the runtime said why), over whole UTC hours in [from, to) (the "
    "breakdowns over the whole UTC days the range touches: breakdowns_from, breakdowns_to). "
    "?format=csv for the same as CSV."
)


@extend_schema(
    parameters=[_ID, s.StatsQuerySerializer],
    responses={200: s.ClickStatsSerializer},
    description=_STATS_DOC,
)
class LinkStatsView(_StatsView):
    """Click statistics of one link."""

    permission_model = Link  # read-only: any other method is a 405
    api_key_scopes = {"read": Scope.STATS_READ}

    def scoped(self) -> QuerySet[Any]:
        return Link.objects.filter(account__in=self.accounts())


@extend_schema(
    parameters=[_ID, s.StatsQuerySerializer],
    responses={200: s.ClickStatsSerializer},
    description=_STATS_DOC + " The campaign's figures are those of its links now.",
)
class CampaignStatsView(_StatsView):
    """Click statistics of a campaign: all its links together."""

    permission_model = LinkCampaign  # read-only: any other method is a 405
    api_key_scopes = {"read": Scope.STATS_READ}

    def scoped(self) -> QuerySet[Any]:
        return LinkCampaign.objects.filter(account__in=self.accounts())


@extend_schema(
    parameters=[_ID, s.StatsQuerySerializer],
    responses={200: s.ClickStatsSerializer},
    description=_STATS_DOC
    + " The tag's figures are those of the links tagged now, summed from each link's "
    "statistics; a visitor of several of them counts once.",
)
class TagStatsView(_StatsView):
    """Click statistics of a tag: all the links it is on together."""

    permission_model = Tag  # read-only: any other method is a 405
    api_key_scopes = {"read": Scope.STATS_READ}

    def scoped(self) -> QuerySet[Any]:
        return Tag.objects.filter(account__in=self.accounts())


class MessageClickFilter(django_filters.FilterSet):
    sms_msg_id = django_filters.CharFilter(help_text="The message id the SMS link carried.")
    link = django_filters.UUIDFilter(field_name="link_id")
    campaign = django_filters.UUIDFilter(field_name="link__campaign_id")

    class Meta:
        model = MessageClick
        fields = ["sms_msg_id", "link", "campaign"]


class MessageClickViewSet(LinkTrackingAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per-message attribution: for each ``sms_msg_id`` (and link it carried), human and bot
    clicks, the first human click and the last click. Exact. Paged with a cursor (follow
    ``next``); a whole campaign streams from ``campaigns/{id}/message-clicks/export/``."""

    permission_model = MessageClick
    api_key_scopes = {"read": Scope.STATS_READ}

    serializer_class = s.MessageClickSerializer
    filterset_class = MessageClickFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    pagination_class = LinkTrackingCursorPagination
    # Non-null columns only (a cursor compares them); the default is the order of the
    # message_click_unique index, so any page is one range scan of it.
    ordering_fields = ["link_id", "sms_msg_id", "last_click_at", "human_clicks"]
    ordering = ["link_id", "sms_msg_id"]

    def get_queryset(self) -> QuerySet[MessageClick]:
        return MessageClick.objects.filter(link__account__in=self.accounts()).select_related("link")


@extend_schema(
    parameters=[_ID, s.MessageClickExportQuerySerializer],
    responses={
        (200, "text/csv"): OpenApiTypes.STR,
        (200, "application/x-ndjson"): OpenApiTypes.STR,
    },
    description="All of the campaign's message clicks, streamed (no pagination), by link and "
    "message id: " + ", ".join(message_export.COLUMNS) + ". The same rows as "
    "message-clicks/?campaign={id}, in one answer whatever their number.",
)
class MessageClickExportView(LinkTrackingAPIMixin, generics.GenericAPIView):
    """A campaign's message clicks as one CSV or NDJSON stream."""

    permission_model = LinkCampaign  # read-only: any other method is a 405
    api_key_scopes = {"read": Scope.STATS_READ}
    pagination_class = None
    filter_backends: list[Any] = []
    content_negotiation_class = JSONErrorsNegotiation  # ?format= is the export's own

    def get(self, request: Request, id: str) -> StreamingHttpResponse:
        try:
            pk = uuid.UUID(id)
        except ValueError:
            raise Http404 from None
        campaign = get_object_or_404(
            LinkCampaign.objects.filter(account__in=self.accounts()), pk=pk
        )
        query = s.MessageClickExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        export_format = query.validated_data["format"]
        response = StreamingHttpResponse(
            message_export.stream(message_export.campaign_rows(campaign.pk), export_format),
            content_type=message_export.FORMATS[export_format],
        )
        response["Content-Disposition"] = (
            f'attachment; filename="message-clicks-{campaign.pk}.{export_format}"'
        )
        return response


@extend_schema_view(
    create=extend_schema(
        request=s.ClickWebhookSerializer,
        responses={201: s.ClickWebhookSecretSerializer},
        examples=examples.request("webhooks.create"),
    ),
    partial_update=extend_schema(
        request=s.ClickWebhookUpdateSerializer,
        responses={200: s.ClickWebhookSerializer},
        examples=examples.request("webhooks.partial_update"),
    ),
)
class ClickWebhookViewSet(LinkTrackingAPIMixin, viewsets.ModelViewSet):
    """Click webhooks: a signed HTTPS POST per click of the account's links (docs:
    "Click webhooks"). The signing secret is generated on creation and shown in that answer
    and in rotate-secret's, never again."""

    permission_model = ClickWebhook
    api_key_scopes = {"read": Scope.WEBHOOKS_MANAGE, "write": Scope.WEBHOOKS_MANAGE}

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_class = s.ClickWebhookSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["created_at", "url"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[ClickWebhook]:
        return ClickWebhook.objects.filter(account__in=self.accounts())

    def get_serializer_class(self) -> type[Any]:
        if self.action == "partial_update":
            return s.ClickWebhookUpdateSerializer
        return s.ClickWebhookSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = serializer.save(secret=click_webhooks.new_secret())
        return Response(
            s.ClickWebhookSecretSerializer(webhook, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook = self.get_object()
        serializer = self.get_serializer(webhook, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(
            s.ClickWebhookSerializer(webhook, context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=None,
        responses={200: s.ClickWebhookSecretSerializer},
        description="A new signing secret, shown only in this answer. For "
        "CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS (24 hours by default) deliveries carry a "
        "signature by the previous secret too, so receivers can switch without a refusal.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        webhook = self.get_object()
        click_webhooks.rotate_secret(webhook)
        return Response(
            s.ClickWebhookSecretSerializer(webhook, context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=None,
        responses={200: s.ClickWebhookSerializer},
        description="Switch on a webhook switched off after WEBHOOK_DISABLE_AFTER_FAILURES "
        "consecutive failed deliveries (disabled_at set): the failure count, disabled_at and "
        "disabled_reason are cleared, and the deliveries held while it was off are sent "
        "again from their first attempt. A webhook that is on is left as it is.",
    )
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        webhook = self.get_object()
        enable_webhook(webhook, actor=request.user)
        return Response(
            s.ClickWebhookSerializer(webhook, context=self.get_serializer_context()).data
        )


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ClickWebhookDelivery.Status.choices)
    webhook = django_filters.UUIDFilter(field_name="webhook_id")

    class Meta:
        model = ClickWebhookDelivery
        fields = ["status", "webhook", "event_id"]


class ClickWebhookDeliveryViewSet(LinkTrackingAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The click webhook outbox: each notification's status, attempts and last error. Paged
    with a cursor (a delivery per click and webhook: it grows with the clicks)."""

    permission_model = ClickWebhookDelivery
    pagination_class = LinkTrackingCursorPagination
    api_key_scopes = {"read": Scope.WEBHOOKS_MANAGE, "write": Scope.WEBHOOKS_MANAGE}

    serializer_class = s.ClickWebhookDeliverySerializer
    filterset_class = DeliveryFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["created_at", "next_attempt_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[ClickWebhookDelivery]:
        return ClickWebhookDelivery.objects.filter(webhook__account__in=self.accounts())

    @extend_schema(
        request=None,
        responses={202: s.ClickWebhookDeliverySerializer},
        description="Send a failed delivery again, from its first attempt (409 unless failed; "
        "a delivery cancelled by an erasure request is never sent again).",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        delivery = self.get_object()
        outcome = retry_deliveries(ClickWebhookDelivery.objects.filter(pk=delivery.pk))
        if outcome.cancelled:
            raise Conflict(CANCELLED_REASON)
        if not outcome.queued:
            raise Conflict("Only a failed delivery can be retried.")
        delivery.refresh_from_db()
        return Response(
            s.ClickWebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED
        )

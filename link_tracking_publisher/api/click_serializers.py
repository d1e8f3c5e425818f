"""Serializers of the click statistics, per-message clicks and click webhooks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from ..clicks.messages import FORMATS as MESSAGE_EXPORT_FORMATS
from ..clicks.stats import (
    BREAKDOWNS,
    EARLIEST,
    INTERVALS,
    LATEST,
    MAX_POINTS,
    RangeTooLong,
    check_range,
)
from ..clicks.webhooks import secret_hint
from ..models import ClickWebhook, ClickWebhookDelivery, MessageClick
from ..validators import validate_webhook_url
from .fields import AccountField, StrictModelSerializer

__all__ = [
    "ClickStatsSerializer",
    "ClickWebhookDeliverySerializer",
    "ClickWebhookSecretSerializer",
    "ClickWebhookSerializer",
    "ClickWebhookUpdateSerializer",
    "MessageClickExportQuerySerializer",
    "MessageClickSerializer",
    "StatsQuerySerializer",
    "too_many_points",
]


def too_many_points(error: RangeTooLong) -> str:
    return f"Too many points ({error}); use interval=day or a shorter range."


class StatsQuerySerializer(serializers.Serializer):
    """``from``/``to`` (ISO 8601; whole UTC hours are selected) and the series interval, all
    checked here, before any query: each end between :data:`EARLIEST` and :data:`LATEST`,
    ``to`` after ``from``, at most :data:`MAX_POINTS` points (a range without ``to`` runs
    to now)."""

    to = serializers.DateTimeField(
        required=False, help_text="End (exclusive); hours starting before it are counted."
    )
    interval = serializers.ChoiceField(
        choices=list(INTERVALS),
        default="day",
        help_text="Time series step; at most "
        + ", ".join(f"{n} points by {name}" for name, n in MAX_POINTS.items())
        + ".",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # "from" is a Python keyword, so it cannot be a class attribute.
        fields["from"] = serializers.DateTimeField(
            required=False, help_text="Start (inclusive), rounded down to the hour."
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        for name, value in (("from", start), ("to", end)):
            if value is not None and not EARLIEST <= value <= LATEST:
                raise serializers.ValidationError(
                    {name: [f"Between {EARLIEST.isoformat()} and {LATEST.isoformat()}."]}
                )
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"to": ["Must be later than from."]})
        try:
            check_range(start, end, attrs["interval"])
        except RangeTooLong as exc:
            raise serializers.ValidationError({"interval": [too_many_points(exc)]}) from None
        return attrs


class _CountsSerializer(serializers.Serializer):
    clicks = serializers.IntegerField()
    human_clicks = serializers.IntegerField()
    bot_clicks = serializers.IntegerField()


class _PointSerializer(_CountsSerializer):
    start = serializers.DateTimeField(help_text="Start of the hour or UTC day.")


class _BreakdownItemSerializer(_CountsSerializer):
    value = serializers.CharField(
        help_text='The dimension\'s value; "" when unknown (bot_reason: "unknown").'
    )


class _BreakdownsSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: _BreakdownItemSerializer(many=True) for name in BREAKDOWNS}


class ClickStatsSerializer(_CountsSerializer):
    """Click statistics of a link or a campaign (the sum of its links)."""

    interval = serializers.ChoiceField(choices=list(INTERVALS))
    scans = serializers.IntegerField(
        help_text="Clicks from a QR code's scan (the click event's channel is qr): the QR "
        "code's URL carries the scan marker ?qr=1."
    )
    human_scans = serializers.IntegerField(help_text="Scans not by bots.")
    unique_visitors = serializers.IntegerField(help_text="Distinct human visitors (IP hash).")
    unique_visitors_exact = serializers.BooleanField(
        help_text="True: counted exactly from the database. Statistics computed by Athena at "
        "scale use approx_distinct (HyperLogLog, standard error 2.3%) and say false."
    )
    first_click_at = serializers.DateTimeField(allow_null=True)
    last_click_at = serializers.DateTimeField(allow_null=True)
    series = _PointSerializer(many=True, help_text="Every period of the range, zeros included.")
    breakdowns_from = serializers.DateTimeField(
        allow_null=True,
        help_text="Breakdowns are kept per UTC day: they count the whole days from this "
        "midnight (null: from the first click).",
    )
    breakdowns_to = serializers.DateTimeField(
        allow_null=True, help_text="… to this midnight, exclusive (null: to the last click)."
    )
    breakdowns = _BreakdownsSerializer()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(allow_null=True)
        fields["to"] = serializers.DateTimeField(allow_null=True)
        return fields


class MessageClickSerializer(StrictModelSerializer):
    campaign = serializers.UUIDField(source="link.campaign_id", allow_null=True, read_only=True)

    class Meta:
        model = MessageClick
        fields = [
            "sms_msg_id",
            "link",
            "campaign",
            "human_clicks",
            "bot_clicks",
            "first_human_click_at",
            "last_click_at",
        ]
        read_only_fields = fields


class MessageClickExportQuerySerializer(serializers.Serializer):
    """``?format=`` of a campaign's message-click export."""

    format = serializers.ChoiceField(
        choices=sorted(MESSAGE_EXPORT_FORMATS),
        default="csv",
        help_text="csv (a header row, then a row per message id and link) or ndjson (a JSON "
        "object per line, as the message-clicks list's results).",
    )


class ClickWebhookSerializer(StrictModelSerializer):
    """A click webhook as it is read: the signing secret only as a hint (it is shown once, by
    :class:`ClickWebhookSecretSerializer`, on creation and rotation)."""

    account = AccountField()
    url = serializers.URLField(max_length=2048, help_text="HTTPS endpoint to POST clicks to.")
    secret_hint = serializers.SerializerMethodField(
        help_text="The signing secret's last characters, to tell secrets apart; the secret "
        "itself is shown once, in the answer to the create and rotate-secret requests."
    )

    class Meta:
        model = ClickWebhook
        fields = [
            "id",
            "account",
            "url",
            "include_bots",
            "active",
            "description",
            "secret_hint",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "consecutive_failures": {
                "help_text": "Deliveries given up in a row since the last one delivered; at "
                "WEBHOOK_DISABLE_AFTER_FAILURES the webhook is switched off."
            },
            "disabled_at": {
                "help_text": "When it was switched off (null: on). Its deliveries are held, "
                "not sent, until POST webhooks/{id}/enable/ switches it on and replays them."
            },
            "disabled_reason": {
                "help_text": "Why it was switched off: the count and the last delivery's error."
            },
        }

    def get_secret_hint(self, webhook: ClickWebhook) -> str:
        return secret_hint(webhook.secret)

    def validate_url(self, value: str) -> str:
        try:
            validate_webhook_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value


class ClickWebhookSecretSerializer(ClickWebhookSerializer):
    """The answer to creating a webhook or rotating its secret: the only time the signing
    secret is shown."""

    secret = serializers.CharField(
        read_only=True,
        help_text="Verify each request's webhook-signature with it. Shown only now: store it.",
    )

    class Meta(ClickWebhookSerializer.Meta):
        fields = [*ClickWebhookSerializer.Meta.fields, "secret"]


class ClickWebhookUpdateSerializer(ClickWebhookSerializer):
    class Meta(ClickWebhookSerializer.Meta):
        read_only_fields = [*ClickWebhookSerializer.Meta.read_only_fields, "account"]


class ClickWebhookDeliverySerializer(StrictModelSerializer):
    payload = serializers.DictField(read_only=True, help_text="The body that is POSTed.")

    class Meta:
        model = ClickWebhookDelivery
        fields = [
            "id",
            "webhook",
            "event_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "updated_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields

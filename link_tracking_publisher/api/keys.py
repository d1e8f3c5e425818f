"""``api-keys/``: the API keys of the user's accounts (list, create, revoke, rotate).

The key itself is in the answers to create and rotate only; lists show its prefix. Keys are
managed by users, never with a key (the view declares no API-key scope). The workflow is
:mod:`link_tracking_publisher.services.api_keys`, the one the admin uses.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from ..models import ApiKey
from ..services import api_keys as api_key_service
from .fields import AccountField, StrictModelSerializer
from .schema import extend_schema
from .views import LinkTrackingAPIMixin

__all__ = ["ApiKeyCreateSerializer", "ApiKeySecretSerializer", "ApiKeySerializer", "ApiKeyViewSet"]


class ApiKeySerializer(StrictModelSerializer):
    """An API key as it is listed: its prefix, never its secret."""

    account = AccountField()
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Scope.choices),
        max_length=len(api_key_service.SCOPES),
        help_text="What the key may do: " + ", ".join(api_key_service.SCOPES) + ".",
    )
    created_by = serializers.SerializerMethodField()
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "account",
            "name",
            "prefix",
            "scopes",
            "expires_at",
            "last_used_at",
            "revoked",
            "revoked_at",
            "rotated_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_created_by(self, key: ApiKey) -> str | None:
        return key.created_by.get_username() if key.created_by else None

    def get_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None


class ApiKeyCreateSerializer(ApiKeySerializer):
    """What a new key needs: its account, a name, its scopes and (optionally) an expiry."""

    class Meta(ApiKeySerializer.Meta):
        read_only_fields = [
            "id",
            "prefix",
            "last_used_at",
            "revoked_at",
            "rotated_at",
            "created_at",
        ]


class ApiKeySecretSerializer(ApiKeySerializer):
    """A key as created or rotated: with the key itself, shown in this answer only."""

    key = serializers.SerializerMethodField(
        help_text="The key to send as `Authorization: Bearer <key>`. Shown only in this answer; "
        "only its hash is stored."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields

    def get_key(self, key: ApiKey) -> str:
        return str(self.context["raw_key"])


class ApiKeyViewSet(
    LinkTrackingAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """API keys of the user's accounts. Revoked keys stay listed (they are named by the audit
    trail of what they changed)."""

    permission_model = ApiKey
    serializer_class = ApiKeySerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["created_at", "name", "last_used_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[ApiKey]:
        return ApiKey.objects.filter(account__in=self.accounts()).select_related("created_by")

    def get_serializer_class(self) -> type[Any]:
        return ApiKeyCreateSerializer if self.action == "create" else ApiKeySerializer

    def _with_secret(self, key: ApiKey, raw: str, code: int) -> Response:
        context = {**self.get_serializer_context(), "raw_key": raw}
        return Response(ApiKeySecretSerializer(key, context=context).data, status=code)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeySecretSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw = api_key_service.create_api_key(user=request.user, **serializer.validated_data)
        return self._with_secret(key, raw, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: ApiKeySerializer},
        description="Revoke the key now: requests made with it answer 401 from then on.",
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = api_key_service.revoke_api_key(self.get_object(), user=request.user)
        return Response(ApiKeySerializer(key, context=self.get_serializer_context()).data)

    @extend_schema(
        request=None,
        responses={200: ApiKeySecretSerializer},
        description="A new secret for the key (same prefix, scopes and expiry), shown only in "
        "this answer; the old one stops working now. A revoked key cannot be rotated (409).",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        key, raw = api_key_service.rotate_api_key(self.get_object(), user=request.user)
        return self._with_secret(key, raw, status.HTTP_200_OK)

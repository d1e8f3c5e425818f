"""The API's views: thin edges that parse input, check access and call the service layer.

Every queryset is scoped by the account access policy (:mod:`.access`), so another account's
objects are simply not found (404), nested routes included.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import BasePagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, ValidationError

from .. import message_links
from .. import outbox as outbox_state
from ..clicks import orphans
from ..models import (
    ApiKey,
    Domain,
    GlobalUTMPolicy,
    Link,
    LinkCampaign,
    LinkCampaignCrmCampaignMapping,
    LinkImport,
    PrivacyRequest,
    PublishOutbox,
    Tag,
)
from ..services import api_keys as api_key_service
from ..services import campaigns as campaign_service
from ..services import domains as domain_service
from ..services import link_csv, publishing, utm_policy
from ..services import links as link_service
from ..services import privacy as privacy_service
from ..services import qr as qr_service
from ..services import tags as tag_service
from ..services.bulk import bulk_create_links
from ..services.crm_mappings import create_mapping, delete_mapping, update_mapping
from ..services.import_jobs import start_import
from ..services.preview import SimulatedClick, preview_link
from ..services.signed_urls import signed_url
from . import examples
from . import serializers as s
from .access import AccountAccessPolicy, get_access_policy
from .authentication import ApiKeyAuthentication, presents_api_key
from .exceptions import exception_handler
from .filters import (
    CampaignFilter,
    DomainFilter,
    LinkFilter,
    LinkImportFilter,
    PrivacyRequestFilter,
    PublishOutboxFilter,
    SearchFilter,
    TagFilter,
)
from .pagination import LinkTrackingPagination
from .parsers import StrictJSONParser
from .permissions import (
    HasAccountAccess,
    HasApiKeyScope,
    HasModelPermission,
    SharedObjectsStaffOnly,
)
from .schema import ErrorSerializer, LinkTrackingAutoSchema, extend_schema
from .throttling import ApiKeyRateThrottle, BulkRateThrottle, WriteRateThrottle

__all__ = [
    "CampaignViewSet",
    "CrmMappingViewSet",
    "DomainViewSet",
    "LinkImportViewSet",
    "LinkViewSet",
    "PrivacyRequestViewSet",
    "PublishOutboxViewSet",
    "TagViewSet",
    "UTMPolicyView",
]

Scope = ApiKey.Scope

if TYPE_CHECKING:
    # The mixin is only ever combined with DRF's generic views: checked as one, its attributes
    # are checked against the ones they override there.
    _APIViewBase = generics.GenericAPIView
else:
    _APIViewBase = object


class LinkTrackingAPIMixin(_APIViewBase):
    """What every view of the API shares: access policy, JSON only, errors, schema."""

    permission_classes = [
        HasAccountAccess,
        HasApiKeyScope,
        HasModelPermission,
        SharedObjectsStaffOnly,
    ]
    throttle_classes = [WriteRateThrottle, BulkRateThrottle, ApiKeyRateThrottle]
    #: The model whose Django permissions a write needs (HasModelPermission).
    permission_model: type[Any]
    #: The API-key scope each request needs (HasApiKeyScope): by action, else ``"read"`` for
    #: safe methods and ``"write"`` for the others; none: API keys may not use the view.
    api_key_scopes: dict[str, str] = {}
    parser_classes = [StrictJSONParser]
    pagination_class: type[BasePagination] | None = LinkTrackingPagination
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    schema = LinkTrackingAutoSchema()
    # Any id the router passes on (dots included) is looked up, and a bad one is a JSON 404.
    lookup_value_regex = "[^/]+"
    request: Request

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_authenticate_header(self, request: Request) -> str:
        # A refused API key is a 401 with its scheme's challenge, wherever the host listed
        # ApiKeyAuthentication (DRF asks the first class only).
        if presents_api_key(request):
            for authenticator in request.authenticators or ():
                if isinstance(authenticator, ApiKeyAuthentication):
                    return authenticator.authenticate_header(request)
        return super().get_authenticate_header(request)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(request, Request):
            api_key_service.record_request(
                request.user, request.method or "", request.path, response.status_code
            )
        return response

    @property
    def policy(self) -> AccountAccessPolicy:
        return get_access_policy()

    def accounts(self) -> QuerySet[Any]:
        return self.policy.accounts(self.request.user)


def _respond(serializer_class: type[BaseSerializer], obj: Any, view: Any, code: int) -> Response:
    return Response(serializer_class(obj, context=view.get_serializer_context()).data, status=code)


class _ServiceWritesViewSet(LinkTrackingAPIMixin, viewsets.ModelViewSet):
    """A viewset that creates and changes through its aggregate's service (:meth:`_create`,
    :meth:`_update`), validates a ``partial_update`` with ``update_serializer_class``, and
    answers with the object as the list shows it (read again through ``get_queryset``)."""

    serializer_class: type[BaseSerializer]
    update_serializer_class: type[BaseSerializer]

    def _create(self, user: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _update(self, obj: Any, user: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "partial_update":
            return self.update_serializer_class
        return self.serializer_class

    def _fresh(self, pk: Any) -> Any:
        return self.get_queryset().get(pk=pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self._create(request.user, serializer.validated_data)
        return _respond(self.serializer_class, self._fresh(obj.pk), self, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        serializer = self.get_serializer(obj, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self._update(obj, request.user, serializer.validated_data)
        return _respond(self.serializer_class, self._fresh(obj.pk), self, status.HTTP_200_OK)


# --- domains -------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=s.DomainSerializer,
        responses={201: s.DomainSerializer},
        examples=examples.request("domains.create"),
    ),
    partial_update=extend_schema(
        request=s.DomainUpdateSerializer,
        responses={200: s.DomainSerializer},
        examples=examples.request("domains.partial_update"),
    ),
)
class DomainViewSet(LinkTrackingAPIMixin, viewsets.ModelViewSet):
    """Short-link domains: the user's accounts' own, and shared ones (no account)."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_model = Domain
    api_key_scopes = {
        "read": Scope.LINKS_READ,
        "write": Scope.LINKS_WRITE,
        "orphan_clicks": Scope.STATS_READ,
    }
    serializer_class = s.DomainSerializer
    filterset_class = DomainFilter
    search_fields = ["domain_name"]
    ordering_fields = ["domain_name", "created_at", "health_score"]
    ordering = ["domain_name"]

    def get_queryset(self) -> QuerySet[Domain]:
        return Domain.objects.filter(Q(account__in=self.accounts()) | Q(account__isnull=True))

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "partial_update":
            return s.DomainUpdateSerializer
        return s.DomainSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data.get("account") is None and not self.policy.may_manage_shared(request.user):
            raise ValidationError(
                {"account": ["Choose one of your accounts; only staff add shared domains."]}
            )
        domain = domain_service.create_domain(user=request.user, **data)
        return _respond(s.DomainSerializer, domain, self, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        domain = self.get_object()
        serializer = self.get_serializer(domain, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        domain = domain_service.update_domain(
            domain, user=request.user, **serializer.validated_data
        )
        return _respond(s.DomainSerializer, domain, self, status.HTTP_200_OK)

    def perform_destroy(self, instance: Domain) -> None:
        instance.delete()  # links PROTECT their domain: a domain in use is a 409

    @extend_schema(
        request=None,
        responses={202: s.DomainSerializer},
        description="Look for the domain's ownership TXT record now (a Celery task; follow "
        "`verified_at` and `verification`). The record name and value are in `verification`.",
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        domain = self.get_object()
        domain_service.request_ownership_check(domain)
        return _respond(s.DomainSerializer, domain, self, status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[s.OrphanClicksQuerySerializer],
        responses={200: s.OrphanClicksSerializer},
        description="Clicks on no link of the domain (orphan clicks: a mistyped, guessed or "
        "never-published slug), from the ingested click events: the most clicked missing slugs "
        "and the counts by UTC day. The runtime sent those visitors to the domain's "
        "not_found_url.",
    )
    @action(detail=True, methods=["get"], url_path="orphan-clicks", filter_backends=[])
    def orphan_clicks(self, request: Request, pk: str | None = None) -> Response:
        domain = self.get_object()
        query = s.OrphanClicksQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = orphans.orphan_summary(domain, now=time.time(), **query.validated_data)
        return Response(s.OrphanClicksSerializer(summary).data)


# --- campaigns -----------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=s.CampaignSerializer,
        responses={201: s.CampaignSerializer},
        examples=examples.request("campaigns.create"),
    ),
    partial_update=extend_schema(
        request=s.CampaignUpdateSerializer,
        responses={200: s.CampaignSerializer},
        examples=examples.request("campaigns.partial_update"),
    ),
)
class CampaignViewSet(_ServiceWritesViewSet):
    """Link campaigns, with the CRM campaigns they are mapped to."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_model = LinkCampaign
    api_key_scopes = {"read": Scope.LINKS_READ, "write": Scope.LINKS_WRITE}
    serializer_class = s.CampaignSerializer
    update_serializer_class = s.CampaignUpdateSerializer
    filterset_class = CampaignFilter
    search_fields = ["name", "campaign_id", "description"]
    ordering_fields = ["name", "campaign_id", "created_at", "start_date", "end_date"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[LinkCampaign]:
        return LinkCampaign.objects.filter(account__in=self.accounts()).prefetch_related(
            "crm_campaign_mappings"
        )

    def _create(self, user: Any, data: dict[str, Any]) -> LinkCampaign:
        return campaign_service.create_campaign(user=user, **data)

    def _update(self, obj: LinkCampaign, user: Any, data: dict[str, Any]) -> None:
        campaign_service.update_campaign(obj, user=user, **data)

    def perform_destroy(self, instance: LinkCampaign) -> None:
        instance.delete()  # links PROTECT their campaign: a campaign in use is a 409


# --- tags ----------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=s.TagSerializer,
        responses={201: s.TagSerializer},
        examples=examples.request("tags.create"),
    ),
    partial_update=extend_schema(
        request=s.TagUpdateSerializer,
        responses={200: s.TagSerializer},
        examples=examples.request("tags.partial_update"),
    ),
    destroy=extend_schema(description="Delete the tag; the links that carried it lose it."),
)
class TagViewSet(_ServiceWritesViewSet):
    """An account's tags on its links (``links/?tag=`` lists a tag's links,
    ``tags/{id}/stats/`` their clicks). Tags are not published: changing them changes no
    runtime record."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_model = Tag
    api_key_scopes = {"read": Scope.LINKS_READ, "write": Scope.LINKS_WRITE}
    serializer_class = s.TagSerializer
    update_serializer_class = s.TagUpdateSerializer
    filterset_class = TagFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "link_count"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Tag]:
        return Tag.objects.filter(account__in=self.accounts()).annotate(link_count=Count("links"))

    def _create(self, user: Any, data: dict[str, Any]) -> Tag:
        return tag_service.create_tag(user=user, **data)

    def _update(self, obj: Tag, user: Any, data: dict[str, Any]) -> None:
        tag_service.update_tag(obj, user=user, **data)

    def perform_destroy(self, instance: Tag) -> None:
        tag_service.delete_tag(instance, user=self.request.user)


_CAMPAIGN_PARAM = OpenApiParameter(
    "link_campaign_uuid", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Link campaign id."
)
_MAPPING_PARAM = OpenApiParameter(
    "mapping_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Mapping id."
)


@extend_schema_view(
    list=extend_schema(parameters=[_CAMPAIGN_PARAM]),
    create=extend_schema(
        parameters=[_CAMPAIGN_PARAM],
        request=s.CrmMappingSerializer,
        responses={201: s.CrmMappingSerializer},
        examples=examples.request("crm-mappings.create"),
    ),
    retrieve=extend_schema(parameters=[_CAMPAIGN_PARAM, _MAPPING_PARAM]),
    partial_update=extend_schema(
        parameters=[_CAMPAIGN_PARAM, _MAPPING_PARAM],
        request=s.CrmMappingUpdateSerializer,
        responses={200: s.CrmMappingSerializer},
        examples=examples.request("crm-mappings.partial_update"),
    ),
    destroy=extend_schema(parameters=[_CAMPAIGN_PARAM, _MAPPING_PARAM]),
)
class CrmMappingViewSet(
    LinkTrackingAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A link campaign's CRM campaign mappings (``campaigns/{uuid}/crm-mappings/``)."""

    serializer_class = s.CrmMappingSerializer
    permission_model = LinkCampaignCrmCampaignMapping
    api_key_scopes = {"read": Scope.LINKS_READ, "write": Scope.LINKS_WRITE}
    lookup_url_kwarg = "mapping_id"
    filter_backends = [OrderingFilter]
    ordering_fields = ["created_at", "start_date", "end_date"]
    ordering = ["-created_at"]
    _campaign: LinkCampaign | None = None

    def get_campaign(self) -> LinkCampaign:
        """The campaign in the URL, if it is one the user may reach (else 404)."""
        if self._campaign is None:
            try:
                pk = uuid.UUID(str(self.kwargs.get("link_campaign_uuid", "")))
            except ValueError:
                raise Http404 from None
            self._campaign = get_object_or_404(
                LinkCampaign.objects.filter(account__in=self.accounts()), pk=pk
            )
        return self._campaign

    def get_queryset(self) -> QuerySet[LinkCampaignCrmCampaignMapping]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return LinkCampaignCrmCampaignMapping.objects.none()
        return LinkCampaignCrmCampaignMapping.objects.filter(link_campaign=self.get_campaign())

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "partial_update":
            return s.CrmMappingUpdateSerializer
        return s.CrmMappingSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        # A dict already; djangorestframework-stubs 3.18 (the Django 6 leg's) says Mapping.
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False) and "link_campaign_uuid" in self.kwargs:
            context["link_campaign"] = self.get_campaign()
        return context

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_campaign()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mapping = create_mapping(campaign, user=request.user, **serializer.validated_data)
        return _respond(s.CrmMappingSerializer, mapping, self, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mapping = self.get_object()
        serializer = self.get_serializer(mapping, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        mapping = update_mapping(mapping, user=request.user, **serializer.validated_data)
        return _respond(s.CrmMappingSerializer, mapping, self, status.HTTP_200_OK)

    def perform_destroy(self, instance: LinkCampaignCrmCampaignMapping) -> None:
        delete_mapping(instance, user=self.request.user)


# --- UTM policy ----------------------------------------------------------------------------


@extend_schema_view(patch=extend_schema(examples=examples.request("utm-policy.partial_update")))
class UTMPolicyView(LinkTrackingAPIMixin, generics.RetrieveUpdateAPIView):
    """The global UTM policy (a singleton): every authorised user reads it; staff change it,
    and every link is republished after a change."""

    serializer_class = s.UTMPolicySerializer
    permission_model = GlobalUTMPolicy
    api_key_scopes = {"read": Scope.LINKS_READ, "write": Scope.LINKS_WRITE}
    shared_singleton = True
    pagination_class = None
    filter_backends: list[Any] = []
    http_method_names = ["get", "put", "patch", "head", "options"]

    def get_object(self) -> GlobalUTMPolicy:
        policy = GlobalUTMPolicy.objects.filter(id=GlobalUTMPolicy.SINGLETON_ID).first()
        policy = policy or GlobalUTMPolicy()  # nothing saved yet: the empty defaults
        self.check_object_permissions(self.request, policy)
        return policy

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        policy = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(policy, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data.get("default_utm_params", policy.default_utm_params)
        policy = utm_policy.update_global_utm_policy(params, user=request.user)
        return _respond(s.UTMPolicySerializer, policy, self, status.HTTP_200_OK)


# --- links ---------------------------------------------------------------------------------


class JSONErrorsNegotiation(DefaultContentNegotiation):
    """For views whose ``?format=`` is their own parameter: JSON answers (errors) whatever
    the query string or Accept header say; the view returns its own content otherwise."""

    def select_renderer(
        self, request: Request, renderers: Iterable[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        json = next(r for r in renderers if r.media_type == "application/json")
        return json, json.media_type


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _links(accounts: QuerySet[Any]) -> QuerySet[Link]:
    outbox = PublishOutbox.objects.filter(link=OuterRef("pk"))
    return (
        Link.objects.filter(account__in=accounts)
        .select_related("domain", "campaign")
        .prefetch_related("tags")
        .annotate(
            latest_publish_status=Subquery(
                outbox.order_by("-runtime_version", "-id").values("status")[:1]
            ),
            published_version=Subquery(
                outbox.filter(
                    status=PublishOutbox.Status.COMPLETE, result__in=outbox_state.WRITTEN_RESULTS
                )
                .values("link")
                .annotate(v=Max("runtime_version"))
                .values("v")[:1]
            ),
        )
    )


_PREVIEW_PARAMS = [s.PreviewQuerySerializer]


@extend_schema_view(
    create=extend_schema(
        request=s.LinkCreateSerializer,
        responses={201: s.LinkSerializer},
        examples=examples.request("links.create"),
    ),
    partial_update=extend_schema(
        request=s.LinkUpdateSerializer,
        responses={200: s.LinkSerializer},
        examples=examples.request("links.partial_update"),
    ),
)
class LinkViewSet(
    LinkTrackingAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Short links. Every change goes through the service layer (a new version, an outbox
    entry, a publish after commit). Links are not deleted: unpublish (deactivate) them."""

    serializer_class = s.LinkSerializer
    permission_model = Link
    api_key_scopes = {
        "read": Scope.LINKS_READ,
        "write": Scope.LINKS_WRITE,
        "import_csv": Scope.IMPORT,
        "sms_urls": Scope.LINKS_WRITE,
    }
    filterset_class = LinkFilter
    search_fields = ["slug_canonical", "keyword", "destination_url", "campaign_identifier"]
    ordering_fields = [
        "created_at",
        "updated_at",
        "slug_canonical",
        "keyword",
        "channel",
        "runtime_version",
    ]
    ordering = ["-created_at"]
    extra_error_responses = {
        "signed_url": {"503": ErrorSerializer},
        "sms_urls": {"503": ErrorSerializer},
    }

    def get_queryset(self) -> QuerySet[Link]:
        return _links(self.accounts())

    def get_serializer_class(self) -> type[BaseSerializer]:
        serializers: dict[str | None, type[BaseSerializer]] = {
            "create": s.LinkCreateSerializer,
            "partial_update": s.LinkUpdateSerializer,
            "bulk": s.LinkBulkCreateSerializer,
            "publish": s.LinkActionSerializer,
            "unpublish": s.LinkActionSerializer,
            "signed_url": s.SignedURLRequestSerializer,
            "sms_urls": s.SMSURLsRequestSerializer,
            "versions": s.LinkVersionSerializer,
        }
        return serializers.get(self.action, s.LinkSerializer)

    def _fresh(self, link: Link) -> Link:
        return self.get_queryset().get(pk=link.pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        link = link_service.create_link(
            account=data.pop("account"),
            domain=data.pop("domain"),
            destination_url=data.pop("destination_url"),
            slug=data.pop("slug", "") or None,
            user=request.user,
            reason=reason or "created through the API",
            **data,
        )
        return _respond(s.LinkSerializer, self._fresh(link), self, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        link = self.get_object()
        serializer = self.get_serializer(link, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        link_service.update_link(link, user=request.user, reason=reason, **data)
        return _respond(s.LinkSerializer, self._fresh(link), self, status.HTTP_200_OK)

    @extend_schema(
        request=s.LinkBulkCreateSerializer,
        responses={201: s.LinkBulkCreateResultSerializer},
        examples=examples.request("links.bulk"),
        description="One link per keyword, all or nothing. Errors of single keywords come "
        'back as {"keywords": {"<index>": ["message"]}}.',
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        links = bulk_create_links(
            keywords=data.pop("keywords"),
            account=data.pop("account"),
            domain=data.pop("domain"),
            destination_url=data.pop("destination_url"),
            user=request.user,
            reason=data.pop("reason", "") or "bulk created through the API",
            **data,
        )
        fresh = {link.pk: link for link in self.get_queryset().filter(pk__in=[x.pk for x in links])}
        body = {"count": len(links), "results": [fresh[link.pk] for link in links]}
        return _respond(s.LinkBulkCreateResultSerializer, body, self, status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": s.LinkImportSerializer},
        responses={
            200: s.LinkImportResultSerializer,
            201: s.LinkImportResultSerializer,
            202: s.LinkImportJobSerializer,
            400: s.LinkImportResultSerializer,
        },
        description="Import links from a CSV file, each through the service layer (versioned, "
        "outboxed, published); mode all_or_nothing (the default) or per_row. A file of at most "
        "IMPORT_MAX_ROWS rows is imported now: dry_run=true checks every row and answers 200 "
        "with the errors, writing nothing; an import answers 201 (per_row: with the rows left "
        "out in errors), or 400 with every error (row, column, message) when nothing was "
        "written. A longer file, up to IMPORT_ASYNC_MAX_ROWS rows, is stored and imported by "
        "a worker: 202 with the import job, whose URL (Location) gives its progress and "
        "errors. A file that cannot be read at all is a 400 at once.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser],
        filter_backends=[],
        pagination_class=None,
    )
    def import_csv(self, request: Request) -> Response:
        serializer = s.LinkImportSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = start_import(
            data["file"].read(),
            file_name=data["file"].name,
            account=data["account"],
            domain=data.get("domain"),
            user=request.user,
            reason=data.get("reason", "") or "imported from CSV through the API",
            dry_run=data["dry_run"],
            per_row=data["mode"] == LinkImport.Mode.PER_ROW,
        )
        if isinstance(outcome, LinkImport):
            response = _respond(s.LinkImportJobSerializer, outcome, self, status.HTTP_202_ACCEPTED)
            response["Location"] = request.build_absolute_uri(
                reverse("link_tracking_api:link-import-detail", args=[outcome.pk])
            )
            return response
        result = outcome
        fresh = {x.pk: x for x in self.get_queryset().filter(pk__in=[x.pk for x in result.links])}
        body = {
            "dry_run": result.dry_run,
            "rows": result.rows,
            "created": len(result.links),
            "errors": [error.as_dict() for error in result.errors],
            "links": [fresh[link.pk] for link in result.links],
        }
        code: int
        if result.dry_run:
            code = status.HTTP_200_OK
        elif result.errors and not result.links:
            code = status.HTTP_400_BAD_REQUEST
        else:
            code = status.HTTP_201_CREATED
        return _respond(s.LinkImportResultSerializer, body, self, code)

    @extend_schema(
        filters=True,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="The links the list would give for the same filters, search and ordering, "
        "all of them (no pagination), as CSV streamed row by row: "
        + ", ".join(link_csv.EXPORT_COLUMNS)
        + ". Click counts are all time, from the click statistics.",
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        content_negotiation_class=JSONErrorsNegotiation,
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        links = link_csv.with_click_counts(self.filter_queryset(self.get_queryset()))
        rows = link_csv.export_rows(links.iterator(chunk_size=1000))
        response = StreamingHttpResponse(
            link_csv.stream_csv(rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="links.csv"'
        return response

    @extend_schema(
        parameters=_PREVIEW_PARAMS,
        responses={200: s.PreviewSerializer},
        description="What the runtime will do with one simulated click on the link as it is "
        "now: the record is built as the publisher builds it and run through the contract's "
        "policy check, routing and URL builder.",
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request, pk: str | None = None) -> Response:
        link = self.get_object()
        query = s.PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        at = params.get("at")
        click = SimulatedClick(
            country=params.get("country"),
            user_agent=params.get("user_agent") or None,
            accept_language=params.get("accept_language") or None,
            sms_msg_id=params.get("sms_msg_id"),
            visitor_key=params.get("visitor_key"),
            at=at.timestamp() if at else None,
            scan=params["scan"],
        )
        result = preview_link(link, click)
        return Response(s.PreviewSerializer(result).data)

    def _change_active(self, request: Request, active: bool) -> Response:
        link = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data.get("reason", "")
        if link.active == active and active:
            link_service.republish_link(link)
        else:
            link_service.set_link_active(link, active, user=request.user, reason=reason)
        return _respond(s.LinkSerializer, self._fresh(link), self, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=s.LinkActionSerializer,
        responses={202: s.LinkSerializer},
        description="Activate the link and publish it (an active link is published again).",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        return self._change_active(request, True)

    @extend_schema(
        request=s.LinkActionSerializer,
        responses={202: s.LinkSerializer},
        description="Deactivate the link: its record is republished inactive, so the runtime "
        "sends visitors to the fallback URL.",
    )
    @action(detail=True, methods=["post"])
    def unpublish(self, request: Request, pk: str | None = None) -> Response:
        return self._change_active(request, False)

    @extend_schema(
        request=s.SignedURLRequestSerializer,
        responses={200: s.SignedURLSerializer},
        description="A signed short URL for a link with signature_required, signed with the "
        "keyring in Secrets Manager under its signature_secret_ref.",
    )
    @action(detail=True, methods=["post"], url_path="signed-url")
    def signed_url(self, request: Request, pk: str | None = None) -> Response:
        link = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signed = signed_url(
            link,
            expires_in=serializer.validated_data.get("expires_in"),
            sms_msg_id=serializer.validated_data.get("sms_msg_id"),
        )
        return Response(s.SignedURLSerializer(signed).data)

    @extend_schema(
        request=s.SMSURLsRequestSerializer,
        responses={200: s.SMSURLsSerializer},
        description="The SMS URL of each message of a send, in order. On a domain with a "
        "message_keyring, per-message links (https://{domain}/{slug}/{token}: the short URL "
        "and at most ten characters; the token names the message and cannot be made up for "
        "another one); the click event, message-clicks/ and the webhooks carry the host's "
        "message id, which the URL never shows. Otherwise the short URL with ?sms_msg_id=. "
        "An id issued before on the link gets the same URL.",
    )
    @action(detail=True, methods=["post"], url_path="sms-urls")
    def sms_urls(self, request: Request, pk: str | None = None) -> Response:
        link = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["message_ids"]
        urls = message_links.sms_urls(link, ids)
        pairs = [{"message_id": m, "url": u} for m, u in zip(ids, urls, strict=True)]
        return Response({"urls": pairs})  # the schema is SMSURLsSerializer's

    @extend_schema(
        parameters=[s.QRQuerySerializer],
        responses={
            (200, "image/svg+xml"): OpenApiTypes.STR,
            (200, "image/png"): OpenApiTypes.BINARY,
        },
        description="The QR code of the link's short URL, made with segno: SVG for print, PNG "
        "for screens. A size outside the allowed range, or too small for the code, is a 400 "
        "on size. The code encodes the short URL with the scan marker `?qr=1`: a scan's click "
        "event has channel `qr` (the stats' `scans` and channel breakdown count it); the marker "
        "is not forwarded to the destination.",
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=None,
        # ?format= picks the image format here, not a DRF renderer: errors stay JSON.
        content_negotiation_class=JSONErrorsNegotiation,
    )
    def qr(self, request: Request, pk: str | None = None) -> HttpResponse:
        link = self.get_object()
        query = s.QRQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            code = qr_service.link_qr_code(
                link,
                fmt=params["format"],
                size=params["size"],
                error=params["error_correction"],
                margin=params["margin"],
            )
        except qr_service.QRTooSmall as exc:
            raise ValidationError({"size": [str(exc)]}) from None
        response = HttpResponse(code.content, content_type=code.content_type)
        name = f"qr-{link.domain.domain_name}-{link.slug}.{params['format']}"
        response["Content-Disposition"] = f'inline; filename="{_safe_filename(name)}"'
        return response

    @extend_schema(responses={200: s.LinkVersionSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        link = self.get_object()
        page = self.paginate_queryset(
            link.versions.select_related("changed_by_api_key").order_by("-version")
        )
        serializer = s.LinkVersionSerializer(page, many=True)
        return self.get_paginated_response(serializer.data)


# --- outbox --------------------------------------------------------------------------------


class PublishOutboxViewSet(LinkTrackingAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The publish outbox of the user's links: one entry per published version."""

    serializer_class = s.PublishOutboxSerializer
    permission_model = PublishOutbox
    api_key_scopes = {"read": Scope.LINKS_READ, "write": Scope.LINKS_WRITE}
    filterset_class = PublishOutboxFilter
    ordering_fields = ["created_at", "updated_at", "runtime_version"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[PublishOutbox]:
        accounts = self.accounts()
        return PublishOutbox.objects.filter(
            Q(link__account__in=accounts) | Q(domain__account__in=accounts)
        )

    @extend_schema(
        request=None,
        responses={202: s.PublishOutboxSerializer},
        description="Send a failed entry round again (409 unless it failed).",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        entry = publishing.retry_failed_publish(self.get_object())
        return _respond(s.PublishOutboxSerializer, entry, self, status.HTTP_202_ACCEPTED)


# --- CSV import jobs ------------------------------------------------------------------------


class LinkImportViewSet(
    LinkTrackingAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """CSV imports run by a worker (``POST links/import/`` of a file longer than
    IMPORT_MAX_ROWS): their status, progress and errors. Read only."""

    serializer_class = s.LinkImportJobSerializer
    permission_model = LinkImport
    api_key_scopes = {"read": Scope.IMPORT, "write": Scope.IMPORT}
    filterset_class = LinkImportFilter
    ordering_fields = ["created_at", "status"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[LinkImport]:
        # The file itself is not shown, and not read for a list.
        return LinkImport.objects.filter(account__in=self.accounts()).defer("content")


# --- privacy requests ----------------------------------------------------------------------


@extend_schema_view(create=extend_schema(examples=examples.request("privacy-requests.create")))
class PrivacyRequestViewSet(
    LinkTrackingAPIMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Data-subject requests (access, erasure), processed by the configured processor."""

    serializer_class = s.PrivacyRequestSerializer
    permission_model = PrivacyRequest
    filterset_class = PrivacyRequestFilter
    ordering_fields = ["created_at", "updated_at", "status"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[PrivacyRequest]:
        return PrivacyRequest.objects.filter(account__in=self.accounts())

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = privacy_service.create_privacy_request(
            user=self.request.user, **serializer.validated_data
        )

    @extend_schema(
        request=None,
        responses={202: s.PrivacyRequestSerializer},
        description="Process a failed request again (409 unless it failed).",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        entry = privacy_service.retry_privacy_request(self.get_object())
        return _respond(s.PrivacyRequestSerializer, entry, self, status.HTTP_202_ACCEPTED)

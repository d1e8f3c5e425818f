"""The API's routes (:mod:`link_tracking_publisher.api.urls` mounts them).

The OpenAPI 3 schema is served at ``schema/`` (``?format=json`` for JSON), with Swagger UI at
``schema/swagger-ui/``.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from .click_views import (
    CampaignStatsView,
    ClickWebhookDeliveryViewSet,
    ClickWebhookViewSet,
    LinkStatsView,
    MessageClickExportView,
    MessageClickViewSet,
    TagStatsView,
)
from .keys import ApiKeyViewSet
from .schema import SchemaView, SwaggerView
from .views import (
    CampaignViewSet,
    CrmMappingViewSet,
    DomainViewSet,
    LinkImportViewSet,
    LinkViewSet,
    PrivacyRequestViewSet,
    PublishOutboxViewSet,
    TagViewSet,
    UTMPolicyView,
)

router = SimpleRouter()
router.register("domains", DomainViewSet, basename="domain")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("tags", TagViewSet, basename="tag")
router.register("links", LinkViewSet, basename="link")
router.register("link-imports", LinkImportViewSet, basename="link-import")
router.register("publish-outbox", PublishOutboxViewSet, basename="publish-outbox")
router.register("privacy-requests", PrivacyRequestViewSet, basename="privacy-request")
router.register("message-clicks", MessageClickViewSet, basename="message-click")
router.register("webhooks", ClickWebhookViewSet, basename="webhook")
router.register("webhook-deliveries", ClickWebhookDeliveryViewSet, basename="webhook-delivery")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

mappings = CrmMappingViewSet.as_view({"get": "list", "post": "create"})
mapping = CrmMappingViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "campaigns/<str:link_campaign_uuid>/crm-mappings/",
        mappings,
        name="campaign-crm-mapping-list",
    ),
    path(
        "campaigns/<str:link_campaign_uuid>/crm-mappings/<str:mapping_id>/",
        mapping,
        name="campaign-crm-mapping-detail",
    ),
    path("links/<str:id>/stats/", LinkStatsView.as_view(), name="link-stats"),
    path("campaigns/<str:id>/stats/", CampaignStatsView.as_view(), name="campaign-stats"),
    path("tags/<str:id>/stats/", TagStatsView.as_view(), name="tag-stats"),
    path(
        "campaigns/<str:id>/message-clicks/export/",
        MessageClickExportView.as_view(),
        name="campaign-message-clicks-export",
    ),
    path("utm-policy/", UTMPolicyView.as_view(), name="utm-policy"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path(
        "schema/swagger-ui/",
        SwaggerView.as_view(url_name="link_tracking_api:schema"),
        name="swagger-ui",
    ),
    path("", include(router.urls)),
]

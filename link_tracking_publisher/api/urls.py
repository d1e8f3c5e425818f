"""The API's URLs. Mount them under ``api/link_tracking/``::

    path("api/link_tracking/", include("link_tracking_publisher.api.urls")),

The OpenAPI 3 schema is served at ``schema/`` (``?format=json`` for JSON), with Swagger UI at
``schema/swagger-ui/``. Any other path under the prefix answers a JSON 404.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from .click_views import (
    CampaignStatsView,
    ClickWebhookDeliveryViewSet,
    ClickWebhookViewSet,
    LinkStatsView,
    MessageClickViewSet,
)
from .schema import SchemaView, SwaggerView
from .views import (
    CampaignViewSet,
    CrmMappingViewSet,
    DomainViewSet,
    LinkImportViewSet,
    LinkViewSet,
    PrivacyRequestViewSet,
    PublishOutboxViewSet,
    UTMPolicyView,
)

app_name = "link_tracking_api"

router = SimpleRouter()
router.register("domains", DomainViewSet, basename="domain")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("links", LinkViewSet, basename="link")
router.register("link-imports", LinkImportViewSet, basename="link-import")
router.register("publish-outbox", PublishOutboxViewSet, basename="publish-outbox")
router.register("privacy-requests", PrivacyRequestViewSet, basename="privacy-request")
router.register("message-clicks", MessageClickViewSet, basename="message-click")
router.register("webhooks", ClickWebhookViewSet, basename="webhook")
router.register("webhook-deliveries", ClickWebhookDeliveryViewSet, basename="webhook-delivery")

mappings = CrmMappingViewSet.as_view({"get": "list", "post": "create"})
mapping = CrmMappingViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)


@csrf_exempt  # any method, any body: it answers 404 and changes nothing
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown paths under the API answer like the API does, in JSON."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
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
    path("utm-policy/", UTMPolicyView.as_view(), name="utm-policy"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path(
        "schema/swagger-ui/",
        SwaggerView.as_view(url_name="link_tracking_api:schema"),
        name="swagger-ui",
    ),
    path("", include(router.urls)),
    re_path(r"^(?P<path>.*)$", not_found),
]

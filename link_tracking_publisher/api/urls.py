"""The API's URLs. Mount them under ``api/link_tracking/``::

    path("api/link_tracking/", include("link_tracking_publisher.api.urls")),

The OpenAPI 3 schema is served at ``schema/`` (``?format=json`` for JSON), with Swagger UI at
``schema/swagger-ui/``. Any other path under the prefix answers a JSON 404.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt

from ..checks import unresolved_swappable_models

app_name = "link_tracking_api"


@csrf_exempt  # any method, any body: it answers 404 and changes nothing
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown paths under the API answer like the API does, in JSON."""
    return JsonResponse({"detail": "Not found."}, status=404)


if unresolved_swappable_models():
    # The views cannot be defined without the account and CRM campaign models, and the system
    # checks import this URLconf: mounting only the 404 lets `manage.py check` say which setting
    # is wrong (link_tracking.E008) instead of ending in a traceback.
    routes: list[URLPattern | URLResolver] = []
else:
    from . import routes as _routes

    routes = _routes.urlpatterns

urlpatterns = [*routes, re_path(r"^(?P<path>.*)$", not_found)]

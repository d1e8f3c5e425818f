"""OpenAPI schema: drf-spectacular, limited to this API, with its error responses documented.

The schema documents every answer the API can give, errors included, so a generated client
(and schemathesis) can rely on it: 400 with field errors on bad input, 401/403 without access,
404 for what does not exist or is not yours, 409 on conflicts with the current state, 503 when
AWS is unavailable (signing).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from django.apps import apps
from django.db.models import Choices
from django.http import HttpRequest
from drf_spectacular import utils as spectacular
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, safe_ref
from drf_spectacular.settings import patched_settings, spectacular_settings
from drf_spectacular.views import SCHEMA_KWARGS, SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from ..models import ClickWebhookDelivery, Domain, LinkImport, PrivacyRequest, PublishOutbox

__all__ = [
    "LinkTrackingAutoSchema",
    "LinkTrackingSchemaGenerator",
    "SCHEMA_SETTINGS",
    "SchemaView",
    "SwaggerView",
    "extend_schema",
    "swagger_ui_settings",
]

F = TypeVar("F", bound=Callable[..., Any])

API_PACKAGE = __name__.rsplit(".", 1)[0]

#: drf-spectacular settings the schema view applies (the host's own settings stay as they are).
SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "link-tracking control plane API",
    "DESCRIPTION": (
        "Domains, campaigns (and their CRM campaign mappings), links, the global UTM policy, "
        "the publish outbox and privacy requests; click statistics, per-message clicks and "
        "click webhooks. Every write goes through the service layer: "
        "it is versioned, outboxed and published to the runtime table."
    ),
    "VERSION": "1.0.0",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/link_tracking/",
}

#: The component names of the enums several models share a field name for ("status"), by
#: their choices. LinkTrackingAutoSchema names them itself, not through drf-spectacular's
#: ENUM_NAME_OVERRIDES: a host's schema (and ``check --deploy``, which generates it) reads
#: the host's SPECTACULAR_SETTINGS, and drf-spectacular caches the overrides it read first
#: for the whole process, so no per-view setting could name them reliably.
NAMED_ENUMS: dict[str, type[Choices]] = {
    "DomainStatusEnum": Domain.Status,
    "PublishStatusEnum": PublishOutbox.Status,
    "PrivacyRequestStatusEnum": PrivacyRequest.Status,
    "ClickWebhookDeliveryStatusEnum": ClickWebhookDelivery.Status,
    "LinkImportJobStatusEnum": LinkImport.Status,
}
_ENUM_NAMES = {tuple(choices.values): name for name, choices in NAMED_ENUMS.items()}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field name (or non_field_errors) → messages; for lists and maps, nested "
    "by index or key.",
    "additionalProperties": {},
}


class _Enumerator(EndpointEnumerator):
    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        view = getattr(callback, "cls", None)
        if view is None or not view.__module__.startswith(API_PACKAGE):
            return False
        if issubclass(view, SpectacularAPIView | SpectacularSwaggerView):
            return False  # the schema and its page document nothing of the API
        return bool(super().should_include_endpoint(path, callback))


class LinkTrackingSchemaGenerator(SchemaGenerator):
    """Only this API's endpoints, wherever the host mounts them."""

    endpoint_inspector_cls = _Enumerator


class LinkTrackingAutoSchema(AutoSchema):
    """The API's schema inspector: its error responses, and its shared enums named."""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> Any:
        component = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]  # drf-spectacular leaves it unannotated
        properties = component.get("properties", {})
        for name, prop in properties.items():
            items = prop.get("items") if prop.get("type") == "array" else None
            target: dict[str, Any] = items if isinstance(items, dict) else prop
            if "enum" not in target:
                continue
            values = tuple(value for value in target["enum"] if value not in ("", None))
            enum_name = _ENUM_NAMES.get(values)
            if enum_name is None:
                continue  # named by drf-spectacular's enum hook, as usual
            if target is items:
                prop["items"] = self._enum_reference(enum_name, target)
            else:
                properties[name] = self._enum_reference(enum_name, target)
        return component

    def _enum_reference(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """A reference to the component ``name`` for the enum in ``schema``: what
        drf-spectacular's postprocess_schema_enums makes of an enum it names."""
        original = schema["enum"]
        enum = {"type": schema["type"], "enum": [v for v in original if v not in ("", None)]}
        prop = {k: v for k, v in schema.items() if k not in ("type", "enum", "x-spec-enum-id")}
        description = prop.get("description", "")
        if spectacular_settings.ENUM_GENERATE_CHOICE_DESCRIPTION:
            if description.startswith("*"):
                enum["description"] = prop.pop("description")
            elif "\n\n*" in description:
                enum["description"] = "*" + description.partition("\n\n*")[2]
        suffix = spectacular_settings.ENUM_SUFFIX
        components = [(name, enum)]
        if spectacular_settings.ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE:
            if "" in original:
                components.append((f"Blank{suffix}", {"enum": [""]}))
            if None in original:
                components.append((f"Null{suffix}", {"enum": [None]}))
        refs = []
        for component_name, component_schema in components:
            component = ResolvedComponent(  # type: ignore[no-untyped-call]
                name=component_name,
                type=ResolvedComponent.SCHEMA,
                schema=component_schema,
                object=component_name,
            )
            self.registry.register_on_missing(component)
            refs.append(component.ref)
        prop.update(refs[0] if len(refs) == 1 else {"oneOf": refs})
        return dict(safe_ref(prop))

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        codes = {"400": VALIDATION_ERROR_SCHEMA, "401": ErrorSerializer, "403": ErrorSerializer}
        codes["404"] = ErrorSerializer  # missing, not yours, or a page past the end
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes["409"] = ErrorSerializer
            codes["415"] = ErrorSerializer
        for code, body in (
            getattr(self.view, "extra_error_responses", {})
            .get(getattr(self.view, "action", None), {})
            .items()
        ):
            codes[code] = body
        for code, body in codes.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code)  # type: ignore[no-untyped-call]  # drf-spectacular leaves it unannotated
                responses[code]["description"] = _DESCRIPTIONS.get(code, "")
        return operation


_DESCRIPTIONS = {
    "400": "Bad input; the body names each field in error.",
    "401": "Not authenticated.",
    "403": "Not allowed.",
    "404": "Not found (or not yours).",
    "409": "Conflicts with the current state.",
    "415": "Unsupported media type (send application/json).",
    "503": "A service this needs (AWS) is unavailable; try again.",
}


def extend_schema(**kwargs: Any) -> Callable[[F], F]:
    """drf-spectacular's ``extend_schema``, for this API's views: a view method's schema is
    based on :class:`LinkTrackingAutoSchema`, whatever the host's DRF settings say.

    Works around drf-spectacular basing a method's schema on the host's
    ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` when the decorator runs: with DRF's default
    (``rest_framework.schemas.openapi.AutoSchema``) the schema view answered 500
    (``get_operation() takes 3 positional arguments but 6 were given``). A method's ``kwargs``
    (where ``@action`` keeps its own, and drf-spectacular the schema) is the first place the
    decorator looks for the base schema.
    """
    decorate = spectacular.extend_schema(**kwargs)

    def decorator(f: F) -> F:
        if not inspect.isclass(f) and not hasattr(f, "cls"):
            context = getattr(f, "kwargs", None)
            if context is None:
                context = {}
                setattr(f, "kwargs", context)  # noqa: B010  (a function attribute)
            context.setdefault("schema", LinkTrackingAutoSchema)
        return decorate(f)

    return decorator


class SchemaView(SpectacularAPIView):
    """The API's OpenAPI schema: this API only, with the app's own drf-spectacular settings."""

    generator_class = LinkTrackingSchemaGenerator
    custom_settings = SCHEMA_SETTINGS
    # Like every other route of the API: a login (drf-spectacular's default is AllowAny).
    permission_classes = [IsAuthenticated]
    # drf-spectacular's own views take DRF's DEFAULT_SCHEMA_CLASS: with DRF's default, a host's
    # schema generation (check --deploy) fails on them (drf_spectacular.E001).
    schema = LinkTrackingAutoSchema()

    @extend_schema(**SCHEMA_KWARGS)  # as drf-spectacular's get(), on this API's AutoSchema
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]


def swagger_ui_settings() -> dict[str, Any]:
    """The interactive page's drf-spectacular settings: Swagger UI's assets from
    drf-spectacular-sidecar, through the project's static files, when it is an installed app
    (else drf-spectacular's CDN, or whatever the project sets)."""
    if apps.is_installed("drf_spectacular_sidecar"):
        return {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}
    return {}


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI for :class:`SchemaView`, from local assets where it can."""

    title = SCHEMA_SETTINGS["TITLE"]
    schema = LinkTrackingAutoSchema()
    permission_classes = [IsAuthenticated]

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        with patched_settings(swagger_ui_settings()):
            return super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]

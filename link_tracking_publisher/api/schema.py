"""OpenAPI schema: drf-spectacular, limited to this API, with its error responses documented.

The schema documents every answer the API can give, errors included, so a generated client
(and schemathesis) can rely on it: 400 with field errors on bad input, 401/403 without access,
404 for what does not exist or is not yours, 409 on conflicts with the current state, 503 when
AWS is unavailable (signing).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

__all__ = ["LinkTrackingAutoSchema", "LinkTrackingSchemaGenerator", "SCHEMA_SETTINGS"]

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
    "ENUM_NAME_OVERRIDES": {
        "DomainStatusEnum": "link_tracking_publisher.models.Domain.Status",
        "PublishStatusEnum": "link_tracking_publisher.models.PublishOutbox.Status",
        "PrivacyRequestStatusEnum": "link_tracking_publisher.models.PrivacyRequest.Status",
        "ClickWebhookDeliveryStatusEnum": "link_tracking_publisher.models.ClickWebhookDelivery.Status",
    },
}


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
        return bool(super().should_include_endpoint(path, callback))


class LinkTrackingSchemaGenerator(SchemaGenerator):
    """Only this API's endpoints, wherever the host mounts them."""

    endpoint_inspector_cls = _Enumerator


class LinkTrackingAutoSchema(AutoSchema):
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

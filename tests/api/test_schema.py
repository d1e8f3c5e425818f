"""The OpenAPI schema the app serves: valid OpenAPI 3, generated without warnings, limited to
this API, and usable by a client generator."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import modify_settings, override_settings
from drf_spectacular.checks import schema_check
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.validation import validate_schema
from rest_framework.schemas.openapi import AutoSchema as DRFAutoSchema
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from link_tracking_publisher.api.schema import swagger_ui_settings

from .conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(django_user_model: Any) -> APIClient:
    """A logged-in user: the schema and its page need a login (tests/security)."""
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("reader"))
    return client


@pytest.fixture
def schema(client: APIClient) -> dict[str, Any]:
    GENERATOR_STATS.reset()
    response = client.get(f"{API}/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(response.json())


def test_the_schema_is_valid_openapi_3_and_generated_cleanly(schema: dict[str, Any]) -> None:
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors"


@override_settings(REST_FRAMEWORK={})
def test_the_schema_needs_no_drf_or_spectacular_settings_of_the_host(client: APIClient) -> None:
    # DRF's own default schema class, and (devsite sets none) no SPECTACULAR_SETTINGS.
    assert api_settings.DEFAULT_SCHEMA_CLASS is DRFAutoSchema
    GENERATOR_STATS.reset()
    response = client.get(f"{API}/schema/", {"format": "json"})
    assert response.status_code == 200
    validate_schema(response.json())
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors"


@pytest.mark.parametrize(
    "rest_framework",
    [{}, {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}],
    ids=["drf-default-schema-class", "spectacular-schema-class"],
)
def test_check_deploy_finds_nothing_in_the_host_wide_schema(rest_framework: dict[str, Any]) -> None:
    # drf-spectacular's deploy check generates the whole project's schema (the host's settings,
    # every URL): this API's views and enum names hold up there too (no E001, no W001).
    with override_settings(REST_FRAMEWORK=rest_framework):
        assert schema_check(None) == []


def test_the_api_page_uses_the_sidecars_assets_whatever_the_host_says(
    monkeypatch: pytest.MonkeyPatch, client: APIClient
) -> None:
    monkeypatch.setattr(spectacular_settings, "SWAGGER_UI_DIST", "https://cdn.example/swagger")
    response = client.get(f"{API}/schema/swagger-ui/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png" in page
    assert "cdn" not in page
    assert spectacular_settings.SWAGGER_UI_DIST == "https://cdn.example/swagger"  # restored


def test_without_the_sidecar_app_the_page_keeps_drf_spectaculars_settings() -> None:
    assert swagger_ui_settings() == {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    }
    with modify_settings(INSTALLED_APPS={"remove": ["drf_spectacular_sidecar"]}):
        assert swagger_ui_settings() == {}


def test_the_schema_covers_this_api_and_nothing_else(schema: dict[str, Any]) -> None:
    paths = set(schema["paths"])
    assert all(p.startswith(f"{API}/") for p in paths)
    expected = {
        f"{API}/domains/",
        f"{API}/domains/{{id}}/",
        f"{API}/domains/{{id}}/verify/",
        f"{API}/domains/{{id}}/orphan-clicks/",
        f"{API}/campaigns/",
        f"{API}/campaigns/{{id}}/",
        f"{API}/campaigns/{{link_campaign_uuid}}/crm-mappings/",
        f"{API}/campaigns/{{link_campaign_uuid}}/crm-mappings/{{mapping_id}}/",
        f"{API}/links/",
        f"{API}/links/bulk/",
        f"{API}/links/{{id}}/",
        f"{API}/links/{{id}}/preview/",
        f"{API}/links/{{id}}/publish/",
        f"{API}/links/{{id}}/unpublish/",
        f"{API}/links/{{id}}/signed-url/",
        f"{API}/links/{{id}}/sms-urls/",
        f"{API}/links/{{id}}/versions/",
        f"{API}/links/{{id}}/qr/",
        f"{API}/links/export/",
        f"{API}/links/import/",
        f"{API}/link-imports/",
        f"{API}/link-imports/{{id}}/",
        f"{API}/utm-policy/",
        f"{API}/publish-outbox/",
        f"{API}/publish-outbox/{{id}}/",
        f"{API}/publish-outbox/{{id}}/retry/",
        f"{API}/privacy-requests/",
        f"{API}/privacy-requests/{{id}}/",
        f"{API}/privacy-requests/{{id}}/retry/",
        f"{API}/links/{{id}}/stats/",
        f"{API}/campaigns/{{id}}/stats/",
        f"{API}/tags/",
        f"{API}/tags/{{id}}/",
        f"{API}/tags/{{id}}/stats/",
        f"{API}/campaigns/{{id}}/message-clicks/export/",
        f"{API}/message-clicks/",
        f"{API}/webhooks/",
        f"{API}/webhooks/{{id}}/",
        f"{API}/webhooks/{{id}}/rotate-secret/",
        f"{API}/webhooks/{{id}}/enable/",
        f"{API}/webhook-deliveries/",
        f"{API}/webhook-deliveries/{{id}}/",
        f"{API}/webhook-deliveries/{{id}}/retry/",
        f"{API}/api-keys/",
        f"{API}/api-keys/{{id}}/",
        f"{API}/api-keys/{{id}}/revoke/",
        f"{API}/api-keys/{{id}}/rotate/",
    }
    assert paths == expected


def test_requests_and_responses_have_their_own_shapes(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    create = components["LinkCreateRequest"]
    assert set(create["required"]) == {"account", "domain", "destination_url"}
    assert "id" not in create["properties"] and "reason" in create["properties"]
    update = components["PatchedLinkUpdateRequest"]["properties"]
    assert not {"account", "domain", "slug"} & set(update)
    assert "reason" not in components["Link"]["properties"]
    allowlist = create["properties"]["dynamic_param_allowlist"]["items"]["$ref"]
    assert components[allowlist.rsplit("/", 1)[1]]["enum"] == [
        "click_id",
        "ab_variant",
        "geo",
        "click_ts",
        "sms_ref",
        "sms_msg_id",
    ]
    bulk = components["LinkBulkCreateRequest"]["properties"]["keywords"]
    assert (bulk["minItems"], bulk["maxItems"]) == (1, 100)


def test_error_responses_are_documented(schema: dict[str, Any]) -> None:
    create = schema["paths"][f"{API}/links/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409"} <= set(create)
    sign = schema["paths"][f"{API}/links/{{id}}/signed-url/"]["post"]["responses"]
    assert "503" in sign


def test_qr_codes_are_declared_as_images(schema: dict[str, Any]) -> None:
    operation = schema["paths"][f"{API}/links/{{id}}/qr/"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"image/svg+xml", "image/png"}
    assert content["image/png"]["schema"] == {"type": "string", "format": "binary"}
    assert list(operation["responses"]["400"]["content"]) == ["application/json"]
    params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert params["format"]["enum"] == ["png", "svg"]
    assert (params["size"]["minimum"], params["size"]["maximum"]) == (64, 2048)
    assert params["error_correction"]["enum"] == ["L", "M", "Q", "H"]


def test_the_link_export_is_csv_with_the_lists_filters(schema: dict[str, Any]) -> None:
    operation = schema["paths"][f"{API}/links/export/"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/csv"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"channel", "keyword", "slug", "search", "ordering", "account"} <= names
    assert "page" not in names


def test_the_link_import_is_a_multipart_upload(schema: dict[str, Any]) -> None:
    operation = schema["paths"][f"{API}/links/import/"]["post"]
    body = operation["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    assert set(operation["responses"]) >= {"200", "201", "202", "400"}
    job = operation["responses"]["202"]["content"]["application/json"]["schema"]
    assert job == {"$ref": "#/components/schemas/LinkImportJob"}
    form = body["multipart/form-data"]["schema"]
    mode = schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]["properties"]["mode"]
    assert "all_or_nothing" in str(mode) and "per_row" in str(mode)


def test_import_jobs_are_listed_and_read_only(schema: dict[str, Any]) -> None:
    assert set(schema["paths"][f"{API}/link-imports/"]) == {"get"}
    assert set(schema["paths"][f"{API}/link-imports/{{id}}/"]) == {"get"}
    job = schema["components"]["schemas"]["LinkImportJob"]
    assert "content" not in job["properties"]
    assert set(job["required"]) >= {"id", "status", "rows_total", "rows_done", "errors"}


def test_switching_a_webhook_on_is_documented_and_its_state_read_only(
    schema: dict[str, Any],
) -> None:
    operation = schema["paths"][f"{API}/webhooks/{{id}}/enable/"]["post"]
    assert "requestBody" not in operation and "held" in operation["description"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/ClickWebhook"}
    webhook = schema["components"]["schemas"]["ClickWebhook"]["properties"]
    for name in ("consecutive_failures", "disabled_at", "disabled_reason"):
        assert webhook[name].get("readOnly") is True, name
    for request in ("ClickWebhookRequest", "PatchedClickWebhookUpdateRequest"):
        assert "disabled_at" not in schema["components"]["schemas"][request]["properties"]

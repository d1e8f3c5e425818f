"""Property-based tests of the whole API against its own schema (schemathesis, in process
against the WSGI app): no server errors and no response that contradicts the schema, for
valid and invalid input alike.

Bounded and deterministic (derandomized, a fixed number of examples per operation), so the run
takes well under a minute on two cores and fails the same way every time it fails. Generated
requests are made with a staff user; path ids and body references are swapped for real
objects part of the time, so success responses are checked too, not only 404s and 400s.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devsite.wsgi import application
from link_tracking_publisher.models import (
    ClickWebhook,
    ClickWebhookDelivery,
    LinkCampaignCrmCampaignMapping,
    LinkImport,
    PrivacyRequest,
    Tag,
)
from link_tracking_publisher.services import create_api_key
from tests.publisher.factories import (
    AccountFactory,
    CrmCampaignFactory,
    DomainFactory,
    LinkCampaignFactory,
    LinkFactory,
)

from .conftest import API

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

#: Real objects, filled in by the ``world`` fixture before the schema is loaded.
REAL: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Requests go straight to the WSGI app, not through Django's test client, so each one
    would fire ``close_old_connections``, closing the connection that holds the test's
    transaction (harmless on in-memory SQLite, fatal on PostgreSQL). Django's test client
    disconnects it the same way while it runs."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(aws: None) -> Iterator[dict[str, Any]]:
    account = AccountFactory()
    domain = DomainFactory(domain_name="fuzz.example.com", account=account)
    campaign = LinkCampaignFactory(account=account, campaign_id="FUZZ")
    link = LinkFactory(account=account, domain=domain, campaign=campaign, keyword="FUZZ")
    webhook = ClickWebhook.objects.create(
        account=account, url="https://hooks.example.com/clicks", secret="whsec_c2VjcmV0"
    )
    delivery = ClickWebhookDelivery.objects.create(
        webhook=webhook,
        event_id="e1",
        payload={"type": "link.clicked"},
        next_attempt_at=timezone.now(),
        status=ClickWebhookDelivery.Status.FAILED,
    )
    link_import = LinkImport.objects.create(
        account=account,
        domain=domain,
        file_name="big.csv",
        file_size=8,
        content=b"a,b\n1,2\n",
        rows_total=1,
        errors=[{"row": 2, "column": "slug", "message": "Taken."}],
    )
    api_key, _ = create_api_key(account=account, name="fuzz", scopes=["links:read"])
    REAL.update(
        api_key=api_key.pk,
        link_import=str(link_import.pk),
        webhook=str(webhook.pk),
        delivery=delivery.pk,
        user=get_user_model().objects.create_user("fuzzer", password="pw", is_staff=True),
        account=account.pk,
        domain=str(domain.pk),
        campaign=str(campaign.pk),
        link=str(link.pk),
        tag=str(Tag.objects.create(account=account, name="fuzz").pk),
        crm_campaign=CrmCampaignFactory(account=account).pk,
        mapping=LinkCampaignCrmCampaignMapping.objects.create(
            link_campaign=campaign, crm_campaign=CrmCampaignFactory(account=account)
        ).pk,
        outbox=link.publish_outbox.get().pk,
        privacy=str(
            PrivacyRequest.objects.create(
                account=account,
                request_type="access",
                subject_type="click_id",
                subject_hash="0" * 64,
            ).pk
        ),
    )
    yield REAL
    REAL.clear()


@pytest.fixture
def api_schema(world: dict[str, Any], _fast_passwords: None) -> Any:
    credentials = base64.b64encode(f"{REAL['user'].username}:pw".encode()).decode()
    loaded = schemathesis.openapi.from_wsgi(
        f"{API}/schema/?format=json",
        application,
        headers={"Authorization": f"Basic {credentials}"},  # the schema needs a login too
    )
    loaded.hook(flatmap_path_parameters)
    loaded.hook(flatmap_body)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")

_ID_BY_PREFIX = [
    ("/link-imports/", "link_import"),
    ("/links/", "link"),
    ("/domains/", "domain"),
    ("/campaigns/", "campaign"),
    ("/tags/", "tag"),
    ("/publish-outbox/", "outbox"),
    ("/privacy-requests/", "privacy"),
    ("/webhooks/", "webhook"),
    ("/webhook-deliveries/", "delivery"),
    ("/api-keys/", "api_key"),
]


def _real_path_parameters(path: str, generated: dict[str, Any] | None) -> Any:
    if not generated:
        return generated
    real = dict(generated)
    for name in generated:
        if name == "link_campaign_uuid":
            real[name] = REAL["campaign"]
        elif name == "mapping_id":
            real[name] = REAL["mapping"]
        elif name == "id":
            key = next(k for prefix, k in _ID_BY_PREFIX if prefix in path)
            real[name] = REAL[key]
    return real


def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    real = _real_path_parameters(context.operation.path, path_parameters)
    return st.sampled_from([path_parameters, real])


def flatmap_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict):
        return st.just(body)
    real = dict(body)
    for name in ("account", "domain", "campaign", "crm_campaign"):
        if name in real:
            real[name] = REAL[name]
    return st.sampled_from([body, real])


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Any) -> None:
    credentials = base64.b64encode(f"{REAL['user'].username}:pw".encode()).decode()
    case.call_and_validate(headers={"Authorization": f"Basic {credentials}"}, checks=CHECKS)

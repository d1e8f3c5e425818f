from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from link_tracking_publisher.conf import app_settings
from link_tracking_runtime.table import create_table_kwargs
from tests.support.dns import dns  # noqa: F401  (the stub DNS of verify_domain)

from .factories import AccountFactory, DomainFactory, LinkCampaignFactory


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests talk to in-process moto only: never to a real endpoint or account."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> Any:
    """The runtime table, created from the contract's definition, in moto."""
    resource = boto3.resource("dynamodb", region_name="us-east-1")
    resource.create_table(**create_table_kwargs(app_settings.RUNTIME_TABLE_NAME))
    return resource.Table(app_settings.RUNTIME_TABLE_NAME)


@pytest.fixture
def account(db: None) -> Any:
    return AccountFactory()


@pytest.fixture
def domain(db: None) -> Any:
    return DomainFactory(domain_name="go.example.com")


@pytest.fixture
def campaign(account: Any) -> Any:
    return LinkCampaignFactory(account=account, campaign_id="SPRING26")

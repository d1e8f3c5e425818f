"""The publisher's half of the contract vectors: link fixture → exact item."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from link_tracking_publisher.models import GlobalUTMPolicy, Link
from link_tracking_publisher.services.publisher import LinkPublisher
from link_tracking_runtime import from_item, plain, to_item, vectors

from .factories import AccountFactory, DomainFactory, LinkCampaignFactory

VECTORS = vectors.load("publish")


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _build(vector: dict[str, Any]) -> Link:
    GlobalUTMPolicy.objects.update_or_create(
        id=1, defaults={"default_utm_params": vector["global_utm"]}
    )
    account = AccountFactory()
    domain = DomainFactory(**vector["domain"])
    spec = vector["link"]
    campaign = (
        LinkCampaignFactory(account=account, **vector["campaign"]) if vector["campaign"] else None
    )
    link = Link(
        id=spec["id"],
        account=account,
        domain=domain,
        campaign=campaign,
        campaign_identifier=(campaign.campaign_id or "") if campaign else "",
        slug_canonical=spec["slug_canonical"],
        slug_original=spec["vanity_slug"] or "",
        slug_type=Link.SlugType.VANITY if spec["vanity_slug"] else Link.SlugType.SYSTEM,
        expires_at=_time(spec["expires_at"]),
        query_message_id=spec.get("query_message_id", True),
        **{
            k: spec[k]
            for k in (
                "keyword",
                "channel",
                "destination_url",
                "fallback_url",
                "append_query_params",
                "utm_overrides",
                "dynamic_param_allowlist",
                "active",
                "max_clicks",
                "signature_required",
                "signature_secret_ref",
                "routing_rules",
                "runtime_version",
            )
        },
    )
    link.full_clean(validate_unique=False, validate_constraints=False)
    link.save()
    Link.objects.filter(pk=link.pk).update(
        created_at=_time(spec["created_at"]), updated_at=_time(spec["updated_at"])
    )
    return Link.objects.select_related("domain", "campaign").get(pk=link.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_publish_vector(vector: dict[str, Any]) -> None:
    link = _build(vector)
    item = LinkPublisher(table=object()).build_runtime_record(link, now=vector["now"])
    assert plain(item) == vector["item"]
    # and the runtime reads back exactly what was meant
    assert plain(to_item(from_item(item))) == vector["item"]


@pytest.mark.django_db
def test_published_item_round_trips_through_dynamodb(table: Any) -> None:
    link = _build(VECTORS[0])
    publisher = LinkPublisher(table, clock=lambda: VECTORS[0]["now"])
    publisher.publish_link(link)
    stored = table.get_item(Key={"PK": "DOMAIN#go.example.com", "SK": "SLUG#ABC2345"})["Item"]
    assert plain(stored) == VECTORS[0]["item"]

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from devsite.crm.models import Account, Campaign
from link_tracking_publisher.models import Domain, Link, LinkCampaign
from link_tracking_publisher.services.links import create_link


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")


class CrmCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"CRM campaign {n}")


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain
        django_get_or_create = ("domain_name",)

    domain_name = factory.Sequence(lambda n: f"go{n}.example.com")
    active = True
    # Most tests are about verified domains (tests/security/ covers unverified ones).
    status = Domain.Status.ACTIVE
    verified_at = factory.LazyFunction(timezone.now)
    verification_method = Domain.VerificationMethod.MANUAL


class LinkCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LinkCampaign

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    campaign_id = factory.Sequence(lambda n: f"CAMP{n}")
    utm_template = factory.LazyFunction(dict)


class LinkFactory(factory.django.DjangoModelFactory):
    """Links are made through the service layer, as the app makes them."""

    class Meta:
        model = Link

    account = factory.SubFactory(AccountFactory)
    domain = factory.SubFactory(DomainFactory)
    destination_url = "https://shop.example.com/landing"

    @classmethod
    def _create(cls, model_class: type[Link], *args: Any, **kwargs: Any) -> Link:
        return create_link(**kwargs)

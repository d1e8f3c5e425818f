from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from link_tracking_publisher.conf import app_settings
from link_tracking_publisher.models import Link
from link_tracking_publisher.services import links as link_service
from link_tracking_publisher.services.slugs import generate_slug
from link_tracking_runtime import canonical_slug, is_valid_slug

from .factories import LinkFactory


def test_default_alphabet_survives_upper_casing_and_has_no_lookalikes() -> None:
    alphabet = app_settings.SLUG_ALPHABET
    assert alphabet == alphabet.upper()
    assert not set("0O1IL") & set(alphabet)
    for _ in range(200):
        slug = generate_slug()
        assert len(slug) == app_settings.SLUG_LENGTH
        assert canonical_slug(slug) == slug
        assert is_valid_slug(slug)


@pytest.mark.django_db
def test_system_slug_collision_is_retried(account: Any, domain: Any) -> None:
    first = LinkFactory(account=account, domain=domain)
    with mock.patch.object(
        link_service, "generate_slug", side_effect=[first.slug_canonical, "NEWSLUG"]
    ):
        second = LinkFactory(account=account, domain=domain)
    assert second.slug_canonical == "NEWSLUG"
    assert Link.objects.filter(domain=domain).count() == 2


@pytest.mark.django_db
def test_collisions_exhausting_attempts_raise_and_write_nothing(account: Any, domain: Any) -> None:
    first = LinkFactory(account=account, domain=domain)
    with (
        mock.patch.object(link_service, "generate_slug", return_value=first.slug_canonical),
        pytest.raises(IntegrityError),
    ):
        LinkFactory(account=account, domain=domain)
    assert Link.objects.count() == 1
    assert first.versions.count() == 1


@pytest.mark.django_db
def test_vanity_slug_keeps_original_and_is_unique_case_insensitively(
    account: Any, domain: Any
) -> None:
    link = LinkFactory(account=account, domain=domain, slug="Spring-Sale")
    assert (link.slug_original, link.slug_canonical, link.slug_type) == (
        "Spring-Sale",
        "SPRING-SALE",
        "vanity",
    )
    assert link.get_full_url() == "https://go.example.com/Spring-Sale"
    with pytest.raises(ValidationError) as exc:
        LinkFactory(account=account, domain=domain, slug="spring-sale")
    assert "already taken" in exc.value.message_dict["slug"][0]


@pytest.mark.django_db
def test_same_vanity_slug_on_another_domain_is_fine(account: Any, domain: Any) -> None:
    from .factories import DomainFactory

    LinkFactory(account=account, domain=domain, slug="SALE")
    other = LinkFactory(
        account=account, domain=DomainFactory(domain_name="b.example.com"), slug="SALE"
    )
    assert other.slug_canonical == "SALE"


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["health", "Robots.txt", "favicon.ico", "disabled", "HEALTH"])
def test_reserved_paths_are_refused(account: Any, domain: Any, slug: str) -> None:
    with pytest.raises(ValidationError) as exc:
        LinkFactory(account=account, domain=domain, slug=slug)
    assert "reserved" in exc.value.message_dict["slug"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["a/b", "-lead", "sp ace", "x" * 65, "émoji", "a.b", "%41"])
def test_malformed_slugs_are_refused(account: Any, domain: Any, slug: str) -> None:
    with pytest.raises(ValidationError) as exc:
        LinkFactory(account=account, domain=domain, slug=slug)
    assert list(exc.value.message_dict) == ["slug"]
    assert Link.objects.count() == 0


@pytest.mark.django_db
def test_sms_url_helper(account: Any, domain: Any) -> None:
    link = LinkFactory(account=account, domain=domain, slug="HELP")
    assert link.get_sms_url(42) == "https://go.example.com/HELP?sms_msg_id=42"
    assert link.get_sms_url("a b&c") == "https://go.example.com/HELP?sms_msg_id=a%20b%26c"

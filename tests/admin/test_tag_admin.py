"""Tags in the admin: the tag pages go through the service; a link's tags are the account's."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth import get_user_model
from django.test import Client

from link_tracking_publisher.models import Link, Tag
from tests.clicks.rollups import add_clicks
from tests.publisher.factories import AccountFactory, DomainFactory, LinkFactory

from .test_admin import _form, _url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


@pytest.fixture
def link() -> Link:
    account = AccountFactory()
    return LinkFactory(
        account=account, domain=DomainFactory(domain_name="go.example.com", account=account)
    )


@pytest.fixture
def vip(link: Link) -> Tag:
    return Tag.objects.create(account=link.account, name="VIP")


@pytest.fixture
def theirs(db: None) -> Tag:
    return Tag.objects.create(account=AccountFactory(name="Other"), name="vip")


def test_tags_are_added_and_renamed_through_the_service(client: Client, link: Link) -> None:
    assert site.is_registered(Tag)
    response = client.post(
        _url(Tag, "add"), {"account": link.account_id, "name": "Print run", "colour": ""}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    tag = Tag.objects.get()
    response = client.post(_url(Tag, "add"), {"account": link.account_id, "name": "PRINT RUN"})
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    response = client.post(
        _url(Tag, "change", tag.pk), {"name": "Print run 2", "colour": "#00ff00"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    tag.refresh_from_db()
    assert (tag.name, tag.colour, tag.account_id) == ("Print run 2", "#00ff00", link.account_id)
    assert client.get(_url(Tag, "changelist")).status_code == 200


def test_a_links_tags_are_set_and_publish_nothing(client: Client, link: Link, vip: Tag) -> None:
    response = client.post(_url(Link, "change", link.pk), _form(link, tags=[str(vip.pk)]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    link.refresh_from_db()
    assert (list(link.tags.all()), link.runtime_version) == ([vip], 1)
    response = client.post(_url(Link, "change", link.pk), _form(link))  # none selected
    assert response.status_code == 302
    assert not link.tags.exists()


def test_another_accounts_tag_is_a_form_error(
    client: Client, link: Link, vip: Tag, theirs: Tag
) -> None:
    response = client.post(
        _url(Link, "change", link.pk), _form(link, tags=[str(vip.pk), str(theirs.pk)])
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["tags"]
    assert errors == ["The tag 'vip' is another account's."]
    assert not link.tags.exists()


def test_the_link_list_filters_by_tag(client: Client, link: Link, vip: Tag, theirs: Tag) -> None:
    response = client.get(_url(Link, "changelist"), {"tags__id__exact": str(vip.pk)})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == []
    link.tags.add(vip)
    response = client.get(_url(Link, "changelist"), {"tags__id__exact": str(vip.pk)})
    assert list(response.context["cl"].queryset) == [link]
    assert "VIP (" in response.content.decode() and "vip (Other)" in response.content.decode()


def test_the_tag_page_shows_its_links_clicks(client: Client, link: Link, vip: Tag) -> None:
    link.tags.add(vip)
    add_clicks(link, datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC), human=4, bot=1)
    page = client.get(_url(Tag, "change", vip.pk)).content.decode()
    assert "<strong>5</strong> clicks: <strong>4</strong> human, 1 bot" in page

"""The tag service (services/tags.py): names per account, links' tags by name or id, CSV cells."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from link_tracking_publisher.models import PublishOutbox, Tag
from link_tracking_publisher.services import tags as tag_service
from link_tracking_publisher.services.links import update_link

from .factories import AccountFactory, DomainFactory, LinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> Any:
    return AccountFactory()


@pytest.fixture
def other() -> Any:
    return AccountFactory()


@pytest.fixture
def link(account: Any) -> Any:
    return LinkFactory(account=account, domain=DomainFactory(account=account))


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field cannot be blank."),
        ("  ", ""),
        (" padded", "A tag name may not start or end with blanks."),
        ("a|b", "A tag name may not contain '|' (it separates tags in CSV files)."),
    ],
)
def test_a_bad_name_is_refused_on_name(account: Any, name: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        tag_service.create_tag(account=account, name=name)
    assert list(_errors(exc)) == ["name"]
    assert not message or message in _errors(exc)["name"]


def test_names_are_unique_per_account_whatever_their_case(account: Any, other: Any) -> None:
    tag_service.create_tag(account=account, name="Spring")
    with pytest.raises(ValidationError) as exc:
        tag_service.create_tag(account=account, name="SPRING")
    assert list(_errors(exc)) == ["name"]
    tag_service.create_tag(account=other, name="spring")
    assert Tag.objects.count() == 2


def test_update_renames_and_refuses_a_move(account: Any, other: Any) -> None:
    tag = tag_service.create_tag(account=account, name="old")
    assert tag_service.update_tag(tag, name="new", colour="#abcdef").name == "new"
    with pytest.raises(ValidationError) as exc:
        tag_service.update_tag(tag, account=other)
    assert list(_errors(exc)) == ["account"]


def test_resolve_by_tag_id_or_name_in_order_each_once(account: Any, other: Any) -> None:
    a = Tag.objects.create(account=account, name="Alpha")
    b = Tag.objects.create(account=account, name="beta")
    got = tag_service.resolve_tags(account, ["BETA", a.pk, str(a.pk), " alpha ", "", b])
    assert got == [b, a]
    theirs = Tag.objects.create(account=other, name="gamma")
    with pytest.raises(ValidationError) as exc:
        tag_service.resolve_tags(account, ["alpha", "gamma", theirs, str(theirs.pk), "gamma"])
    assert _errors(exc) == {
        "tags": [
            "No tag 'gamma' in this account.",
            "The tag 'gamma' is another account's.",
            f"No tag {str(theirs.pk)!r} in this account.",
        ]
    }


def test_set_link_tags_is_exact_and_publishes_nothing(link: Any, account: Any, other: Any) -> None:
    Tag.objects.create(account=account, name="a")
    b = Tag.objects.create(account=account, name="b")
    outbox = PublishOutbox.objects.filter(link=link).count()
    tag_service.set_link_tags(link, ["a", "b"])
    tag_service.set_link_tags(link, [b])
    assert list(link.tags.all()) == [b]
    assert PublishOutbox.objects.filter(link=link).count() == outbox
    link.refresh_from_db()
    assert link.runtime_version == 1
    with pytest.raises(ValidationError):
        tag_service.set_link_tags(link, [Tag.objects.create(account=other, name="a")])
    assert list(link.tags.all()) == [b]


def test_at_most_so_many_tags_on_a_link(link: Any, account: Any) -> None:
    names = [f"t{n}" for n in range(tag_service.MAX_TAGS_PER_LINK + 1)]
    Tag.objects.bulk_create(Tag(account=account, name=name) for name in names)
    tag_service.set_link_tags(link, names[:-1])
    with pytest.raises(ValidationError) as exc:
        tag_service.set_link_tags(link, names)
    assert list(_errors(exc)) == ["tags"]
    assert link.tags.count() == tag_service.MAX_TAGS_PER_LINK


def test_an_update_with_a_bad_tag_rolls_back_the_whole_change(link: Any) -> None:
    with pytest.raises(ValidationError):
        update_link(link, keyword="NEW", tags=["nope"])
    link.refresh_from_db()
    assert (link.keyword, link.runtime_version) == ("", 1)


def test_csv_cells() -> None:
    assert tag_service.split_tag_names(" a |B||  c ") == ["a", "B", "c"]
    assert tag_service.split_tag_names("") == []
    tags = [Tag(name="beta"), Tag(name="Alpha")]
    assert tag_service.join_tag_names(tags) == "Alpha|beta"
    assert tag_service.split_tag_names(tag_service.join_tag_names(tags)) == ["Alpha", "beta"]

"""Tags: an account's labels on its links, written once here for the API, the admin and the
CSV import.

Tags are control plane only (they are not in the runtime record), so creating, renaming or
deleting a tag, or changing a link's tags, writes no link version and publishes nothing.
A link may carry only tags of its own account: anything else is refused with a
``ValidationError`` on ``tags`` naming what was refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower

from ..models import TAG_SEPARATOR, Link, Tag

__all__ = [
    "MAX_TAGS_PER_LINK",
    "create_tag",
    "delete_tag",
    "join_tag_names",
    "resolve_tags",
    "set_link_tags",
    "split_tag_names",
    "update_tag",
]

#: The most tags one link may carry (and one request may name).
MAX_TAGS_PER_LINK = 50
#: What :func:`update_tag` may change; a tag stays with its account.
UPDATABLE = ("name", "colour")


def create_tag(*, account: Any, name: str, colour: str = "", user: Any = None) -> Tag:
    """Add a tag to ``account``; its name must be free in the account, whatever its case
    (else a ``ValidationError`` on ``name``)."""
    tag = Tag(account=account, name=name, colour=colour)
    tag.full_clean()
    tag.save(force_insert=True)
    return tag


def update_tag(tag: Tag, *, user: Any = None, **changes: Any) -> Tag:
    """Rename or recolour a tag (its links keep it: they refer to it, not to its name)."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValidationError({name: "This cannot change." for name in sorted(unknown)})
    with transaction.atomic():
        current = Tag.objects.select_for_update().get(pk=tag.pk)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
    return current


def delete_tag(tag: Tag, *, user: Any = None) -> None:
    """Delete a tag; the links that carried it lose it, nothing else changes."""
    tag.delete()


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def resolve_tags(account: Any, refs: Iterable[Tag | str | uuid.UUID]) -> list[Tag]:
    """The tags of ``account`` that ``refs`` name, in the order given and each once: a
    :class:`Tag`, its id or its name (in any case). A reference to nothing in the account
    (a tag of another account included) is a ``ValidationError`` on ``tags`` naming every
    such reference; unknown names are not created."""
    wanted: list[Tag | str | uuid.UUID] = []
    for ref in refs:
        if isinstance(ref, str):
            ref = ref.strip()
            if not ref:
                continue
        wanted.append(ref)
    ids = {r for r in wanted if isinstance(r, uuid.UUID)}
    ids |= {u for r in wanted if isinstance(r, str) and (u := _as_uuid(r)) is not None}
    names = {r.lower() for r in wanted if isinstance(r, str)}
    found: list[Tag] = []
    if ids or names:
        found = list(
            Tag.objects.filter(account=account)
            .annotate(lower_name=Lower("name"))
            .filter(Q(pk__in=ids) | Q(lower_name__in=names))
        )
    by_id = {tag.pk: tag for tag in found}
    by_name = {tag.name.lower(): tag for tag in found}
    tags: dict[Any, Tag] = {}
    missing: list[str] = []
    for ref in wanted:
        tag: Tag | None
        if isinstance(ref, Tag):
            # A tag object (the admin's choice) is known to exist: say whose it is not.
            if ref.account_id != getattr(account, "pk", account):
                missing.append(f"The tag {ref.name!r} is another account's.")
                continue
            tag = ref
        elif isinstance(ref, uuid.UUID):
            tag = by_id.get(ref)
        else:
            key = _as_uuid(ref)
            tag = by_id.get(key) if key is not None else None
            tag = tag or by_name.get(ref.lower())
        if tag is None:
            missing.append(f"No tag {str(ref)!r} in this account.")
        else:
            tags.setdefault(tag.pk, tag)
    if missing:
        raise ValidationError({"tags": list(dict.fromkeys(missing))})
    return list(tags.values())


def set_link_tags(link: Link, refs: Iterable[Tag | str | uuid.UUID]) -> list[Tag]:
    """Make ``refs`` (tags, ids or names of the link's account, see :func:`resolve_tags`)
    the link's tags, exactly; returns them. Publishes nothing: tags are not in the record."""
    tags = resolve_tags(link.account_id, refs)
    if len(tags) > MAX_TAGS_PER_LINK:
        raise ValidationError({"tags": [f"At most {MAX_TAGS_PER_LINK} tags on one link."]})
    with transaction.atomic():
        link.tags.set(tags)
    return tags


def split_tag_names(cell: str) -> list[str]:
    """The tag names of one CSV cell: ``|``-separated, blanks around them dropped."""
    return [name.strip() for name in cell.split(TAG_SEPARATOR) if name.strip()]


def join_tag_names(tags: Iterable[Tag]) -> str:
    """Tags as one CSV cell (:func:`split_tag_names` reads it back), by name."""
    return TAG_SEPARATOR.join(sorted((tag.name for tag in tags), key=str.lower))

"""Links: every change to a link goes through here.

Each change writes, in one database transaction, the link (with a new ``runtime_version``),
a :class:`LinkVersion` (who, why, what changed) and a :class:`PublishOutbox` row, and its
publish is enqueued after commit (:mod:`.publishing`). Domains (:mod:`.domains`), campaigns
(:mod:`.campaigns`) and the UTM policy (:mod:`.utm_policy`) have their own modules; a change to
one of them that alters links' records republishes those links in bulk
(:func:`~.publishing.republish_links_on_commit`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from link_tracking_runtime.record import canonical_slug

from .. import outbox
from ..conf import app_settings
from ..models import Link, LinkVersion, PublishOutbox
from ..validators import validate_slug
from .api_keys import acting_api_key, acting_user
from .publishing import enqueue_link_publish
from .slugs import generate_slug
from .tags import set_link_tags

__all__ = [
    "EDITABLE_FIELDS",
    "POLICY_FIELDS",
    "create_link",
    "republish_link",
    "set_link_active",
    "update_link",
]

#: The editable fields that decide whether a click is served at all (the admin shows them
#: apart from where the link leads).
POLICY_FIELDS = (
    "active",
    "expires_at",
    "max_clicks",
    "signature_required",
    "signature_secret_ref",
)

#: Link fields a change may touch. Domain and slug are the record's key: they cannot change
#: (create a new link instead), so a published key never goes stale.
EDITABLE_FIELDS = (
    "campaign",
    "keyword",
    "channel",
    "destination_url",
    "fallback_url",
    "append_query_params",
    "utm_overrides",
    "dynamic_param_allowlist",
    "query_message_id",
    *POLICY_FIELDS,
    "routing_rules",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _snapshot(link: Link) -> dict[str, Any]:
    return {
        field: _jsonable(getattr(link, f"{field}_id" if field == "campaign" else field))
        for field in EDITABLE_FIELDS
    }


def _record_change(link: Link, changes: Mapping[str, Any], user: Any, reason: str) -> PublishOutbox:
    """Version row + outbox row for the link's (already saved) new version, and the enqueue."""
    LinkVersion.objects.create(
        link=link,
        version=link.runtime_version,
        destination_url=link.destination_url,
        utm_overrides=link.utm_overrides,
        routing_rules=link.routing_rules,
        active=link.active,
        changes=dict(changes),
        changed_by=acting_user(user),
        changed_by_api_key=acting_api_key(user),
        change_reason=reason,
    )
    entry = outbox.create_entry(link)
    enqueue_link_publish(link, entry)
    return entry


def _denormalise(link: Link) -> None:
    link.campaign_identifier = (link.campaign.campaign_id or "") if link.campaign else ""


def create_link(
    *,
    account: Any,
    domain: Any,
    destination_url: str,
    slug: str | None = None,
    user: Any = None,
    reason: str = "",
    tags: Iterable[Any] | None = None,
    **fields: Any,
) -> Link:
    """Create a link and enqueue its first publish.

    ``tags``: tags, ids or names of the account's tags (:func:`~.tags.set_link_tags`),
    set in the same transaction. Without ``slug`` a system slug is generated (retried on the rare collision, so two
    concurrent creations never share one); with ``slug`` it is a vanity slug, kept as typed in
    ``slug_original``. Raises ``ValidationError`` naming the field on bad input.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"create_link() got unexpected fields: {', '.join(sorted(unknown))}")
    link = Link(account=account, domain=domain, destination_url=destination_url, **fields)
    link.created_by = acting_user(user)
    if slug:
        try:
            validate_slug(slug)
        except ValidationError as exc:
            raise ValidationError({"slug": exc.messages}) from None
        link.slug_type = Link.SlugType.VANITY
        link.slug_original = slug
        link.slug_canonical = canonical_slug(slug)
    else:
        link.slug_type = Link.SlugType.SYSTEM
        link.slug_canonical = generate_slug()
    _denormalise(link)
    link.runtime_version = 1
    link.full_clean(validate_unique=False, validate_constraints=False)

    with transaction.atomic():
        attempts = 1 if slug else app_settings.SLUG_MAX_ATTEMPTS
        for attempt in range(attempts):
            if (
                slug
                and Link.objects.filter(domain=domain, slug_canonical=link.slug_canonical).exists()
            ):
                raise ValidationError({"slug": f"'{slug}' is already taken on {domain}."})
            try:
                with transaction.atomic():  # a savepoint: a collision leaves the outer intact
                    link.save(force_insert=True)
                break
            except IntegrityError:
                if slug:
                    raise ValidationError(
                        {"slug": f"'{slug}' is already taken on {domain}."}
                    ) from None
                if attempt == attempts - 1:
                    raise
                link.slug_canonical = generate_slug()
        if tags is not None:
            set_link_tags(link, tags)
        created = {k: [None, v] for k, v in _snapshot(link).items() if v not in (None, "", [], {})}
        created["slug"] = [None, link.slug]
        _record_change(link, created, user, reason or "created")
    return link


def update_link(
    link: Link,
    *,
    user: Any = None,
    reason: str = "",
    tags: Iterable[Any] | None = None,
    **changes: Any,
) -> Link:
    """Apply ``changes`` to ``link``; a no-op change writes nothing and publishes nothing.
    ``tags`` (when given) replace the link's tags in the same transaction: not a change of
    the record, so tags alone write no version and publish nothing.

    The row is locked for the change, so two concurrent updates get consecutive versions.
    """
    forbidden = {"domain", "slug", "slug_canonical", "slug_original", "account"} & set(changes)
    if forbidden:
        raise ValidationError(
            {
                name: "This cannot change once the link exists; create a new link instead."
                for name in forbidden
            }
        )
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"update_link() got unexpected fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        current = (
            Link.objects.select_for_update(of=("self",))
            .select_related("domain", "campaign")
            .get(pk=link.pk)
        )
        if tags is not None:
            set_link_tags(current, tags)
        before = _snapshot(current)
        for name, value in changes.items():
            setattr(current, name, value)
        _denormalise(current)
        after = _snapshot(current)
        diff = {k: [before[k], after[k]] for k in EDITABLE_FIELDS if before[k] != after[k]}
        if not diff:
            return current
        current.full_clean(validate_unique=False, validate_constraints=False)
        current.runtime_version += 1
        current.save()
        _record_change(current, diff, user, reason)
    return current


def set_link_active(link: Link, active: bool, *, user: Any = None, reason: str = "") -> Link:
    """Activate or deactivate (the API's publish / unpublish): a versioned change, so the
    record is rewritten with the new ``active`` and the audit trail says who and why."""
    return update_link(
        link, active=active, user=user, reason=reason or ("activated" if active else "deactivated")
    )


def republish_link(link: Link, *, at_least: int | None = None) -> PublishOutbox:
    """Publish the link's current state again under a new version (after a policy or campaign
    change, or to repair drift). ``at_least`` raises the new version to that floor (a record
    in DynamoDB ahead of the database needs a version above it)."""
    with transaction.atomic():
        current = Link.objects.select_for_update().get(pk=link.pk)
        current.runtime_version = max(current.runtime_version + 1, at_least or 0)
        current.save(update_fields=["runtime_version"])
        entry = outbox.create_entry(current)
        enqueue_link_publish(current, entry)
    return entry

"""The service layer: every change to a link goes through here.

Each change writes, in one database transaction, the link (with a new ``runtime_version``),
a :class:`LinkVersion` (who, why, what changed) and a :class:`PublishOutbox` row; the publish
task is enqueued only after the transaction commits (:func:`~..dispatch.enqueue_on_commit`, by
task name: services never import the tasks), so a rolled-back change publishes nothing, and a
committed one always has its outbox row for the sweeper even if the broker was unreachable at
that moment. A change that republishes many links (a campaign, a domain, the UTM policy)
writes their outbox rows in bulk, in the same transaction (:func:`republish_links_on_commit`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from link_tracking_runtime.record import canonical_slug

from .. import dispatch, outbox
from ..conf import app_settings
from ..dispatch import enqueue_on_commit
from ..models import Domain, GlobalUTMPolicy, Link, LinkCampaign, LinkVersion, PublishOutbox
from ..validators import validate_slug
from .api_keys import acting_api_key, acting_user
from .domain_claims import release_lapsed_claim
from .errors import InvalidState
from .publisher import PUBLISH_CHUNK, stage_republish
from .slugs import generate_slug

__all__ = [
    "EDITABLE_FIELDS",
    "POLICY_FIELDS",
    "create_campaign",
    "create_domain",
    "create_link",
    "enqueue_on_commit",
    "publish_waiting_entries",
    "republish_app_links",
    "republish_link",
    "republish_links_on_commit",
    "retry_failed_publish",
    "set_link_active",
    "update_campaign",
    "update_domain",
    "update_global_utm_policy",
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


def _enqueue_publish(link: Link, entry: PublishOutbox) -> None:
    enqueue_on_commit(dispatch.PUBLISH_LINK, str(link.pk), entry.pk)


def republish_links_on_commit(links: QuerySet[Link]) -> int:
    """Republish many links (after a campaign, domain or UTM policy change), in the caller's
    transaction: every link gets a new version and an outbox row (bulk), and after commit the
    rows are sent to the bulk publish path, ``PUBLISH_CHUNK`` rows a message. A broker that is
    down at commit loses nothing: the sweeper sends the rows later. Returns how many links."""
    entry_ids = stage_republish(links)
    for start in range(0, len(entry_ids), PUBLISH_CHUNK):
        enqueue_on_commit(dispatch.PUBLISH_OUTBOX, entry_ids[start : start + PUBLISH_CHUNK])
    return len(entry_ids)


def _enqueue_entry(entry: PublishOutbox) -> None:
    """Enqueue the publish an outbox row stands for: its link's, or its domain's app links."""
    if entry.domain_id is not None:
        enqueue_on_commit(dispatch.PUBLISH_APP_LINKS, str(entry.domain_id), entry.pk)
    else:
        enqueue_on_commit(dispatch.PUBLISH_LINK, str(entry.link_id), entry.pk)


#: Rows still to be published: a link with one of these needs no new one to be published.
_OPEN_STATUSES = (
    PublishOutbox.Status.PENDING,
    PublishOutbox.Status.PROCESSING,
    PublishOutbox.Status.WAITING_FOR_DOMAIN,
)


def publish_waiting_entries(domain: Domain) -> int:
    """Once ``domain`` is verified, in the verifying transaction (the domain locked): its rows
    parked ``WAITING_FOR_DOMAIN`` go back to PENDING and are sent after commit, link rows to
    the bulk publish path (``PUBLISH_CHUNK`` a message), app-links rows to their task; each
    is written under its own version, so no link is lost and none gets a version it did not
    need. A link (or the app links) with no row left open, such as one whose row an earlier
    release completed as ``domain_unverified`` and the cleanup then deleted, is republished
    under a new version. Returns how many rows were sent."""
    rows = outbox.release_waiting(domain)
    link_rows = [row.pk for row in rows if row.link_id is not None]
    for start in range(0, len(link_rows), PUBLISH_CHUNK):
        enqueue_on_commit(dispatch.PUBLISH_OUTBOX, link_rows[start : start + PUBLISH_CHUNK])
    for row in rows:
        if row.domain_id is not None:
            _enqueue_entry(row)
    sent = len(rows)
    sent += republish_links_on_commit(
        domain.links.exclude(publish_outbox__status__in=_OPEN_STATUSES)
    )
    app_links_open = PublishOutbox.objects.filter(domain=domain, status__in=_OPEN_STATUSES)
    if domain.has_app_links and not app_links_open.exists():
        sent += republish_app_links(domain) is not None
    return sent


def _new_app_links_version(domain: Domain) -> PublishOutbox:
    """Inside a transaction, with ``domain`` locked: the next app-links version, its outbox
    row, and its publish enqueued after commit."""
    domain.app_links_version += 1
    domain.save(update_fields=["app_links_version"])
    entry = outbox.create_domain_entry(domain)
    _enqueue_entry(entry)
    return entry


def republish_app_links(domain: Domain) -> PublishOutbox | None:
    """Publish the domain's app-links record again under a new version (after its ownership
    was verified, or to repair drift); ``None`` for a domain that never had app links."""
    with transaction.atomic():
        current = Domain.objects.select_for_update().get(pk=domain.pk)
        if not current.has_app_links:
            return None
        return _new_app_links_version(current)


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
    _enqueue_publish(link, entry)
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
    **fields: Any,
) -> Link:
    """Create a link and enqueue its first publish.

    Without ``slug`` a system slug is generated (retried on the rare collision, so two
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
        created = {k: [None, v] for k, v in _snapshot(link).items() if v not in (None, "", [], {})}
        created["slug"] = [None, link.slug]
        _record_change(link, created, user, reason or "created")
    return link


def update_link(link: Link, *, user: Any = None, reason: str = "", **changes: Any) -> Link:
    """Apply ``changes`` to ``link``; a no-op change writes nothing and publishes nothing.

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
        _enqueue_publish(current, entry)
    return entry


def retry_failed_publish(entry: PublishOutbox) -> PublishOutbox:
    """Send a FAILED outbox entry round again (once its cause is fixed): back to PENDING and
    its publish enqueued after commit. The task publishes the link's current state, under the
    usual version condition. Raises :class:`InvalidState` unless the entry has failed."""
    with transaction.atomic():
        claimed = PublishOutbox.objects.filter(
            pk=entry.pk, status=PublishOutbox.Status.FAILED
        ).update(status=PublishOutbox.Status.PENDING, result="", completed_at=None)
        if not claimed:
            raise InvalidState("Only failed publishes can be retried; this one has not failed.")
        current = PublishOutbox.objects.get(pk=entry.pk)
        _enqueue_entry(current)
    return current


def create_domain(*, user: Any = None, **fields: Any) -> Domain:
    """Claim a short-link domain: it is ``pending`` until its owner proves control of the name
    (:mod:`.domains`). A lapsed unverified claim on the same name is released first."""
    if fields.get("domain_name"):
        release_lapsed_claim(fields["domain_name"])
    domain = Domain(**fields)
    domain.full_clean()
    with transaction.atomic():
        domain.save(force_insert=True)
        if domain.has_app_links:
            _new_app_links_version(domain)
    return domain


def create_campaign(*, user: Any = None, **fields: Any) -> LinkCampaign:
    """Add a link campaign (``campaign_id`` optional; when set, unique per account). It has no
    links yet, so nothing is published."""
    campaign = LinkCampaign(**fields)
    campaign.full_clean()
    campaign.save(force_insert=True)
    return campaign


def update_campaign(campaign: LinkCampaign, *, user: Any = None, **changes: Any) -> LinkCampaign:
    """Change a campaign. When its ``utm_template``, ``campaign_id`` or ``active`` changes, its
    links' records change too: ``campaign_identifier`` is re-denormalised and every link of
    the campaign is republished (:func:`republish_links_on_commit`)."""
    with transaction.atomic():
        current = LinkCampaign.objects.select_for_update().get(pk=campaign.pk)
        before = (current.utm_template, current.campaign_id)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        if (current.utm_template, current.campaign_id) != before:
            current.links.update(campaign_identifier=current.campaign_id or "")
            republish_links_on_commit(current.links.all())
    return current


def update_domain(domain: Any, *, user: Any = None, **changes: Any) -> Any:
    """Change a domain; when whether it serves links changes (``active``, or ``status`` set by
    staff), every link on it is republished (a record is active only while both its link and
    its domain are), with :func:`republish_links_on_commit`. When its app-link documents
    change, or its serving state does while it has app links, its app-links record is published
    under a new version."""
    with transaction.atomic():
        current = Domain.objects.select_for_update().get(pk=domain.pk)
        was_serving = current.serves_links
        documents = [getattr(current, name) for name in Domain.APP_LINK_FIELDS]
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        serving_changed = current.serves_links != was_serving
        if serving_changed:
            republish_links_on_commit(current.links.all())
        documents_changed = documents != [getattr(current, n) for n in Domain.APP_LINK_FIELDS]
        if documents_changed or (serving_changed and current.has_app_links):
            _new_app_links_version(current)
    return current


def update_global_utm_policy(
    default_utm_params: Mapping[str, Any], *, user: Any = None
) -> GlobalUTMPolicy:
    """Replace the organisation-wide UTM defaults and republish every link
    (:func:`republish_links_on_commit`)."""
    with transaction.atomic():
        policy = (
            GlobalUTMPolicy.objects.select_for_update()
            .filter(id=GlobalUTMPolicy.SINGLETON_ID)
            .first()
            or GlobalUTMPolicy()
        )
        changed = policy.default_utm_params != dict(default_utm_params)
        policy.default_utm_params = dict(default_utm_params)
        if acting_user(user) is not None:
            policy.updated_by = user
        policy.full_clean()
        policy.save()
        if changed:
            republish_links_on_commit(Link.objects.all())
    return policy

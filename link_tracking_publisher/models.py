"""The control plane's models: the source of truth the runtime records are published from.

The host project's account and CRM-campaign models are swappable settings, in the
django-oauth-toolkit manner: ``LINK_TRACKING_ACCOUNT_MODEL`` and
``LINK_TRACKING_CRM_CAMPAIGN_MODEL`` (``"app_label.ModelName"``). A project that sets neither
uses the app's own :class:`Account` and :class:`CrmCampaign`; use :func:`get_account_model`
and :func:`get_crm_campaign_model` rather than importing any of them.

Change links through :mod:`link_tracking_publisher.services.links`, not with ``save()``:
the service layer writes the link, its :class:`LinkVersion` and its :class:`PublishOutbox`
row in one transaction and enqueues the publish after commit.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from link_tracking_runtime.record import SLUG_MAX_LENGTH

from .conf import (
    ACCOUNT_MODEL,
    ACCOUNT_MODEL_SETTING,
    CRM_CAMPAIGN_MODEL,
    CRM_CAMPAIGN_MODEL_SETTING,
    app_settings,
)
from .documents import AppLinkDocumentField
from .message_links import sms_urls
from .validators import (
    MAX_URL_LENGTH,
    validate_apple_app_site_association,
    validate_assetlinks,
    validate_domain_name,
    validate_dynamic_param_allowlist,
    validate_redirect_url,
    validate_routing_rules,
    validate_signature_secret_ref,
    validate_utm_overrides,
    validate_utm_params,
    validate_webhook_url,
)


def get_account_model() -> type[models.Model]:
    """The model ``LINK_TRACKING_ACCOUNT_MODEL`` names (default :class:`Account`)."""
    return apps.get_model(ACCOUNT_MODEL, require_ready=False)


def get_crm_campaign_model() -> type[models.Model]:
    """The model ``LINK_TRACKING_CRM_CAMPAIGN_MODEL`` names (default :class:`CrmCampaign`)."""
    return apps.get_model(CRM_CAMPAIGN_MODEL, require_ready=False)


class AbstractAccount(models.Model):
    """What the app needs of an account: something links, domains and campaigns belong to.
    A project with its own account model points ``LINK_TRACKING_ACCOUNT_MODEL`` at it."""

    name = models.CharField(max_length=200)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Account(AbstractAccount):
    """The default account model, for a project that has none of its own."""

    class Meta(AbstractAccount.Meta):
        swappable = ACCOUNT_MODEL_SETTING


class AbstractCrmCampaign(models.Model):
    """What the app needs of a CRM campaign: one an account's link campaigns are mapped to.
    The ``account`` foreign key scopes the choice to the same account
    (:meth:`~link_tracking_publisher.api.access.AccountAccessPolicy.crm_campaigns`); a
    project with its own model points ``LINK_TRACKING_CRM_CAMPAIGN_MODEL`` at it."""

    account = models.ForeignKey(
        ACCOUNT_MODEL, on_delete=models.CASCADE, related_name="link_tracking_crm_campaigns"
    )
    name = models.CharField(max_length=200)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class CrmCampaign(AbstractCrmCampaign):
    """The default CRM campaign model, for a project that has none of its own."""

    class Meta(AbstractCrmCampaign.Meta):
        swappable = CRM_CAMPAIGN_MODEL_SETTING
        verbose_name = "CRM campaign"


def default_dynamic_param_allowlist() -> list[str]:
    return list(app_settings.DEFAULT_DYNAMIC_PARAM_ALLOWLIST)


def empty_dict() -> dict[str, Any]:
    return {}


def new_verification_token() -> str:
    """A fresh, unguessable token for a domain's DNS TXT ownership record."""
    return secrets.token_urlsafe(24)


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    QR = "qr", "QR code"
    SOCIAL = "social", "Social"
    WEB = "web", "Web"
    OTHER = "other", "Other"


class Domain(models.Model):
    """A short-link host (``go.example.com``). Links on it redirect only while both the link and
    the domain are active. A domain without an account is shared by every account.

    Ownership: a new domain is ``pending`` until its owner proves control of the name with a
    DNS TXT record (:attr:`verification_record_name` = :attr:`verification_record_value`),
    checked by :mod:`link_tracking_publisher.services.domains`, or until staff verify it by
    hand. Links on an unverified domain are not published at all; an unverified claim expires
    after ``LINK_TRACKING['DOMAIN_CLAIM_TTL_SECONDS']``, so nobody can hold a name hostage.
    ``status``, ``health_score``, ``warming_*``, ``url_domain_ref`` and the verification
    fields are the platform's: API clients read them and never write them.
    """

    class Purpose(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"
        QR = "qr", "QR"
        GENERAL = "general", "General"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending verification"
        WARMING = "warming", "Warming"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        RETIRED = "retired", "Retired"

    class VerificationMethod(models.TextChoices):
        DNS = "dns", "DNS TXT record"
        MANUAL = "manual", "By hand (staff)"
        MIGRATION = "migration", "Existing before ownership checks"

    #: Statuses under which a verified, active domain's links publish active.
    SERVING_STATUSES = (Status.WARMING, Status.ACTIVE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        ACCOUNT_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="link_tracking_domains",
        help_text="Owner; empty for a domain every account may use.",
    )
    domain_name = models.CharField(max_length=253, unique=True, validators=[validate_domain_name])
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.GENERAL)
    active = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    health_score = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)]
    )
    # Warming: a new sending domain ramps its daily volume up before carrying full traffic.
    warming_started_at = models.DateTimeField(null=True, blank=True)
    warming_completed_at = models.DateTimeField(null=True, blank=True)
    warming_daily_limit = models.PositiveIntegerField(null=True, blank=True)
    # The host project's own record of this URL domain (marketing_tracking.URLDomain in the
    # reference deployment), by id: a plain reference, so hosts without such a model need none.
    url_domain_ref = models.CharField(max_length=64, blank=True)
    # Ownership verification.
    verification_token = models.CharField(
        max_length=64,
        default=new_verification_token,
        editable=False,
        help_text="The value the owner publishes in the DNS TXT record.",
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="The staff member who verified the domain by hand.",
    )
    verification_method = models.CharField(
        max_length=16, choices=VerificationMethod.choices, blank=True, editable=False
    )
    verification_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    verification_error = models.CharField(max_length=500, blank=True, editable=False)
    # App links: served by the runtime at /.well-known/ from the domain's app-links record.
    apple_app_site_association = AppLinkDocumentField(
        null=True,
        blank=True,
        validators=[validate_apple_app_site_association],
        help_text="Apple App Site Association document (iOS universal links), served at "
        "/.well-known/apple-app-site-association; empty: none (404).",
    )
    assetlinks = AppLinkDocumentField(
        null=True,
        blank=True,
        validators=[validate_assetlinks],
        help_text="Digital Asset Links statements (Android app links), served at "
        "/.well-known/assetlinks.json; empty: none (404).",
    )
    #: The version of the domain's published app-links record (one outbox row per version).
    app_links_version = models.PositiveBigIntegerField(default=0, editable=False)
    not_found_url = models.CharField(
        max_length=MAX_URL_LENGTH,
        blank=True,
        validators=[validate_redirect_url],
        help_text="Where the runtime sends a visitor whose slug is no link of this domain "
        "(published in the domain's record); empty: the runtime's DEFAULT_FALLBACK_URL.",
    )
    message_keyring = models.CharField(
        max_length=512,
        blank=True,
        validators=[validate_signature_secret_ref],
        help_text="Secrets Manager name of the keyring that signs the domain's per-message SMS "
        "links (/{slug}/{token}), under LINK_TRACKING['SIGNING_KEYRING_PREFIX']; empty: SMS "
        "links carry ?sms_msg_id= instead.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    #: The fields the app-links record is made of (with :attr:`serves_links`).
    APP_LINK_FIELDS = ("apple_app_site_association", "assetlinks")
    #: The fields the domain's record (app links and the not-found page) is made of.
    DOMAIN_RECORD_FIELDS = (*APP_LINK_FIELDS, "not_found_url")

    class Meta:
        ordering = ["domain_name"]

    def __str__(self) -> str:
        return self.domain_name

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def serves_links(self) -> bool:
        """Whether links on this domain publish active: the domain is active, its ownership
        is verified and its status is warming or active (not pending, suspended, retired)."""
        return bool(self.active and self.is_verified and self.status in self.SERVING_STATUSES)

    @property
    def has_app_links(self) -> bool:
        """Whether the domain carries an app-link document, or once published a record."""
        return bool(
            self.apple_app_site_association is not None
            or self.assetlinks is not None
            or self.not_found_url
            or self.app_links_version
        )

    def clean(self) -> None:
        # Django skips field validators for "empty" values ({}, [], ""); an empty document is
        # still a document, and not a valid one: check those too (None means "no file").
        errors: dict[str, list[str]] = {}
        for name, check in (
            ("apple_app_site_association", validate_apple_app_site_association),
            ("assetlinks", validate_assetlinks),
        ):
            value = getattr(self, name)
            if value is not None and value in ({}, [], ""):
                try:
                    check(value)
                except ValidationError as exc:
                    errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)

    @property
    def verification_record_name(self) -> str:
        return f"{app_settings.DOMAIN_VERIFICATION_RECORD_PREFIX}.{self.domain_name}"

    @property
    def verification_record_value(self) -> str:
        return f"link-tracking-verification={self.verification_token}"

    @property
    def claim_expires_at(self) -> datetime | None:
        """When an unverified claim lapses (``None`` once verified)."""
        if self.is_verified or self.created_at is None:
            return None
        return self.created_at + timedelta(seconds=app_settings.DOMAIN_CLAIM_TTL_SECONDS)


class LinkCampaign(models.Model):
    """A campaign of links, scoped to an account, with the UTM template its links inherit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        ACCOUNT_MODEL, on_delete=models.PROTECT, related_name="link_campaigns"
    )
    campaign_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="Optional identifier, unique per account; published on every link record.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    utm_template = models.JSONField(
        default=empty_dict,
        blank=True,
        validators=[validate_utm_params],
        help_text="Query params for every link, with ${variable} placeholders.",
    )
    active = models.BooleanField(default=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    crm_campaigns: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        CRM_CAMPAIGN_MODEL,
        through="LinkCampaignCrmCampaignMapping",
        related_name="link_campaigns",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "campaign_id"],
                condition=Q(campaign_id__isnull=False),
                name="link_campaign_unique_campaign_id_per_account",
                violation_error_code="duplicate_campaign_id",
                violation_error_message="This account already has a campaign with this campaign_id.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.campaign_id == "":
            self.campaign_id = None
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date is before the start date."})

    def validate_constraints(self, exclude: Any = None) -> None:
        # Name the field, not just the model, when campaign_id is taken.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            if any(e.code == "duplicate_campaign_id" for e in exc.error_dict.get("__all__", [])):
                raise ValidationError(
                    {"campaign_id": "This account already has a campaign with this campaign_id."}
                ) from None
            raise


#: The longest tag name.
TAG_NAME_MAX_LENGTH = 64
#: The character that separates tag names in a CSV cell (:mod:`.services.link_csv`), so no
#: tag name may hold it.
TAG_SEPARATOR = "|"


def validate_tag_name(value: str) -> None:
    """A tag name: not blank, no surrounding blanks, no ``|`` (the CSV separator), no NUL."""
    if not value.strip():
        raise ValidationError("A tag needs a name.", code="blank")
    if value != value.strip():
        raise ValidationError("A tag name may not start or end with blanks.", code="blanks")
    if TAG_SEPARATOR in value or "\x00" in value:
        raise ValidationError(
            f"A tag name may not contain {TAG_SEPARATOR!r} (it separates tags in CSV files).",
            code="separator",
        )


validate_tag_colour = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", "A colour as #rrggbb.", code="invalid_colour"
)


class Tag(models.Model):
    """A label an account puts on its links, across campaigns (channel tests, agencies, print
    runs). Scoped to an account as :class:`LinkCampaign` is; the name is unique per account
    whatever its case. Control plane only: tags are not in the runtime record, so tagging a
    link publishes nothing. Change tags through :mod:`link_tracking_publisher.services.tags`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(ACCOUNT_MODEL, on_delete=models.PROTECT, related_name="link_tags")
    name = models.CharField(max_length=TAG_NAME_MAX_LENGTH, validators=[validate_tag_name])
    colour = models.CharField(
        max_length=7,
        blank=True,
        validators=[validate_tag_colour],
        help_text="Optional, as #rrggbb, for lists and charts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("name"),
                name="link_tag_unique_name_per_account",
                violation_error_code="duplicate_tag_name",
                violation_error_message="This account already has a tag with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def validate_constraints(self, exclude: Any = None) -> None:
        # Name the field, not just the model, when the name is taken.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            if any(e.code == "duplicate_tag_name" for e in exc.error_dict.get("__all__", [])):
                raise ValidationError(
                    {"name": "This account already has a tag with this name."}
                ) from None
            raise


class LinkCampaignCrmCampaignMapping(models.Model):
    """Attribution: a link campaign used by a CRM campaign, over a date range."""

    link_campaign = models.ForeignKey(
        LinkCampaign, on_delete=models.CASCADE, related_name="crm_campaign_mappings"
    )
    crm_campaign = models.ForeignKey(
        CRM_CAMPAIGN_MODEL, on_delete=models.CASCADE, related_name="link_campaign_mappings"
    )
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "link campaign ↔ CRM campaign mapping"

    def __str__(self) -> str:
        return f"{self.link_campaign} → {self.crm_campaign}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date is before the start date."})


class GlobalUTMPolicy(models.Model):
    """Organisation-wide UTM defaults. A true singleton: the table can hold one row only."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    default_utm_params = models.JSONField(
        default=empty_dict, blank=True, validators=[validate_utm_params]
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "global UTM policy"
        verbose_name_plural = "global UTM policy"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="global_utm_policy_singleton"),
        ]

    def __str__(self) -> str:
        return "Global UTM policy"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.id = self.SINGLETON_ID
        if self._state.adding and type(self).objects.filter(id=self.SINGLETON_ID).exists():
            self._state.adding = False  # a new instance saves onto the one row
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError("The global UTM policy cannot be deleted; clear its params instead.")

    @classmethod
    def load(cls) -> GlobalUTMPolicy:
        policy, _ = cls.objects.get_or_create(id=cls.SINGLETON_ID)
        return policy


_UNKNOWN = object()


class Link(models.Model):
    """A short link: ``https://{domain}/{slug}`` → ``destination_url``."""

    class SlugType(models.TextChoices):
        SYSTEM = "system", "System-generated"
        VANITY = "vanity", "Vanity"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(ACCOUNT_MODEL, on_delete=models.PROTECT, related_name="links")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="links")
    campaign = models.ForeignKey(
        LinkCampaign, on_delete=models.PROTECT, null=True, blank=True, related_name="links"
    )
    slug_canonical = models.CharField(max_length=SLUG_MAX_LENGTH, editable=False)
    slug_original = models.CharField(
        max_length=SLUG_MAX_LENGTH, blank=True, help_text="A vanity slug as it was typed."
    )
    slug_type = models.CharField(max_length=8, choices=SlugType.choices, default=SlugType.SYSTEM)
    campaign_identifier = models.CharField(
        max_length=100, blank=True, editable=False, help_text="campaign.campaign_id, denormalised."
    )
    keyword = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.SMS)
    destination_url = models.CharField(
        max_length=MAX_URL_LENGTH, validators=[validate_redirect_url]
    )
    fallback_url = models.CharField(
        max_length=MAX_URL_LENGTH,
        blank=True,
        validators=[validate_redirect_url],
        help_text="Where a disabled or expired link goes; default https://{domain}/disabled.",
    )
    append_query_params = models.BooleanField(
        default=True, help_text="If off, the destination is used exactly as it is."
    )
    utm_overrides = models.JSONField(
        default=empty_dict,
        blank=True,
        validators=[validate_utm_overrides],
    )
    dynamic_param_allowlist = models.JSONField(
        default=default_dynamic_param_allowlist,
        blank=True,
        validators=[validate_dynamic_param_allowlist],
    )
    active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_clicks = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    signature_required = models.BooleanField(default=False)
    signature_secret_ref = models.CharField(
        max_length=512,
        blank=True,
        validators=[validate_signature_secret_ref],
        help_text="Secrets Manager name of the signing keyring, under "
        "LINK_TRACKING['SIGNING_KEYRING_PREFIX'] (link-signatures/ by default).",
    )
    routing_rules = models.JSONField(null=True, blank=True)
    query_message_id = models.BooleanField(
        default=True,
        help_text="Take a ?sms_msg_id= typed into the URL (the query-string SMS form). Off: "
        "only per-message links attribute a message, and a typed one is ignored.",
    )
    #: Per-message links issued (:mod:`.message_links`): the next message's sequence number.
    messages_issued = models.PositiveBigIntegerField(default=0, editable=False)
    tags: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        Tag,
        related_name="links",
        blank=True,
        help_text="The account's tags on this link (control plane only: not published).",
    )
    runtime_version = models.PositiveBigIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "slug_canonical"], name="link_unique_slug_per_domain"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign_identifier", "active"], name="link_campaign_ident_idx"),
            models.Index(fields=["account", "-created_at"], name="link_account_created_idx"),
        ]

    _loaded_campaign_id: Any

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Link:
        link = super().from_db(db, field_names, values)
        # The campaign it was loaded with: a save that moves the link to another campaign
        # rebuilds both campaigns' statistics (clicks.rollups).
        link._loaded_campaign_id = link.__dict__.get("campaign_id", _UNKNOWN)
        return link

    def __str__(self) -> str:
        return f"{self.domain_id and self.domain.domain_name}/{self.slug_canonical}"

    @property
    def slug(self) -> str:
        """The slug as people see it: a vanity slug as typed, else the canonical one."""
        return self.slug_original or self.slug_canonical

    def get_full_url(self) -> str:
        return f"{app_settings.SHORT_URL_SCHEME}://{self.domain.domain_name}/{self.slug}"

    def get_sms_url(self, sms_msg_id: object) -> str:
        """The short URL one SMS message carries.

        On a domain with a ``message_keyring``, the per-message link
        ``https://{domain}/{slug}/{token}`` (at most ten characters longer than
        :meth:`get_full_url`; :func:`.message_links.sms_urls` issues the token, and
        the bulk form for a whole send). Otherwise the query-string form,
        ``get_full_url() + ?sms_msg_id=<id>``."""
        return sms_urls(self, [str(sms_msg_id)])[0]

    def get_query_sms_url(self, sms_msg_id: object) -> str:
        """The query-string SMS form, ``get_full_url() + ?sms_msg_id=<id>``: the runtime
        forwards the id to the destination (when allowlisted) and into the click event."""
        return f"{self.get_full_url()}?sms_msg_id={quote(str(sms_msg_id), safe='')}"

    def effective_fallback_url(self) -> str:
        return self.fallback_url or f"https://{self.domain.domain_name}/disabled"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.signature_required and not self.signature_secret_ref:
            errors["signature_secret_ref"] = (
                "Signed links need the Secrets Manager id of their signing keyring."
            )
        campaign = self.campaign if self.campaign_id else None
        if campaign is not None and self.account_id and campaign.account_id != self.account_id:
            errors["campaign"] = "This campaign belongs to another account."
        if (
            self.domain_id
            and self.account_id
            and self.domain.account_id not in (None, self.account_id)
        ):
            errors["domain"] = "This domain belongs to another account."
        if self.routing_rules is not None:
            try:
                validate_routing_rules(self.routing_rules)
            except ValidationError as exc:
                errors["routing_rules"] = "; ".join(exc.messages)
        if errors:
            raise ValidationError(errors)


class PublishOutbox(models.Model):
    """One publish of one link state, written in the same transaction as the change, so a
    change can never be committed without its publish being recorded (the outbox pattern).
    A row is a link's, or (``domain`` set, ``link`` empty) a domain's app-links record's."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        #: Parked, not written: the link's (or app links') domain is not verified yet. The
        #: sweeper leaves it alone; verifying the domain sends it again (nothing is lost).
        WAITING_FOR_DOMAIN = "waiting_for_domain", "Waiting for domain verification"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="publish_outbox", null=True, blank=True
    )
    domain = models.ForeignKey(
        Domain,
        on_delete=models.CASCADE,
        related_name="publish_outbox",
        null=True,
        blank=True,
        help_text="Set on the publish of a domain's app-links record (then link is empty).",
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    runtime_version = models.PositiveBigIntegerField()
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    retry_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    result = models.CharField(
        max_length=32,
        blank=True,
        help_text="written, already_applied, domain_unverified (waiting) or the error code.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "publish outbox entry"
        verbose_name_plural = "publish outbox"
        indexes = [models.Index(fields=["status", "updated_at"], name="outbox_status_updated_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(link__isnull=False, domain__isnull=True)
                | Q(link__isnull=True, domain__isnull=False),
                name="outbox_link_xor_domain",
            )
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.status})"


class LinkVersion(models.Model):
    """The audit trail: one row per change of a link, with who, why and what changed."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveBigIntegerField()
    destination_url = models.CharField(max_length=MAX_URL_LENGTH)
    utm_overrides = models.JSONField(default=empty_dict)
    routing_rules = models.JSONField(null=True, blank=True)
    active = models.BooleanField()
    changes = models.JSONField(
        default=empty_dict, help_text="Field → [old, new] for every field this change touched."
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    change_reason = models.TextField(blank=True)
    # The API key the change was made with (changed_by is then empty: a key is no user).
    changed_by_api_key = models.ForeignKey(
        "ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["link", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["link", "version"], name="link_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.link_id} v{self.version}"


class PrivacyRequest(models.Model):
    """A data-subject request (access or erasure) about click data, tracked to completion.

    The subject's identifier is never stored: only ``subject_hash``, an HMAC-SHA256 under
    ``LINK_TRACKING['PRIVACY_HASH_KEY']`` (:func:`link_tracking_publisher.services.privacy.
    subject_hash`), which every store compares its own values against."""

    class RequestType(models.TextChoices):
        ACCESS = "access", "Access"
        ERASURE = "erasure", "Erasure"

    class SubjectType(models.TextChoices):
        SMS_MSG_ID = "sms_msg_id", "SMS message id"
        CLICK_ID = "click_id", "Click id"
        IP_HASH = "ip_hash", "IP hash"
        LINK = "link", "Link"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETE = "complete", "Complete"
        PARTIAL = "partial", "Partial (some stores not done)"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        ACCOUNT_MODEL, on_delete=models.PROTECT, related_name="link_privacy_requests"
    )
    request_type = models.CharField(max_length=16, choices=RequestType.choices)
    subject_type = models.CharField(max_length=16, choices=SubjectType.choices)
    subject_hash = models.CharField(
        max_length=64, db_index=True, editable=False, help_text="HMAC-SHA256 of the subject."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result = models.JSONField(default=empty_dict, blank=True)
    error_message = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.request_type} {self.subject_type}#{self.subject_hash[:12]} ({self.status})"


def empty_list() -> list[Any]:
    return []


class LinkImport(models.Model):
    """A CSV import of links run by a worker (``POST links/import/`` of a file longer than
    ``IMPORT_MAX_ROWS``), with its progress and its errors
    (:mod:`link_tracking_publisher.services.import_jobs`).

    The uploaded file is kept in ``content``: committed with the job before the request is
    answered, so it cannot be lost between the upload and the worker, and any worker can read
    it without a shared file system."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
        PER_ROW = "per_row", "Per row (good rows imported, bad ones reported)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (nothing imported)"
        PARTIAL = "partial", "Partial (some rows imported)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(ACCOUNT_MODEL, on_delete=models.CASCADE, related_name="+")
    domain = models.ForeignKey(
        "Domain",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="For rows without a domain.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The API key the job was started with (requested_by is then empty): its links' versions
    # name the key, as a synchronous import's do.
    requested_by_api_key = models.ForeignKey(
        "ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveIntegerField(help_text="Bytes.")
    content = models.BinaryField(editable=False, help_text="The file as it was uploaded.")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    rows_total = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    rows_checked = models.PositiveIntegerField(default=0, help_text="Data rows checked.")
    rows_done = models.PositiveIntegerField(
        default=0, help_text="Data rows whose outcome is committed."
    )
    created_count = models.PositiveIntegerField(default=0, help_text="Links made.")
    failed_count = models.PositiveIntegerField(default=0, help_text="Rows with an error.")
    error_count = models.PositiveIntegerField(default=0, help_text="Errors, all of them.")
    errors = models.JSONField(
        default=empty_list, blank=True, help_text="The first errors: row, column, message."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started (resumptions).")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "link import job"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status}, {self.rows_done}/{self.rows_total})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.PARTIAL)


# --- click statistics ---------------------------------------------------------------------
# Click events are ingested (services/clicks) into the rollups below; the raw events stay
# where Firehose put them (S3, Parquet), which is what Athena reads at scale.


if TYPE_CHECKING:  # django-stubs' fields are generic; Django's are not subscriptable
    _BigIntegerField = models.BigIntegerField[int, int]
else:
    _BigIntegerField = models.BigIntegerField


class Int64KeyField(_BigIntegerField):
    """A 64-bit integer primary key declared ``integer`` on SQLite, where that makes it the
    table's rowid: one B-tree per row instead of a table plus a unique index."""

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)


class ClickEventKey(models.Model):
    """The dedupe key of every ingested click event: an event is counted only by the
    transaction that inserts its key, so at-least-once delivery never counts twice.

    ``key`` is the first 64 bits of a BLAKE2b hash of the ``event_id``
    (:func:`~.clicks.dedupe.event_key`): an integer key is a fraction of the text's index
    cost. Two events collide with probability about n²/2⁶⁵ for n keys held (docs:
    CLICK_STATISTICS.md, "Dedupe keys"). ``day`` (UTC days since the epoch of the event's
    timestamp) is what keys are pruned by once older than ``CLICK_DEDUPE_HORIZON_DAYS``."""

    key = Int64KeyField(primary_key=True)
    day = models.IntegerField()

    class Meta:
        verbose_name = "ingested click event key"

    def __str__(self) -> str:
        return f"{self.key & 0xFFFFFFFFFFFFFFFF:016x} (day {self.day})"


class ClickRollup(models.Model):
    """The former grain of the statistics, no longer written: clicks of one link in one UTC
    hour, human or bot, with one value of one breakdown dimension. ``rebuild_click_rollups``
    moves each link's rows into :class:`LinkHourClicks`, :class:`LinkDayBreakdown`, the
    campaign tables and the totals (deleting them as it goes); the statistics read only those.
    Its ``Dimension`` choices are the breakdown dimensions of the new tables."""

    class Dimension(models.TextChoices):
        OUTCOME = "outcome", "Outcome"
        CHANNEL = "channel", "Channel"
        COUNTRY = "country", "Country"
        DEVICE = "device", "Device"
        VARIANT = "variant", "A/B variant"

    # Indexed by the unique constraint (or index) that starts with it: one index less to
    # write per row.
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="click_rollups", db_index=False
    )
    hour = models.DateTimeField()
    is_bot = models.BooleanField()
    dimension = models.CharField(max_length=8, choices=Dimension.choices)
    value = models.CharField(max_length=64, blank=True)
    clicks = models.PositiveBigIntegerField(default=0)
    # Kept on the outcome rows (those totals are summed from); empty on the others.
    first_click_at = models.DateTimeField(null=True, blank=True)
    last_click_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link", "hour", "dimension", "is_bot", "value"],
                name="click_rollup_unique_cell",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.link_id} {self.hour:%Y-%m-%d %H}h {self.dimension}={self.value}: {self.clicks}"
        )


class _ClickCounts(models.Model):
    """Clicks counted once each, human and bot apart, with the QR code scans among them
    (the events whose channel is the contract's ``SCAN_CHANNEL``) and the first and last
    click's time."""

    human_clicks = models.PositiveBigIntegerField(default=0)
    bot_clicks = models.PositiveBigIntegerField(default=0)
    human_scans = models.PositiveBigIntegerField(default=0)
    bot_scans = models.PositiveBigIntegerField(default=0)
    first_click_at = models.DateTimeField(null=True, blank=True)
    last_click_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class LinkHourClicks(_ClickCounts):
    """The clicks of one link in one UTC hour: the totals and the time series of a link's
    statistics. One row per link and hour with clicks, whatever the clicks' breakdowns."""

    # Indexed by the unique constraint that starts with it: one index less to write per row.
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="hour_clicks", db_index=False
    )
    hour = models.DateTimeField()

    class Meta:
        verbose_name_plural = "link hour clicks"
        constraints = [
            models.UniqueConstraint(fields=["link", "hour"], name="link_hour_clicks_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.link_id} {self.hour:%Y-%m-%d %H}h"


class CampaignHourClicks(_ClickCounts):
    """The clicks of one campaign's links in one UTC hour, counted at ingestion (and rebuilt
    from :class:`LinkHourClicks` when a link joins, leaves or is deleted, so a campaign's
    figures are those of its links now)."""

    campaign = models.ForeignKey(
        LinkCampaign, on_delete=models.CASCADE, related_name="hour_clicks", db_index=False
    )
    hour = models.DateTimeField()

    class Meta:
        verbose_name_plural = "campaign hour clicks"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "hour"], name="campaign_hour_clicks_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.hour:%Y-%m-%d %H}h"


class LinkClickTotals(_ClickCounts):
    """A link's all-time counts: what the link export and the admin read in one row."""

    link = models.OneToOneField(
        Link, on_delete=models.CASCADE, primary_key=True, related_name="click_totals"
    )

    class Meta:
        verbose_name_plural = "link click totals"

    def __str__(self) -> str:
        return f"{self.link_id}: {self.human_clicks + self.bot_clicks}"


class CampaignClickTotals(_ClickCounts):
    """A campaign's all-time counts (of its links now, as :class:`CampaignHourClicks`)."""

    campaign = models.OneToOneField(
        LinkCampaign, on_delete=models.CASCADE, primary_key=True, related_name="click_totals"
    )

    class Meta:
        verbose_name_plural = "campaign click totals"

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.human_clicks + self.bot_clicks}"


class _DayBreakdown(models.Model):
    """Clicks of one UTC day with one value of one breakdown dimension (``outcome``,
    ``channel``, ``country``, ``device``, ``variant``; ``""`` for unknown), human and bot
    apart. Every click adds one to one row per dimension, so each dimension's rows of a day
    sum to the day's totals; except ``bot_reason``, which only bot clicks have (one of the
    contract's ``BOT_REASONS``, or ``unknown`` for an event written before the click event
    said why), so its rows sum to the day's bot clicks."""

    #: The former grain's dimensions, and why a bot's click is a bot's (made with the
    #: functional API: an enum with members cannot be subclassed to add one).
    Dimension = models.TextChoices(  # type: ignore[call-overload]
        "Dimension",
        [
            *((member.name, (member.value, member.label)) for member in ClickRollup.Dimension),
            ("BOT_REASON", ("bot_reason", "Bot reason")),
        ],
    )

    day = models.DateTimeField(help_text="Midnight UTC that starts the day.")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    value = models.CharField(max_length=64, blank=True)
    human_clicks = models.PositiveBigIntegerField(default=0)
    bot_clicks = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True


class LinkDayBreakdown(_DayBreakdown):
    """A link's breakdowns per UTC day (see :class:`_DayBreakdown`)."""

    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="day_breakdowns", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link", "day", "dimension", "value"], name="link_day_breakdown_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.link_id} {self.day:%Y-%m-%d} {self.dimension}={self.value}"


class CampaignDayBreakdown(_DayBreakdown):
    """A campaign's breakdowns per UTC day (of its links now, as :class:`CampaignHourClicks`)."""

    campaign = models.ForeignKey(
        LinkCampaign, on_delete=models.CASCADE, related_name="day_breakdowns", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "dimension", "value"],
                name="campaign_day_breakdown_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day:%Y-%m-%d} {self.dimension}={self.value}"


class ClickVisitor(models.Model):
    """One human visitor of one link in one UTC hour: distinct visitors over any hour range
    are a COUNT(DISTINCT visitor) over these rows. ``visitor`` is the first 64 bits of a
    BLAKE2b hash of the event's (already keyed) ``ip_hash``: an integer key is several times
    cheaper to index than the hex text, and two visitors collide with probability about
    n²/2⁶⁵ (10⁻⁸ for a million visitors), far below any count's error."""

    # Indexed by the unique constraint (or index) that starts with it: one index less to
    # write per row.
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="click_visitors", db_index=False
    )
    hour = models.DateTimeField()
    visitor = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link", "hour", "visitor"], name="click_visitor_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.link_id} {self.hour:%Y-%m-%d %H}h {self.visitor:x}"


class MessageClick(models.Model):
    """Per-message attribution: the clicks on one link that carried one ``sms_msg_id``."""

    # Indexed by the unique constraint (or index) that starts with it: one index less to
    # write per row.
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="message_clicks", db_index=False
    )
    sms_msg_id = models.CharField(max_length=128)
    human_clicks = models.PositiveBigIntegerField(default=0)
    bot_clicks = models.PositiveBigIntegerField(default=0)
    first_human_click_at = models.DateTimeField(null=True, blank=True)
    last_click_at = models.DateTimeField()

    class Meta:
        ordering = ["sms_msg_id", "link"]
        # One index, link first: it serves lookups by link, by campaign and (through the
        # account's links, one seek each) by sms_msg_id. A second index in the other order
        # doubled ingestion's cost per message row (benchmarks/ingest_bench.py).
        constraints = [
            models.UniqueConstraint(fields=["link", "sms_msg_id"], name="message_click_unique"),
        ]
        # No index on last_click_at for the API's ?ordering=-last_click_at: ingestion would
        # move the row's entry on every click, 6 to 11% of its CPU (ingest_bench.py --before).

    def __str__(self) -> str:
        return f"{self.sms_msg_id} → {self.link_id}"


class OrphanClicks(models.Model):
    """Clicks on no link of a domain (a mistyped, guessed or never-published slug), per UTC day
    and slug, human and bot apart: a domain's top missing slugs and its orphan clicks by day.
    ``slug`` is canonical; ``""`` holds the paths that cannot be a slug at all."""

    # Indexed by the unique constraint that starts with it.
    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, related_name="orphan_clicks", db_index=False
    )
    day = models.DateTimeField(help_text="Midnight UTC that starts the day.")
    slug = models.CharField(max_length=SLUG_MAX_LENGTH, blank=True)
    human_clicks = models.PositiveBigIntegerField(default=0)
    bot_clicks = models.PositiveBigIntegerField(default=0)
    last_click_at = models.DateTimeField()

    class Meta:
        ordering = ["domain", "-day", "slug"]
        verbose_name_plural = "orphan clicks"
        constraints = [
            models.UniqueConstraint(fields=["domain", "day", "slug"], name="orphan_clicks_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.domain_id}/{self.slug or '(not a slug)'} {self.day:%Y-%m-%d}"


class MessageToken(models.Model):
    """One SMS message's per-message link: the sequence number its token carries on ``link``
    and the host's message id it stands for (ingestion puts that id on the click)."""

    # Indexed by the unique constraints that start with it.
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="message_tokens", db_index=False
    )
    sequence = models.PositiveBigIntegerField()
    sms_msg_id = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["link", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["link", "sequence"], name="message_token_sequence"),
            models.UniqueConstraint(fields=["link", "sms_msg_id"], name="message_token_message"),
        ]

    def __str__(self) -> str:
        return f"{self.sms_msg_id} → {self.link_id}#{self.sequence}"


class ClickIngestCheckpoint(models.Model):
    """How far ingestion has read one source object (a local file or an S3 object): NDJSON
    by byte offset, Parquet by row. Moved in the same transaction as each batch's counts."""

    source = models.CharField(max_length=1024, unique=True)
    position = models.PositiveBigIntegerField(default=0)
    completed = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.source} @ {self.position}"


class ClickWebhook(models.Model):
    """An account's click notification endpoint: signed HTTPS POSTs, one per click."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        ACCOUNT_MODEL, on_delete=models.CASCADE, related_name="link_click_webhooks"
    )
    url = models.URLField(max_length=MAX_URL_LENGTH, validators=[validate_webhook_url])
    secret = models.CharField(
        max_length=128, help_text="Signing secret (whsec_…); the HMAC key is what follows whsec_."
    )
    # The secret before the last rotation: deliveries carry its signature too until
    # previous_secret_expires_at (CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS after the rotation).
    previous_secret = models.CharField(max_length=128, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    include_bots = models.BooleanField(
        default=False, help_text="Also notify clicks classified as bots and link previews."
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    # Deliveries given up (FAILED) since the last one delivered; at
    # WEBHOOK_DISABLE_AFTER_FAILURES the endpoint is switched off (clicks.webhooks).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Switched off after too many consecutive failed deliveries: its deliveries "
        "are held (kept, not sent) until it is switched on again.",
    )
    disabled_reason = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class ClickWebhookDelivery(models.Model):
    """The outbox of click notifications: written in the same transaction as the click's
    counts, sent by a Celery task, retried with backoff, at most one per webhook and event.

    CANCELLED is terminal: an erasure request cancelled the delivery before it was sent (and
    redacted its payload); it is never sent or retried."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled (erasure request)"

    webhook = models.ForeignKey(  # indexed by click_webhook_delivery_once
        ClickWebhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_id = models.CharField(max_length=64)
    payload = models.JSONField()
    #: The keyed hashes (``services.privacy.subject_hash``) of the click's identifiers that
    #: the payload does not carry (its ``ip_hash`` and click id), so that an erasure or access
    #: request by either finds the delivery; never sent, emptied by an erasure.
    subject_hashes = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "click webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_id"], name="click_webhook_delivery_once"
            ),
        ]
        # The API's cursor in its default ordering (the newest first, the key breaking ties).
        indexes = [models.Index(fields=["created_at", "id"], name="click_webhook_delivery_newest")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.webhook_id} ({self.status})"


class ApiKey(models.Model):
    """A credential a machine client uses with the API, for one account and some scopes.

    The client holds ``<prefix>_<secret>``; only :attr:`prefix` (shown in lists, the lookup
    key) and :attr:`secret_hash` are stored: HMAC-SHA256 of the whole key under
    ``LINK_TRACKING['API_KEY_PEPPER']``. The secret is 256 random bits, so a fast keyed hash
    is as strong as a slow one and costs microseconds per request (a password KDF is for
    guessable secrets). Create, rotate and revoke through
    :mod:`link_tracking_publisher.services.api_keys`."""

    class Scope(models.TextChoices):
        LINKS_READ = "links:read", "Read links, domains and campaigns"
        LINKS_WRITE = "links:write", "Create and change links, domains and campaigns"
        STATS_READ = "stats:read", "Read click statistics and message clicks"
        WEBHOOKS_MANAGE = "webhooks:manage", "Manage click webhooks and their deliveries"
        IMPORT = "import", "Import links from CSV"

    account = models.ForeignKey(ACCOUNT_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"api key {self.prefix} ({self.name})"

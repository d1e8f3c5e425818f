"""Serializers of the control plane's API.

Reading and writing use different serializers where the shapes differ (a link's domain and
slug are set when it is created and never change), so the OpenAPI schema says exactly what a
request may carry. Validation that the service layer owns (model ``clean()``, uniqueness,
routing rules) runs there, once; its ``ValidationError`` becomes field errors in
:mod:`.exceptions`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from link_tracking_runtime.events import OUTCOMES
from link_tracking_runtime.record import DYNAMIC_PARAMS, SLUG_MAX_LENGTH
from link_tracking_runtime.routing import ACCEPT_LANGUAGE_MAX_LENGTH

from .. import message_links, outbox
from ..clicks import orphans
from ..conf import app_settings
from ..documents import stored_document_problems
from ..models import (
    TAG_NAME_MAX_LENGTH,
    Domain,
    GlobalUTMPolicy,
    Link,
    LinkCampaign,
    LinkCampaignCrmCampaignMapping,
    LinkImport,
    LinkVersion,
    PrivacyRequest,
    PublishOutbox,
    Tag,
    get_crm_campaign_model,
)
from ..services import preview, qr
from ..services.link_import import IMPORT_MAX_BYTES
from ..services.links import EDITABLE_FIELDS
from ..services.tags import MAX_TAGS_PER_LINK
from ..validators import (
    MAX_PARAM_VALUE_LENGTH,
    UTM_TEMPLATE_VARIABLES,
    validate_apple_app_site_association,
    validate_assetlinks,
    validate_domain_name,
    validate_dynamic_param_allowlist,
    validate_routing_rules,
    validate_utm_overrides,
    validate_utm_params,
)
from .fields import (
    AccountField,
    BoundedListField,
    CampaignField,
    CrmCampaignField,
    DomainField,
    SafeJSONField,
    StrictCharField,
    StrictModelSerializer,
    pk_serializer_field,
)

REASON_MAX_LENGTH = 1000


def _utm_params_field(*, overrides: bool = False, **kwargs: Any) -> serializers.DictField:
    """Query param name → template string (``${variable}``); in overrides ``null`` removes an
    inherited param."""
    return serializers.DictField(
        child=StrictCharField(
            allow_blank=True, allow_null=overrides, max_length=MAX_PARAM_VALUE_LENGTH
        ),
        validators=[validate_utm_overrides if overrides else validate_utm_params],
        **kwargs,
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "nullable": True,
        "description": "One routing rule (ab_test, geo, time or device) or null.",
    }
)
class RoutingRulesField(SafeJSONField):
    """Routing rules, checked with the contract's validator (the runtime's own code)."""

    default_error_messages = {"invalid_rules": "{message}"}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        try:
            validate_routing_rules(value)
        except DjangoValidationError as exc:
            self.fail("invalid_rules", message="; ".join(exc.messages))
        return value


class ImmutableFieldsMixin(serializers.Serializer):
    """An update that names a field fixed at creation with a different value is refused with
    that field named (rather than silently ignored)."""

    #: field name → the instance's current value, as a string.
    immutable_fields: dict[str, Any] = {}
    immutable_message = "This cannot change once created."

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        errors = {}
        for name, current in self.immutable_fields.items():
            if self.instance is not None and name in self.initial_data:
                if str(self.initial_data[name]) != current(self.instance):
                    errors[name] = self.immutable_message
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- domains -----------------------------------------------------------------------------


#: Domain fields the platform sets (ownership, health, warming, the host's reference): API
#: clients read them; a request that tries to set one is refused naming the field.
DOMAIN_PLATFORM_FIELDS = (
    "status",
    "health_score",
    "warming_started_at",
    "warming_completed_at",
    "warming_daily_limit",
    "url_domain_ref",
    "verified_at",
    "verification_method",
    "verification",
)


class DomainVerificationSerializer(serializers.Serializer):
    """How to prove control of the domain: publish this TXT record."""

    record_type = serializers.CharField(help_text="Always TXT.")
    record_name = serializers.CharField(help_text="The DNS name of the TXT record.")
    record_value = serializers.CharField(help_text="Its value.")
    verified = serializers.BooleanField()
    claim_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When an unverified claim lapses and the name is released."
    )
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class JSONDocumentField(serializers.JSONField):
    """A JSON document: the JSON value itself, or (as a file's contents often arrive) a string
    holding it, parsed here; a string that is not JSON is a field error. A stored document past
    the contract's bounds (saved before they were checked) is shown as ``null``, and what it is
    past in the serializer's ``app_link_problems``: encoding it could exhaust the recursion
    limit, and a page of domains would carry it whole."""

    def to_representation(self, value: Any) -> Any:
        if stored_document_problems(value):
            return None
        return super().to_representation(value)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError(f"Not valid JSON: {exc}.") from None
        return super().to_internal_value(data)


class DomainSerializer(StrictModelSerializer):
    account: serializers.PrimaryKeyRelatedField[Any] = AccountField(
        required=False,
        allow_null=True,
        help_text="Owner; null for a domain shared by every account (staff only).",
    )
    verification = serializers.SerializerMethodField()
    app_link_problems = serializers.SerializerMethodField(
        help_text="Each stored app-link document past the bounds (at most 20 levels deep, "
        "10,000 values, 128 KB as compact JSON), saved before they were checked: its field "
        "shows null and this names the bound. Replace the document to clear it.",
    )
    apple_app_site_association = JSONDocumentField(
        required=False,
        allow_null=True,
        validators=[validate_apple_app_site_association],
        help_text="Apple App Site Association document (iOS universal links), served by the "
        "runtime at /.well-known/apple-app-site-association; null: none (404). Checked against "
        "Apple's format: applinks.details with appIDs (or appID) and components (or paths).",
    )
    assetlinks = JSONDocumentField(
        required=False,
        allow_null=True,
        validators=[validate_assetlinks],
        help_text="Digital Asset Links statements (Android app links), served by the runtime "
        "at /.well-known/assetlinks.json; null: none (404). A list of statements with relation "
        "and target (namespace android_app, package_name, sha256_cert_fingerprints).",
    )

    class Meta:
        model = Domain
        fields = [
            "id",
            "account",
            "domain_name",
            "purpose",
            "active",
            "apple_app_site_association",
            "assetlinks",
            "app_link_problems",
            "not_found_url",
            "message_keyring",
            *DOMAIN_PLATFORM_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "app_link_problems",
            *DOMAIN_PLATFORM_FIELDS,
            "created_at",
            "updated_at",
        ]
        validators: list[Any] = []  # uniqueness is the service layer's (full_clean)
        extra_kwargs = {"domain_name": {"validators": [validate_domain_name]}}

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_app_link_problems(self, domain: Domain) -> dict[str, str]:
        problems = {
            name: stored_document_problems(getattr(domain, name)) for name in Domain.APP_LINK_FIELDS
        }
        return {name: " ".join(found) for name, found in problems.items() if found}

    @extend_schema_field(DomainVerificationSerializer)
    def get_verification(self, domain: Domain) -> dict[str, Any]:
        return DomainVerificationSerializer(
            {
                "record_type": "TXT",
                "record_name": domain.verification_record_name,
                "record_value": domain.verification_record_value,
                "verified": domain.is_verified,
                "claim_expires_at": domain.claim_expires_at,
                "last_checked_at": domain.verification_checked_at,
                "last_error": domain.verification_error,
            }
        ).data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        # Read-only fields are dropped silently by DRF; a client that believes it set a
        # platform field (status "active") must be told it did not. Sending back what a GET
        # returned is fine.
        current = self.to_representation(self.instance) if self.instance is not None else {}
        refused = {
            name: "This is set by the platform, not by API clients."
            for name in DOMAIN_PLATFORM_FIELDS
            if name in self.initial_data
            and (self.instance is None or self.initial_data[name] != current.get(name))
        }
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class DomainUpdateSerializer(ImmutableFieldsMixin, DomainSerializer):
    """A domain's name and owner are fixed: its links' records are keyed by the name."""

    account: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    immutable_fields = {
        "domain_name": lambda d: d.domain_name,
        "account": lambda d: str(d.account_id),
    }
    immutable_message = "A domain's name and owner cannot change; add a new domain instead."

    class Meta(DomainSerializer.Meta):
        read_only_fields = ["id", "account", "domain_name", "created_at", "updated_at"]


# --- campaigns ---------------------------------------------------------------------------


class CrmMappingSerializer(StrictModelSerializer):
    crm_campaign: serializers.PrimaryKeyRelatedField[Any] = CrmCampaignField(
        help_text="The CRM campaign this link campaign is used by."
    )
    link_campaign: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )

    class Meta:
        model = LinkCampaignCrmCampaignMapping
        fields = [
            "id",
            "link_campaign",
            "crm_campaign",
            "start_date",
            "end_date",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "link_campaign", "created_at", "updated_at"]


class CrmMappingUpdateSerializer(ImmutableFieldsMixin, CrmMappingSerializer):
    """A mapping's dates and ``is_active`` change; its CRM campaign does not."""

    crm_campaign: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    immutable_fields = {"crm_campaign": lambda m: str(m.crm_campaign_id)}
    immutable_message = "Map the other CRM campaign with a new mapping instead."

    class Meta(CrmMappingSerializer.Meta):
        read_only_fields = [*CrmMappingSerializer.Meta.read_only_fields, "crm_campaign"]


class CampaignSerializer(StrictModelSerializer):
    account: serializers.PrimaryKeyRelatedField[Any] = AccountField()
    campaign_id = StrictCharField(
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Optional identifier, unique per account; blank means none.",
    )
    utm_template = _utm_params_field(required=False)
    crm_campaign_ids = serializers.SerializerMethodField()
    crm_campaign_mappings = CrmMappingSerializer(many=True, read_only=True)

    class Meta:
        model = LinkCampaign
        fields = [
            "id",
            "account",
            "campaign_id",
            "name",
            "description",
            "utm_template",
            "active",
            "start_date",
            "end_date",
            "crm_campaign_ids",
            "crm_campaign_mappings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list[Any] = []

    @extend_schema_field(serializers.ListField(child=pk_serializer_field(get_crm_campaign_model())))
    def get_crm_campaign_ids(self, campaign: LinkCampaign) -> list[Any]:
        """The CRM campaigns this campaign is mapped to (each once, in id order)."""
        return sorted({m.crm_campaign_id for m in campaign.crm_campaign_mappings.all()})

    def validate_campaign_id(self, value: str | None) -> str | None:
        return value or None


class CampaignUpdateSerializer(ImmutableFieldsMixin, CampaignSerializer):
    """A campaign stays with its account (its links belong to it)."""

    account: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    immutable_fields = {"account": lambda c: str(c.account_id)}
    immutable_message = "A campaign cannot move to another account."


# --- tags ----------------------------------------------------------------------------------


class TagSerializer(StrictModelSerializer):
    account: serializers.PrimaryKeyRelatedField[Any] = AccountField()
    link_count = serializers.IntegerField(
        read_only=True, help_text="How many of the account's links carry the tag."
    )

    class Meta:
        model = Tag
        fields = ["id", "account", "name", "colour", "link_count", "created_at", "updated_at"]
        read_only_fields = ["id", "link_count", "created_at", "updated_at"]
        # Uniqueness (case-insensitive, per account) is the service's to check, by field.
        validators: list[Any] = []


class TagUpdateSerializer(ImmutableFieldsMixin, TagSerializer):
    """A tag is renamed or recoloured; it stays with its account."""

    account: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    immutable_fields = {"account": lambda t: str(t.account_id)}
    immutable_message = "A tag cannot move to another account."


def _tags_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictCharField(max_length=TAG_NAME_MAX_LENGTH),
        max_length=MAX_TAGS_PER_LINK,
        help_text="Names (any case) or ids of tags of the link's account; the list replaces "
        "the link's tags. A name or id that is no tag of the account is a 400 naming it "
        "(tags are not created here: POST tags/ first).",
        **kwargs,
    )


# --- UTM policy ----------------------------------------------------------------------------


class UTMPolicySerializer(StrictModelSerializer):
    default_utm_params = _utm_params_field(
        help_text="Organisation-wide UTM params every link inherits (${variable} templates)."
    )
    template_variables = serializers.SerializerMethodField()

    class Meta:
        model = GlobalUTMPolicy
        fields = ["default_utm_params", "template_variables", "updated_at", "updated_by"]
        read_only_fields = ["updated_at", "updated_by"]

    def get_template_variables(self, policy: GlobalUTMPolicy) -> list[str]:
        """The ${variable} names a template may use."""
        return list(UTM_TEMPLATE_VARIABLES)


# --- links ---------------------------------------------------------------------------------

#: Link fields a client may set on create and change later: exactly the service layer's.
LINK_EDITABLE = list(EDITABLE_FIELDS)


class _LinkFieldsMixin(serializers.Serializer):
    campaign = CampaignField(required=False, allow_null=True)
    tags = _tags_field(required=False)
    utm_overrides = _utm_params_field(overrides=True, required=False)
    dynamic_param_allowlist = serializers.ListField(
        child=serializers.ChoiceField(choices=list(DYNAMIC_PARAMS)),
        required=False,
        validators=[validate_dynamic_param_allowlist],
        help_text="Dynamic params the runtime adds to the redirect (sms_msg_id: forwarded "
        "from the request).",
    )
    routing_rules = RoutingRulesField(required=False, allow_null=True)
    reason = StrictCharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=REASON_MAX_LENGTH,
        help_text="Why: recorded in the link's version history.",
    )


class LinkCreateSerializer(_LinkFieldsMixin, StrictModelSerializer):
    account = AccountField()
    domain = DomainField()
    slug = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=SLUG_MAX_LENGTH,
        help_text="A vanity slug; omit for a system-generated one. Fixed once created.",
    )

    class Meta:
        model = Link
        fields = ["account", "domain", "slug", *LINK_EDITABLE, "tags", "reason"]
        validators: list[Any] = []
        extra_kwargs = {"destination_url": {"required": True}}


class LinkUpdateSerializer(ImmutableFieldsMixin, _LinkFieldsMixin, StrictModelSerializer):
    """Everything but the link's key (domain, slug) and owner, which never change."""

    immutable_fields = {
        "account": lambda link: str(link.account_id),
        "domain": lambda link: str(link.domain_id),
        "slug": lambda link: link.slug,
    }
    immutable_message = "This cannot change once the link exists; create a new link instead."

    class Meta:
        model = Link
        fields = [*LINK_EDITABLE, "tags", "reason"]
        validators: list[Any] = []


class LinkBulkCreateSerializer(_LinkFieldsMixin, StrictModelSerializer):
    """Like a create, with ``keywords`` (one link per keyword) instead of keyword and slug."""

    account = AccountField()
    domain = DomainField()
    keywords = serializers.ListField(child=StrictCharField())  # sized in get_fields()

    class Meta:
        model = Link
        fields = [
            "account",
            "domain",
            "keywords",
            *[f for f in LINK_EDITABLE if f != "keyword"],
            "tags",
            "reason",
        ]
        validators: list[Any] = []
        extra_kwargs = {"destination_url": {"required": True}}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["keywords"] = serializers.ListField(
            # Blank and duplicate keywords are the service's to report, all in one answer.
            child=StrictCharField(
                # DRF takes None (no limit) too; its stubs say int (before djangorestframework-stubs
                # 3.18, the Django 6 leg's). The column has a limit.
                max_length=Link._meta.get_field("keyword").max_length,  # type: ignore[arg-type,unused-ignore]
                allow_blank=True,
            ),
            min_length=1,
            max_length=app_settings.BULK_CREATE_MAX_LINKS,
            help_text="One link per keyword, each non-blank and unique; at most "
            f"{app_settings.BULK_CREATE_MAX_LINKS} (LINK_TRACKING['BULK_CREATE_MAX_LINKS']).",
        )
        return fields


class LinkSerializer(StrictModelSerializer):
    """A link as the API shows it."""

    slug = serializers.CharField(read_only=True, help_text="The slug as typed (vanity) or made.")
    domain_name = serializers.CharField(source="domain.domain_name", read_only=True)
    short_url = serializers.CharField(source="get_full_url", read_only=True)
    utm_overrides = serializers.DictField(
        child=serializers.CharField(allow_null=True), read_only=True
    )
    dynamic_param_allowlist = serializers.ListField(
        child=serializers.ChoiceField(choices=list(DYNAMIC_PARAMS)), read_only=True
    )
    routing_rules = RoutingRulesField(read_only=True, allow_null=True)
    publish_status = serializers.ChoiceField(
        source="latest_publish_status",
        choices=PublishOutbox.Status.choices,
        read_only=True,
        allow_null=True,
        help_text="Status of the link's newest publish (outbox entry): waiting_for_domain "
        "while the link's domain is not verified (nothing is written until it is).",
    )
    publish_status_reason = serializers.SerializerMethodField(
        help_text="Why the newest publish waits (waiting_for_domain: what verifies the "
        "domain), null otherwise."
    )
    published_version = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The newest runtime_version written to the runtime table (null: none yet).",
    )
    tags = serializers.SerializerMethodField(help_text="The link's tags, by name.")

    class Meta:
        model = Link
        fields = [
            "id",
            "account",
            "domain",
            "domain_name",
            "slug",
            "slug_canonical",
            "slug_type",
            "short_url",
            "campaign",
            "campaign_identifier",
            *[f for f in LINK_EDITABLE if f != "campaign"],
            "tags",
            "runtime_version",
            "publish_status",
            "publish_status_reason",
            "published_version",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, link: Link) -> list[str]:
        # Read from the prefetched tags (the API's querysets prefetch them), in name order.
        return sorted((tag.name for tag in link.tags.all()), key=str.lower)

    def get_publish_status_reason(self, link: Link) -> str | None:
        if getattr(link, "latest_publish_status", None) != PublishOutbox.Status.WAITING_FOR_DOMAIN:
            return None
        return outbox.waiting_reason(link.domain)


class LinkBulkCreateResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = LinkSerializer(many=True)


class LinkActionSerializer(serializers.Serializer):
    reason = StrictCharField(
        required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, help_text="Why."
    )


class PreviewQuerySerializer(serializers.Serializer):
    """The simulated click."""

    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        help_text="Viewer country, ISO 3166 alpha-2 (CloudFront-Viewer-Country).",
    )
    user_agent = serializers.CharField(
        required=False, max_length=preview.USER_AGENT_MAX_LENGTH, allow_blank=True
    )
    accept_language = serializers.CharField(
        required=False,
        max_length=preview.ACCEPT_LANGUAGE_INPUT_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The visitor's Accept-Language header, for a language rule (a header over "
        f"{ACCEPT_LANGUAGE_MAX_LENGTH} characters is ignored, as the runtime ignores it).",
    )
    sms_msg_id = serializers.CharField(
        required=False,
        max_length=preview.ID_MAX_LENGTH,
        help_text="As the SMS flow sends it: ?sms_msg_id=.",
    )
    visitor_key = serializers.CharField(
        required=False,
        max_length=preview.ID_MAX_LENGTH,
        help_text="The visitor's ip_hash as its click events show it: with user_agent, fixes "
        "the A/B assignment of a click without sms_msg_id, as the runtime keys that visitor.",
    )
    at = serializers.DateTimeField(required=False, help_text="Click time; default now.")
    scan = serializers.BooleanField(
        default=False, help_text="A QR code's scan: the short URL with the scan marker ?qr=1."
    )

    def validate_country(self, value: str) -> str:
        return value.upper()


class LinkImportSerializer(serializers.Serializer):
    """A CSV file of links to import (multipart/form-data)."""

    file = serializers.FileField(
        help_text="CSV, UTF-8: the export's columns (destination_url required) or a Bitly "
        f"link export (long_url required); at most {IMPORT_MAX_BYTES // 1_000_000} MB."
    )
    account = AccountField()
    domain = DomainField(
        required=False,
        allow_null=True,
        help_text="For rows without a domain (every row of a Bitly export).",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Check every row and report, writing nothing."
    )
    mode = serializers.ChoiceField(
        choices=LinkImport.Mode.choices,
        default=LinkImport.Mode.ALL_OR_NOTHING,
        help_text="all_or_nothing: nothing is written if any row fails; per_row: the good rows "
        "are imported and the bad ones reported.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def validate_file(self, value: Any) -> Any:
        if value.size > IMPORT_MAX_BYTES:
            raise serializers.ValidationError(
                f"{value.size} bytes; at most {IMPORT_MAX_BYTES} per import."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        domain = attrs.get("domain")
        if domain is not None and domain.account_id not in (None, attrs["account"].pk):
            raise serializers.ValidationError({"domain": ["Not a domain of this account."]})
        return attrs


class ImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="1 is the header; null: the file.")
    column = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class LinkImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Data rows read.")
    created = serializers.IntegerField(help_text="Links made (0 in a dry run or on errors).")
    # A field, not Serializer.errors: the metaclass takes declared fields off the class.
    errors = ImportRowErrorSerializer(many=True)  # type: ignore[assignment]
    results = LinkSerializer(many=True, source="links")


class LinkImportJobSerializer(StrictModelSerializer):
    """An import job (a file longer than IMPORT_MAX_ROWS), run by a worker."""

    # A field, not Serializer.errors: the metaclass takes declared fields off the class.
    errors = ImportRowErrorSerializer(  # type: ignore[assignment]
        many=True, read_only=True, help_text="The first IMPORT_JOB_MAX_ERRORS errors."
    )

    class Meta:
        model = LinkImport
        fields = [
            "id",
            "account",
            "domain",
            "requested_by",
            "reason",
            "file_name",
            "file_size",
            "mode",
            "dry_run",
            "status",
            "rows_total",
            "rows_checked",
            "rows_done",
            "created_count",
            "failed_count",
            "error_count",
            "errors",
            "attempts",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]
        read_only_fields = fields


class QRQuerySerializer(serializers.Serializer):
    """How the QR code of a link is drawn."""

    format = serializers.ChoiceField(
        choices=sorted(qr.FORMATS),
        default="svg",
        help_text="svg (print) or png (screens).",
    )
    size = serializers.IntegerField(
        min_value=qr.MIN_SIZE,
        max_value=qr.MAX_SIZE,
        default=qr.DEFAULT_SIZE,
        help_text="Width (= height) in pixels, quiet zone included: the image is the largest "
        "whole number of pixels per module that fits, so it can be a little smaller.",
    )
    error_correction = serializers.ChoiceField(
        choices=list(qr.ERROR_LEVELS),
        default=qr.DEFAULT_ERROR,
        help_text="L, M, Q or H: about 7, 15, 25 or 30 % of the code can be restored.",
    )
    margin = serializers.IntegerField(
        min_value=qr.MIN_MARGIN,
        max_value=qr.MAX_MARGIN,
        default=qr.DEFAULT_MARGIN,
        help_text="Quiet zone in modules (the QR standard asks for 4).",
    )


class PreviewSerializer(serializers.Serializer):
    short_url = serializers.CharField()
    request_url = serializers.CharField(help_text="The URL the simulated visitor opened.")
    policy = serializers.ChoiceField(
        choices=list(OUTCOMES),
        help_text="The click's outcome: ok, or why the visitor goes to the fallback URL.",
    )
    redirect_url = serializers.CharField(help_text="Where the runtime sends the visitor.")
    destination_url = serializers.CharField(
        help_text="The destination routing chose (blank when the policy refused)."
    )
    routing_reason = serializers.CharField(allow_null=True)
    ab_variant = serializers.CharField(allow_null=True)
    channel = serializers.CharField(
        allow_null=True, help_text="The click event's channel: qr for a scan, else the link's."
    )
    device = serializers.CharField()
    click_id = serializers.CharField()
    clicked_at = serializers.IntegerField(help_text="Unix seconds.")
    resolved_utm_params = serializers.DictField(child=serializers.CharField())
    forwarded_params = serializers.DictField(child=serializers.CharField())
    signature_required = serializers.BooleanField()
    max_clicks = serializers.IntegerField(
        allow_null=True, help_text="Enforced by the runtime's shared counter, not simulated."
    )
    record = serializers.DictField(help_text="The runtime record, as it would be published.")


class SignedURLRequestSerializer(serializers.Serializer):
    expires_in = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Seconds until the URL expires (default "
        "LINK_TRACKING['SIGNED_URL_DEFAULT_TTL_SECONDS']).",
    )
    sms_msg_id = StrictCharField(required=False, max_length=256)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["expires_in"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=app_settings.SIGNED_URL_MAX_TTL_SECONDS,
            help_text=fields["expires_in"].help_text,
        )
        return fields


class OrphanClicksQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        required=False,
        default=30,
        min_value=1,
        max_value=orphans.ORPHAN_DAYS_MAX,
        help_text="UTC days up to today (included); default 30.",
    )
    limit = serializers.IntegerField(
        required=False,
        default=20,
        min_value=1,
        max_value=orphans.ORPHAN_SLUGS_MAX,
        help_text="How many of the most clicked missing slugs; default 20.",
    )


class OrphanSlugSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text='Canonical; "" for paths that cannot be a slug.')
    human_clicks = serializers.IntegerField()
    bot_clicks = serializers.IntegerField()
    last_click_at = serializers.DateTimeField()


class OrphanDaySerializer(serializers.Serializer):
    day = serializers.DateTimeField(help_text="Midnight UTC that starts the day.")
    human_clicks = serializers.IntegerField()
    bot_clicks = serializers.IntegerField()


class OrphanClicksSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    top_slugs = OrphanSlugSerializer(many=True)
    by_day = OrphanDaySerializer(many=True)


#: Message ids per ``sms-urls/`` request: 10,000 UUIDs are about 400 KB of JSON, well inside
#: Django's default request body limit (``DATA_UPLOAD_MAX_MEMORY_SIZE``, 2.5 MB).
SMS_URLS_API_MAX = 10_000


class SMSURLsRequestSerializer(serializers.Serializer):
    message_ids = BoundedListField(
        child=StrictCharField(max_length=message_links.MESSAGE_ID_MAX_LENGTH),
        min_length=1,
        max_length=SMS_URLS_API_MAX,
        help_text="The host's message ids of one send (an id issued before gets the same URL "
        f"again); at most {SMS_URLS_API_MAX} per request (a larger send is issued in parts, "
        "or in-process with link_tracking_publisher.services.message_links.sms_urls).",
    )


class SMSURLSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    url = serializers.CharField(
        help_text="https://{domain}/{slug}/{token} on a domain with a message keyring (at most "
        "ten characters longer than the short URL), else the short URL with ?sms_msg_id=."
    )


class SMSURLsSerializer(serializers.Serializer):
    urls = SMSURLSerializer(many=True)


class SignedURLSerializer(serializers.Serializer):
    url = serializers.CharField()
    expires_at = serializers.IntegerField(help_text="Unix seconds.")
    key_id = serializers.CharField()


class LinkVersionSerializer(StrictModelSerializer):
    utm_overrides = serializers.DictField(child=serializers.CharField(allow_null=True))
    routing_rules = RoutingRulesField(read_only=True, allow_null=True)
    changes = serializers.DictField(child=serializers.ListField(), help_text="Field → [old, new].")
    changed_by_api_key: serializers.StringRelatedField[Any] = serializers.StringRelatedField(
        allow_null=True,
        help_text='The API key the change was made with ("api key <prefix> (<name>)"), if any.',
    )

    class Meta:
        model = LinkVersion
        fields = [
            "id",
            "version",
            "destination_url",
            "utm_overrides",
            "routing_rules",
            "active",
            "changes",
            "changed_by",
            "changed_by_api_key",
            "change_reason",
            "created_at",
        ]
        read_only_fields = fields


# --- outbox, privacy -------------------------------------------------------------------------


class PublishOutboxSerializer(StrictModelSerializer):
    class Meta:
        model = PublishOutbox
        fields = [
            "id",
            "link",
            "domain",
            "idempotency_key",
            "runtime_version",
            "status",
            "retry_count",
            "error_message",
            "result",
            "created_at",
            "updated_at",
            "last_attempt_at",
            "completed_at",
        ]
        read_only_fields = fields


class PrivacyRequestSerializer(StrictModelSerializer):
    account = AccountField()
    subject_value = StrictCharField(
        write_only=True,
        max_length=256,
        help_text="The subject's identifier (an sms_msg_id, a click id, an IP hash, a link "
        "id). Never stored or shown again: the request keeps subject_hash, a keyed hash.",
    )
    result = serializers.DictField(read_only=True, help_text="What the processor reported.")

    class Meta:
        model = PrivacyRequest
        fields = [
            "id",
            "account",
            "request_type",
            "subject_type",
            "subject_value",
            "subject_hash",
            "status",
            "result",
            "error_message",
            "requested_by",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = [
            "id",
            "subject_hash",
            "status",
            "result",
            "error_message",
            "requested_by",
            "created_at",
            "updated_at",
            "completed_at",
        ]


__all__ = [
    "CampaignSerializer",
    "CampaignUpdateSerializer",
    "CrmMappingSerializer",
    "CrmMappingUpdateSerializer",
    "DomainSerializer",
    "DomainUpdateSerializer",
    "DomainVerificationSerializer",
    "LinkActionSerializer",
    "LinkBulkCreateResultSerializer",
    "LinkBulkCreateSerializer",
    "LinkCreateSerializer",
    "LinkImportJobSerializer",
    "LinkSerializer",
    "LinkUpdateSerializer",
    "LinkVersionSerializer",
    "PreviewQuerySerializer",
    "PreviewSerializer",
    "PrivacyRequestSerializer",
    "PublishOutboxSerializer",
    "SignedURLRequestSerializer",
    "SignedURLSerializer",
    "UTMPolicySerializer",
]

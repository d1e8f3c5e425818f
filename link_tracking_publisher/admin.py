"""Django admin for every model of the control plane.

Operators change links here exactly as the API does: through the service layer, so every
admin edit is versioned, outboxed and published (``save_model`` is overridden; nothing is
written with a bare ``save()``). Links cannot be deleted (their published record would live
on); unpublish them instead. The audit trail (LinkVersion) is read-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from link_tracking_runtime.record import canonical_slug

from . import outbox as outbox_state
from .checks import unresolved_swappable_models
from .clicks import webhooks as webhook_signing
from .clicks.chart import click_summary_html
from .clicks.webhooks import CANCELLED_REASON, retry_deliveries
from .conf import app_settings
from .documents import stored_document_problems
from .models import (
    Account,
    ApiKey,
    ClickIngestCheckpoint,
    ClickWebhook,
    ClickWebhookDelivery,
    CrmCampaign,
    Domain,
    GlobalUTMPolicy,
    Link,
    LinkCampaign,
    LinkCampaignCrmCampaignMapping,
    LinkImport,
    LinkVersion,
    MessageClick,
    OrphanClicks,
    PrivacyRequest,
    PublishOutbox,
    Tag,
    get_account_model,
)
from .services import api_keys as api_key_service
from .services import campaigns as campaign_service
from .services import crm_mappings as mapping_service
from .services import domains as domain_service
from .services import links as link_service
from .services import preview as preview_service
from .services import privacy as privacy_service
from .services import publishing, qr, utm_policy
from .services import tags as tag_service
from .services import webhooks as webhook_service
from .services.errors import InvalidState
from .services.import_jobs import start_import
from .services.link_import import IMPORT_MAX_BYTES
from .services.preview import SimulatedClick, preview_link
from .validators import validate_routing_rules, validate_slug


def _changes(form: forms.ModelForm, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in fields}


class ReadOnlyAdminMixin:
    """Rows written only by the system: viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- the default account and CRM campaign models ---------------------------------------------
# Registered for a project that uses the app's own models; the admin ignores a swapped model.


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(CrmCampaign)
class CrmCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "account"]
    list_select_related = ["account"]
    search_fields = ["name"]


# --- domains -------------------------------------------------------------------------------


def domain_names() -> QuerySet[Domain]:
    """Domains for a drop-down or a filter: their names, never their app-link documents (a
    select lists names; a document is up to 128 KB, and one stored before documents were
    bounded must not break every page that offers the domain)."""
    return Domain.objects.defer(*Domain.APP_LINK_FIELDS)


class DomainNamesOnlyMixin:
    """For a list that shows domains through foreign keys (``domain_paths``, selected with the
    rows): their documents are left out of the query, as :func:`domain_names` does."""

    domain_paths: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        documents = [f"{p}__{name}" for p in self.domain_paths for name in Domain.APP_LINK_FIELDS]
        return queryset.select_related(*self.domain_paths).defer(*documents)


class AppLinkDocumentField(forms.JSONField):
    """A domain's app-link document as JSON text; a stored one past the contract's bounds (saved
    before they were checked, or too deep to decode) is shown as a note instead
    (:func:`~..documents.stored_document_problems`, the API's rule too), which refuses to save
    unchanged: encoding it could exhaust the recursion limit."""

    def prepare_value(self, value: Any) -> Any:
        if not isinstance(value, forms.fields.InvalidJSONInput):
            problems = stored_document_problems(value)
            if problems:
                return f"The stored document is refused ({' '.join(problems)}); replace it."
        return super().prepare_value(value)


class DomainNameFilter(admin.RelatedFieldListFilter):
    """The changelist's domain filter, listing names only (:func:`domain_names`)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        return [(domain.pk, str(domain)) for domain in domain_names()]


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = [
        "domain_name",
        "account",
        "purpose",
        "active",
        "status",
        "verified_at",
        "health_score",
        "created_at",
    ]
    list_filter = ["active", "status", "purpose", "verification_method"]
    search_fields = ["domain_name"]
    readonly_fields = [
        "verification_record",
        "verified_at",
        "verification_method",
        "verified_by",
        "verification_checked_at",
        "verification_error",
        "created_at",
        "updated_at",
    ]
    actions = ["verify_by_hand", "check_dns_now"]
    formfield_overrides = {models.JSONField: {"form_class": AppLinkDocumentField}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Domain]:
        # The list shows no document; the change page reads its own when its form asks.
        return super().get_queryset(request).defer(*Domain.APP_LINK_FIELDS)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Records are keyed by the domain name: it is fixed once links may use it.
        fixed = ["domain_name", "account"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    @admin.display(description="Ownership TXT record")
    def verification_record(self, obj: Domain) -> str:
        if obj.pk is None:
            return "Shown once the domain is saved."
        return format_html(
            "<code>{}</code> TXT <code>{}</code>",
            obj.verification_record_name,
            obj.verification_record_value,
        )

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:
        if change:
            editable = [f.name for f in Domain._meta.fields if f.editable]
            domain_service.update_domain(obj, user=request.user, **_changes(form, editable))
            obj.refresh_from_db()
        else:
            data = {f: form.cleaned_data[f] for f in form.cleaned_data}
            created = domain_service.create_domain(user=request.user, **data)
            obj.pk = created.pk
            obj.refresh_from_db()
            obj._state.adding = False

    @admin.action(description="Verify ownership by hand (staff vouch for the owner)")
    def verify_by_hand(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        done = 0
        for domain in queryset:
            if domain.is_verified:
                continue
            # The service records it in the admin's log (the audit trail: who, when, which).
            domain_service.verify_domain_by_hand(domain, user=request.user)
            done += 1
        self.message_user(request, f"Verified {done} domain(s) by hand.", messages.SUCCESS)

    @admin.action(description="Look for the ownership TXT record now")
    def check_dns_now(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        for domain in queryset.filter(verified_at__isnull=True):
            domain_service.request_ownership_check(domain)
        self.message_user(request, "DNS checks enqueued.", messages.INFO)


# --- campaigns -----------------------------------------------------------------------------


class CrmMappingInline(admin.TabularInline):
    model = LinkCampaignCrmCampaignMapping
    extra = 0
    fields = ["crm_campaign", "start_date", "end_date", "is_active"]
    autocomplete_fields = ()


@admin.register(LinkCampaign)
class LinkCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "campaign_id", "account", "active", "start_date", "end_date"]
    list_filter = ["active"]
    search_fields = ["name", "campaign_id", "description"]
    readonly_fields = ["clicks", "created_at", "updated_at"]
    inlines = [CrmMappingInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(["account"] if obj is not None else []), *self.readonly_fields]

    @admin.display(description="clicks")
    def clicks(self, obj: LinkCampaign) -> str:
        if obj._state.adding:
            return "-"
        return click_summary_html(obj)

    def save_model(self, request: HttpRequest, obj: LinkCampaign, form: Any, change: bool) -> None:
        if change:
            editable = [f.name for f in LinkCampaign._meta.fields if f.editable]
            campaign_service.update_campaign(obj, user=request.user, **_changes(form, editable))
            obj.refresh_from_db()
        else:
            data = {
                f: v
                for f, v in form.cleaned_data.items()
                if f in {x.name for x in LinkCampaign._meta.fields}
            }
            created = campaign_service.create_campaign(user=request.user, **data)
            obj.pk = created.pk
            obj.refresh_from_db()
            obj._state.adding = False

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not LinkCampaignCrmCampaignMapping:
            super().save_formset(request, form, formset, change)
            return
        # What the admin's change message reads (formset.save() would set these).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not hasattr(inline_form, "cleaned_data") or not inline_form.has_changed():
                continue
            mapping = inline_form.instance
            if inline_form.cleaned_data.get("DELETE"):
                if mapping.pk:
                    formset.deleted_objects.append(mapping)
                    mapping_service.delete_mapping(mapping, user=request.user)
                continue
            fields = {
                k: inline_form.cleaned_data[k]
                for k in mapping_service.UPDATABLE
                if k in inline_form.cleaned_data
            }
            if mapping.pk:
                mapping_service.update_mapping(mapping, user=request.user, **fields)
                formset.changed_objects.append((mapping, inline_form.changed_data))
            else:
                created = mapping_service.create_mapping(
                    form.instance,
                    crm_campaign=inline_form.cleaned_data["crm_campaign"],
                    user=request.user,
                    **fields,
                )
                formset.new_objects.append(created)


# --- tags ----------------------------------------------------------------------------------


def _tag_label(tag: Tag) -> str:
    """A tag with its account: two accounts may each have a tag of the same name."""
    return f"{tag.name} ({tag.account})"


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "colour", "link_count", "created_at"]
    list_select_related = ["account"]
    search_fields = ["name"]
    readonly_fields = ["link_count", "clicks", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        tags: QuerySet[Tag] = super().get_queryset(request)
        return tags.annotate(link_count=models.Count("links"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(["account"] if obj is not None else []), *self.readonly_fields]

    @admin.display(description="links", ordering="link_count")
    def link_count(self, obj: Tag) -> int:
        return getattr(obj, "link_count", 0)

    @admin.display(description="clicks")
    def clicks(self, obj: Tag) -> str:
        if obj._state.adding:
            return "-"
        return click_summary_html(obj)

    def save_model(self, request: HttpRequest, obj: Tag, form: Any, change: bool) -> None:
        if change:
            changes = _changes(form, list(tag_service.UPDATABLE))
            tag_service.update_tag(obj, user=request.user, **changes)
        else:
            created = tag_service.create_tag(
                account=form.cleaned_data["account"],
                name=form.cleaned_data["name"],
                colour=form.cleaned_data.get("colour", ""),
                user=request.user,
            )
            obj.pk = created.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Tag) -> None:
        tag_service.delete_tag(obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        for tag in queryset:
            tag_service.delete_tag(tag, user=request.user)


class TagListFilter(admin.RelatedFieldListFilter):
    """Links by tag, each tag labelled with its account."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        tags = Tag.objects.select_related("account").order_by("name")
        return [(tag.pk, _tag_label(tag)) for tag in tags]


class TagsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _tag_label(obj)


@admin.register(LinkCampaignCrmCampaignMapping)
class LinkCampaignCrmCampaignMappingAdmin(admin.ModelAdmin):
    list_display = ["link_campaign", "crm_campaign", "start_date", "end_date", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["link_campaign__name", "link_campaign__campaign_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["link_campaign", "crm_campaign"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: LinkCampaignCrmCampaignMapping, form: Any, change: bool
    ) -> None:
        fields = {
            k: form.cleaned_data[k] for k in mapping_service.UPDATABLE if k in form.cleaned_data
        }
        if change:
            mapping_service.update_mapping(obj, user=request.user, **fields)
        else:
            created = mapping_service.create_mapping(
                form.cleaned_data["link_campaign"],
                crm_campaign=form.cleaned_data["crm_campaign"],
                user=request.user,
                **fields,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: LinkCampaignCrmCampaignMapping) -> None:
        mapping_service.delete_mapping(obj, user=request.user)


# --- UTM policy ----------------------------------------------------------------------------


@admin.register(GlobalUTMPolicy)
class GlobalUTMPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "default_utm_params", "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not GlobalUTMPolicy.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: GlobalUTMPolicy, form: Any, change: bool
    ) -> None:
        saved = utm_policy.update_global_utm_policy(
            form.cleaned_data["default_utm_params"], user=request.user
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False


# --- links ---------------------------------------------------------------------------------


class LinkAdminForm(forms.ModelForm):
    change_reason = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Why: recorded in the link's version history.",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    # No Meta.model here, nor in PrivacyRequestAdminForm: the ModelAdmin builds the model's form
    # from these when it is first needed, so importing the admin (autodiscovery) resolves no
    # foreign key, and an account model that is not installed is reported by the system check
    # (link_tracking.E008) rather than by a traceback.
    class Meta:
        fields = "__all__"
        labels = {"slug_original": "Vanity slug"}
        help_texts = {
            "slug_original": "Leave empty for a system-generated slug. Fixed once created.",
        }

    def clean_routing_rules(self) -> Any:
        rules = self.cleaned_data.get("routing_rules")
        if rules is not None:
            validate_routing_rules(rules)  # raises a ValidationError naming the problem
        return rules

    def clean_slug_original(self) -> str:
        slug = self.cleaned_data.get("slug_original") or ""
        if slug and self.instance._state.adding:
            validate_slug(slug)
        return slug

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        account = cleaned.get("account") if self.instance._state.adding else self.instance.account
        if account is not None and cleaned.get("tags"):
            try:
                tag_service.resolve_tags(account, cleaned["tags"])
            except ValidationError as exc:
                self.add_error("tags", exc.message_dict["tags"])
        slug, domain = cleaned.get("slug_original"), cleaned.get("domain")
        if self.instance._state.adding and slug and domain:
            if Link.objects.filter(domain=domain, slug_canonical=canonical_slug(slug)).exists():
                self.add_error("slug_original", f"'{slug}' is already taken on {domain}.")
        return cleaned


class LinkVersionInline(admin.TabularInline):
    model = LinkVersion
    extra = 0
    can_delete = False
    fields = (
        "version",
        "created_at",
        "changed_by",
        "change_reason",
        "active",
        "changes",
    )
    readonly_fields = fields
    ordering = ["-version"]
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PublishOutboxInline(admin.TabularInline):
    model = PublishOutbox
    extra = 0
    can_delete = False
    fields = (
        "runtime_version",
        "status",
        "result",
        "retry_count",
        "error_message",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields
    ordering = ["-runtime_version"]
    verbose_name_plural = "publish outbox (newest first)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _report(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    act: Callable[[Any], Any],
    verb: str,
) -> None:
    done, refused = 0, []
    for obj in queryset:
        try:
            act(obj)
            done += 1
        except (InvalidState, ValidationError) as exc:
            refused.append(f"{obj}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}")
    if done:
        modeladmin.message_user(request, f"{verb}: {done}.", messages.SUCCESS)
    for message in refused:
        modeladmin.message_user(request, message, messages.WARNING)


class LinkPreviewForm(forms.Form):
    """The click a link's preview page simulates: the API's ``GET links/{id}/preview/`` query,
    with its bounds (:mod:`.services.preview`)."""

    country = forms.RegexField(
        r"^[A-Za-z]{2}$", required=False, help_text="ISO 3166 alpha-2 (CloudFront-Viewer-Country)."
    )
    user_agent = forms.CharField(
        required=False,
        max_length=preview_service.USER_AGENT_MAX_LENGTH,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text="Empty: no User-Agent.",
    )
    accept_language = forms.CharField(
        required=False,
        strip=False,
        max_length=preview_service.ACCEPT_LANGUAGE_INPUT_MAX_LENGTH,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text="As a browser sends it, e.g. <code>fr-CA,fr;q=0.9,en;q=0.5</code>: for a "
        "language rule.",
    )
    sms_msg_id = forms.CharField(required=False, max_length=preview_service.ID_MAX_LENGTH)
    visitor_key = forms.CharField(
        required=False,
        max_length=preview_service.ID_MAX_LENGTH,
        help_text="The visitor's ip_hash: with the User-Agent, fixes an A/B assignment.",
    )
    at = forms.DateTimeField(
        required=False, help_text="Click time, e.g. 2026-12-24 18:00; default now."
    )
    scan = forms.BooleanField(required=False, help_text="A QR code's scan.")

    def simulated_click(self) -> SimulatedClick:
        data = self.cleaned_data
        return SimulatedClick(
            country=data["country"].upper() or None,
            user_agent=data["user_agent"] or None,
            accept_language=data["accept_language"] or None,
            sms_msg_id=data["sms_msg_id"] or None,
            visitor_key=data["visitor_key"] or None,
            at=data["at"].timestamp() if data["at"] else None,
            scan=data["scan"],
        )


class LinkImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8; at most 10 MB.")
    account: forms.ModelChoiceField[Any] = forms.ModelChoiceField(queryset=None)  # in __init__
    domain = forms.ModelChoiceField(
        queryset=domain_names(),
        required=False,
        help_text="For rows without a domain (every row of a Bitly export).",
    )
    dry_run = forms.BooleanField(required=False, initial=True, help_text="Check only.")
    mode = forms.ChoiceField(
        choices=LinkImport.Mode.choices,
        initial=LinkImport.Mode.ALL_OR_NOTHING,
        required=False,  # not given: all or nothing
        help_text="All or nothing: nothing is written if any row fails.",
    )
    reason = forms.CharField(required=False, max_length=255)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = self.fields["account"]
        assert isinstance(account, forms.ModelChoiceField)
        account.queryset = get_account_model()._default_manager.all()

    def clean_file(self) -> Any:
        value = self.cleaned_data["file"]
        if value.size > IMPORT_MAX_BYTES:
            raise ValidationError(f"{value.size} bytes; at most {IMPORT_MAX_BYTES}.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        domain, account = data.get("domain"), data.get("account")
        if (
            domain is not None
            and account is not None
            and domain.account_id
            not in (
                None,
                account.pk,
            )
        ):
            self.add_error("domain", "Not a domain of this account.")
        return data


@admin.register(Link)
class LinkAdmin(DomainNamesOnlyMixin, admin.ModelAdmin):
    form = LinkAdminForm
    domain_paths = ("domain",)
    list_display = [
        "short_url",
        "account",
        "campaign",
        "keyword",
        "channel",
        "active",
        "runtime_version",
        "publish_status",
        "updated_at",
    ]
    list_filter = [
        "active",
        "channel",
        "slug_type",
        ("domain", DomainNameFilter),
        ("tags", TagListFilter),
    ]
    search_fields = ["slug_canonical", "keyword", "destination_url", "campaign_identifier"]
    list_select_related = ["domain", "account", "campaign"]
    filter_horizontal = ["tags"]
    inlines = [PublishOutboxInline, LinkVersionInline]
    actions = ["publish", "unpublish", "republish"]
    readonly = [
        "short_url",
        "qr_code",
        "preview",
        "clicks",
        "publish_status",
        "slug_canonical",
        "slug_type",
        "campaign_identifier",
        "runtime_version",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["account", "domain", "slug_original", "short_url", "qr_code", "preview"]},
        ),
        ("Clicks", {"fields": ["clicks"]}),
        ("Tags", {"fields": ["tags"]}),
        # The fields a change may touch (the service's list), where the link leads, then
        # whether a click is served.
        (
            "Destination",
            {
                "fields": [
                    name
                    for name in link_service.EDITABLE_FIELDS
                    if name not in link_service.POLICY_FIELDS
                ]
            },
        ),
        ("Policy", {"fields": list(link_service.POLICY_FIELDS)}),
        (
            "Publishing",
            {
                "fields": [
                    "change_reason",
                    "publish_status",
                    "runtime_version",
                    "slug_canonical",
                    "slug_type",
                    "campaign_identifier",
                    "created_by",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Domain and slug are the record's key and the account its owner: fixed once created.
        fixed = ["account", "domain", "slug_original"] if obj is not None else []
        return [*fixed, *self.readonly]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "domain":
            kwargs["queryset"] = domain_names()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tags":
            kwargs["queryset"] = Tag.objects.select_related("account").order_by("name")
            kwargs["form_class"] = TagsField
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a deleted link's record would stay published: unpublish instead

    @admin.display(description="clicks")
    def clicks(self, obj: Link) -> str:
        if obj._state.adding:
            return "-"
        return click_summary_html(obj)

    @admin.display(description="short URL")
    def short_url(self, obj: Link) -> str:
        return obj.get_full_url() if obj.pk else "-"

    @admin.display(description="QR code")
    def qr_code(self, obj: Link) -> str:
        if not obj.pk:
            return "-"
        return format_html_join(
            " · ",
            "<a href='{}' download>{}</a>",
            [
                (reverse(f"admin:{self._url_name('qr')}", args=[obj.pk, fmt]), f"download {label}")
                for fmt, label in (("svg", "SVG (print)"), ("png", "PNG (screens)"))
            ],
        )

    def _url_name(self, view: str) -> str:
        """The name of one of this admin's URLs (``link_tracking_link_<view>``)."""
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self) -> list[Any]:
        qr_view = self.admin_site.admin_view(self.qr_view)
        import_view = self.admin_site.admin_view(self.import_view)
        return [
            path("import/", import_view, name=self._url_name("import")),
            path("<path:object_id>/qr/<str:fmt>/", qr_view, name=self._url_name("qr")),
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name=self._url_name("preview"),
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Links from a CSV file, as ``POST links/import/`` makes them (one implementation:
        :func:`import_links`); needs the permission to add links."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = LinkImportForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            outcome = start_import(
                data["file"].read(),
                file_name=data["file"].name,
                account=data["account"],
                domain=data["domain"],
                user=request.user,
                reason=data["reason"] or "imported from CSV in the admin",
                dry_run=data["dry_run"],
                per_row=data["mode"] == LinkImport.Mode.PER_ROW,
            )
            if isinstance(outcome, LinkImport):
                self.message_user(
                    request,
                    f"{outcome.rows_total} rows: the import runs in the background; "
                    "its progress is shown here.",
                )
                return HttpResponseRedirect(
                    reverse("admin:link_tracking_linkimport_change", args=[outcome.pk])
                )
            result = outcome
            if result.links and not result.errors:
                self.message_user(request, f"{len(result.links)} links imported.")
                return HttpResponseRedirect(reverse(f"admin:{self._url_name('changelist')}"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import links from CSV",
            "opts": self.opts,
            "form": form,
            "result": result,
            "max_rows": app_settings.IMPORT_MAX_ROWS,
            "async_max_rows": app_settings.IMPORT_ASYNC_MAX_ROWS,
        }
        return TemplateResponse(request, "admin/link_tracking/link_import.html", context)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A simulated click on the link as it is now (country, User-Agent, Accept-Language,
        message id, time, scan), decided as the API's preview and the runtime decide it."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404
        form = LinkPreviewForm(request.GET or None)
        result = None
        if not form.is_bound:
            result = preview_link(obj)  # a plain click until the form says otherwise
        elif form.is_valid():
            result = preview_link(obj, form.simulated_click())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview a click on {obj.get_full_url()}",
            "opts": self.opts,
            "original": obj,
            "form": form,
            "result": result,
            "change_url": reverse(f"admin:{self._url_name('change')}", args=[obj.pk]),
        }
        return TemplateResponse(request, "admin/link_tracking/link_preview.html", context)

    def qr_view(self, request: HttpRequest, object_id: str, fmt: str) -> HttpResponse:
        """The link's QR code as the API draws it by default (PNG large enough for slides)."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj) or fmt not in qr.FORMATS:
            raise Http404
        size = qr.MAX_SIZE // 2 if fmt == "png" else qr.DEFAULT_SIZE
        code = qr.link_qr_code(obj, fmt=fmt, size=size)
        response = HttpResponse(code.content, content_type=code.content_type)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"qr-{obj.domain.domain_name}-{obj.slug}.{fmt}")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.display(description="publish status")
    def publish_status(self, obj: Link) -> str:
        if not obj.pk:
            return "-"
        latest = obj.publish_outbox.order_by("-runtime_version", "-id").first()
        if latest is None:
            return "never published"
        text = f"v{latest.runtime_version}: {latest.status}"
        if latest.status == PublishOutbox.Status.WAITING_FOR_DOMAIN:
            return f"{text}: {outbox_state.waiting_reason(obj.domain)}"
        if latest.result:
            text += f" ({latest.result})"
        return text

    @admin.display(description="preview")
    def preview(self, obj: Link) -> str:
        """What the runtime will do with a plain click (no country, no user agent)."""
        if not obj.pk:
            return "-"
        try:
            result = preview_link(obj)
        except Exception as exc:  # a preview must never break the page
            return f"preview unavailable: {exc}"
        rows = format_html_join(
            "",
            "<li><code>{}</code> = <code>{}</code></li>",
            sorted(result.resolved_utm_params.items()),
        )
        return format_html(
            "<div>policy: <strong>{}</strong></div>"
            "<div>redirects to: <a href='{}' rel='noopener noreferrer'>{}</a></div>"
            "<div>resolved UTM params:<ul>{}</ul></div>"
            "<div><a href='{}'>Simulate a click</a> (country, device, language, time, "
            "message id)</div>",
            result.policy,
            result.redirect_url,
            result.redirect_url,
            rows or mark_safe("<li>none</li>"),  # noqa: S308  (a literal)
            reverse(f"admin:{self._url_name('preview')}", args=[obj.pk]),
        )

    def save_model(self, request: HttpRequest, obj: Link, form: Any, change: bool) -> None:
        reason = form.cleaned_data.get("change_reason", "")
        tags = form.cleaned_data["tags"] if "tags" in form.changed_data else None
        if change:
            changes = _changes(form, link_service.EDITABLE_FIELDS)
            link_service.update_link(
                obj,
                user=request.user,
                reason=reason or "changed in the admin",
                tags=tags,
                **changes,
            )
        else:
            fields = {
                name: form.cleaned_data[name]
                for name in link_service.EDITABLE_FIELDS
                if name in form.cleaned_data
            }
            created = link_service.create_link(
                account=form.cleaned_data["account"],
                domain=form.cleaned_data["domain"],
                destination_url=fields.pop("destination_url"),
                slug=form.cleaned_data.get("slug_original") or None,
                user=request.user,
                reason=reason or "created in the admin",
                tags=tags,
                **fields,
            )
            obj.pk = created.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The tags were set by save_model, through the service (its account check): the
        # form's own save_m2m() would set them again, unchecked.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return list(self.inlines) if obj is not None else []  # nothing to show before it exists

    @admin.action(description="Publish selected links (activate; republish if active)")
    def publish(self, request: HttpRequest, queryset: QuerySet[Link]) -> None:
        def act(link: Link) -> None:
            if link.active:
                link_service.republish_link(link)
            else:
                link_service.set_link_active(link, True, user=request.user, reason="admin publish")

        _report(self, request, queryset, act, "Published")

    @admin.action(description="Unpublish selected links (deactivate)")
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Link]) -> None:
        _report(
            self,
            request,
            queryset,
            lambda link: link_service.set_link_active(
                link, False, user=request.user, reason="admin unpublish"
            ),
            "Unpublished",
        )

    @admin.action(description="Republish selected links (same state, new version)")
    def republish(self, request: HttpRequest, queryset: QuerySet[Link]) -> None:
        _report(self, request, queryset, link_service.republish_link, "Republished")


# --- audit trail, outbox, privacy ------------------------------------------------------------


@admin.register(LinkVersion)
class LinkVersionAdmin(DomainNamesOnlyMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    domain_paths = ("link__domain",)
    list_display = [
        "link",
        "version",
        "active",
        "changed_by",
        "changed_by_api_key",
        "change_reason",
        "created_at",
    ]
    list_filter = ["active"]
    search_fields = ["link__slug_canonical", "change_reason", "changed_by_api_key__prefix"]
    list_select_related = ["link__domain", "changed_by", "changed_by_api_key"]


@admin.register(PublishOutbox)
class PublishOutboxAdmin(DomainNamesOnlyMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    domain_paths = ("link__domain", "domain")
    list_display = [
        "idempotency_key",
        "link",
        "domain",
        "runtime_version",
        "status",
        "result",
        "retry_count",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "result"]
    search_fields = ["idempotency_key", "link__slug_canonical", "error_message"]
    list_select_related = ["link__domain", "domain"]
    actions = ["retry"]

    @admin.action(description="Retry selected failed publishes")
    def retry(self, request: HttpRequest, queryset: QuerySet[PublishOutbox]) -> None:
        _report(self, request, queryset, publishing.retry_failed_publish, "Retried")


class PrivacyRequestAdminForm(forms.ModelForm):
    subject_value = forms.CharField(
        max_length=256,
        help_text="Never stored: the request keeps only a keyed hash of it.",
    )

    class Meta:
        fields = ["account", "request_type", "subject_type"]


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    form = PrivacyRequestAdminForm
    list_display = [
        "id",
        "account",
        "request_type",
        "subject_type",
        "status",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "request_type", "subject_type"]
    search_fields = ["subject_hash"]
    actions = ["retry"]
    result_fields = [
        "status",
        "result",
        "error_message",
        "requested_by",
        "created_at",
        "updated_at",
        "completed_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["account", "request_type", "subject_type", "subject_hash", *self.result_fields]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        base = ("account", "request_type", "subject_type")
        if obj is None:
            return (*base, "subject_value")
        return (*base, "subject_hash", *self.result_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of a privacy request is kept

    def save_model(
        self, request: HttpRequest, obj: PrivacyRequest, form: Any, change: bool
    ) -> None:
        if change:
            return  # processed by the processor only; nothing here is editable
        created = privacy_service.create_privacy_request(
            account=form.cleaned_data["account"],
            request_type=form.cleaned_data["request_type"],
            subject_type=form.cleaned_data["subject_type"],
            subject_value=form.cleaned_data["subject_value"],
            user=request.user,
        )
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False

    @admin.action(description="Retry selected failed or partial requests")
    def retry(self, request: HttpRequest, queryset: QuerySet[PrivacyRequest]) -> None:
        _report(self, request, queryset, privacy_service.retry_privacy_request, "Retried")


@admin.register(LinkImport)
class LinkImportAdmin(admin.ModelAdmin):
    """Import jobs, read only: they are made by an import (Links → Import from CSV)."""

    list_display = [
        "file_name",
        "account",
        "status",
        "progress",
        "created_count",
        "failed_count",
        "mode",
        "dry_run",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "mode", "dry_run"]
    search_fields = ["file_name", "reason"]
    exclude = ["content"]

    @admin.display(description="progress")
    def progress(self, obj: LinkImport) -> str:
        return f"{obj.rows_done} / {obj.rows_total} (checked {obj.rows_checked})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[LinkImport]:
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- click statistics ----------------------------------------------------------------------


class SwitchedOffFilter(admin.SimpleListFilter):
    """Webhooks switched off after too many consecutive failed deliveries, or not."""

    title = "switched off"
    parameter_name = "switched_off"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Switched off"), ("no", "On")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(disabled_at__isnull=self.value() == "no")
        return queryset


@admin.register(ClickWebhook)
class ClickWebhookAdmin(admin.ModelAdmin):
    """Click webhooks. The signing secret is shown once, in a message, when the webhook is
    added or its secret rotated (the action); the change page shows only its hint. One
    switched off after too many failed deliveries is switched on by the action (its held
    deliveries replayed)."""

    list_display = ["url", "account", "include_bots", "active", "disabled_at", "created_at"]
    list_filter = [SwitchedOffFilter, "active", "include_bots"]
    search_fields = ["url", "description"]
    exclude = ["secret", "previous_secret", "previous_secret_expires_at"]
    readonly_fields = [
        "signing_secret",
        "previous_secret_expires_at",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["rotate_secret", "enable"]

    @admin.display(description="Signing secret")
    def signing_secret(self, obj: ClickWebhook) -> str:
        return webhook_signing.secret_hint(obj.secret) or "made when the webhook is saved"

    def _show_secret(self, request: HttpRequest, obj: ClickWebhook) -> None:
        self.message_user(
            request,
            f"Signing secret of {obj.url}: {obj.secret} (shown only now: store it).",
            messages.WARNING,
        )

    def save_model(self, request: HttpRequest, obj: ClickWebhook, form: Any, change: bool) -> None:
        made = not obj.secret
        if made:
            obj.secret = webhook_signing.new_secret()
        super().save_model(request, obj, form, change)
        if made:
            self._show_secret(request, obj)

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[ClickWebhook]) -> None:
        for webhook in queryset:
            webhook_signing.rotate_secret(webhook)
            self._show_secret(request, webhook)

    @admin.action(description="Switch on again (replay held deliveries)", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[ClickWebhook]) -> None:
        switched_on = replayed = 0
        for webhook in queryset.filter(disabled_at__isnull=False):
            # The service records it in the admin's log (the audit trail: who, when, which).
            replayed += webhook_service.enable_webhook(webhook, actor=request.user)
            switched_on += 1
        self.message_user(
            request,
            f"Switched on {switched_on} webhook(s); {replayed} held deliveries replayed.",
            messages.SUCCESS,
        )


@admin.register(ClickWebhookDelivery)
class ClickWebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "event_id",
        "webhook",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
    ]
    list_filter = ["status"]
    search_fields = ["event_id", "webhook__url"]
    list_select_related = ["webhook"]
    # Keyed hashes for privacy requests only: nothing an operator reads.
    exclude = ["subject_hashes"]
    actions = ["retry"]

    @admin.action(description="Send the selected failed deliveries again")
    def retry(self, request: HttpRequest, queryset: QuerySet[ClickWebhookDelivery]) -> None:
        outcome = retry_deliveries(queryset)
        self.message_user(request, f"Queued again: {outcome.queued}.", messages.SUCCESS)
        if outcome.cancelled:
            self.message_user(
                request,
                f"Not queued: {outcome.cancelled} cancelled. {CANCELLED_REASON}",
                messages.WARNING,
            )


@admin.register(MessageClick)
class MessageClickAdmin(DomainNamesOnlyMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    domain_paths = ("link__domain",)
    list_display = [
        "sms_msg_id",
        "link",
        "human_clicks",
        "bot_clicks",
        "first_human_click_at",
        "last_click_at",
    ]
    search_fields = ["sms_msg_id"]
    list_select_related = ["link", "link__domain"]


@admin.register(OrphanClicks)
class OrphanClicksAdmin(DomainNamesOnlyMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Clicks on no link of a domain, per UTC day and slug (``""``: paths that cannot be a
    slug): the most clicked first, so the top missing slugs lead the list."""

    domain_paths = ("domain",)
    list_display = ["domain", "day", "slug", "human_clicks", "bot_clicks", "last_click_at"]
    list_filter = ["domain", "day"]
    search_fields = ["slug"]
    ordering = ["-day", "-human_clicks", "slug"]
    list_select_related = ["domain"]


@admin.register(ClickIngestCheckpoint)
class ClickIngestCheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["source", "position", "completed", "error", "updated_at"]
    list_filter = ["completed"]
    search_fields = ["source"]


# --- API keys ----------------------------------------------------------------------------------


class ApiKeyAdminForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["account", "name", "scopes", "expires_at"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                data["scopes"] = api_key_service.clean_key_fields(
                    data.get("name", ""), data.get("scopes", []), data.get("expires_at")
                )
            except ValidationError as exc:
                for field, messages_ in exc.message_dict.items():
                    self.add_error(field, messages_)
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys. The key is shown once, in a message, when it is added or rotated (the action);
    lists show its prefix. Keys are revoked, not deleted: the audit trail names them."""

    form = ApiKeyAdminForm
    list_display = [
        "name",
        "prefix",
        "account",
        "scope_list",
        "expires_at",
        "last_used_at",
        "revoked",
        "created_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    list_select_related = ["account"]
    actions = ["revoke", "rotate"]
    fields = ["account", "name", "scopes", "expires_at"]
    view_fields = [
        "account",
        "name",
        "prefix",
        "scope_list",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "rotated_at",
        "created_by",
        "created_at",
    ]

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="Revoked", boolean=True)
    def revoked(self, obj: ApiKey) -> bool:
        return obj.revoked_at is not None

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return self.fields if obj is None else self.view_fields

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return [] if obj is None else self.view_fields

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def _show_key(self, request: HttpRequest, key: ApiKey, raw: str) -> None:
        self.message_user(
            request, f"The key {key}: {raw} (shown only now: store it).", messages.WARNING
        )

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:  # nothing is edited in place; revoke and rotate are actions
            return
        key, raw = api_key_service.create_api_key(
            account=form.cleaned_data["account"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            user=request.user,
        )
        for field in ApiKey._meta.concrete_fields:  # the admin goes on with ``obj``
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state = key._state
        self._show_key(request, key, raw)

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_service.revoke_api_key(key, user=request.user)
        self.message_user(request, f"Revoked: {queryset.count()}.", messages.SUCCESS)

    @admin.action(description="Rotate the selected API keys (new secrets)", permissions=["change"])
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            try:
                rotated, raw = api_key_service.rotate_api_key(key, user=request.user)
            except InvalidState as exc:
                self.message_user(request, f"{key}: {exc}", messages.ERROR)
                continue
            self._show_key(request, rotated, raw)


def _withdraw_when_unresolved(site: admin.AdminSite) -> None:
    """Take this app's pages off ``site`` when a swappable-model setting names no installed
    model: the admin's own checks would end in a traceback on the foreign keys to it, before
    ``manage.py check`` could say which setting is wrong (link_tracking.E008)."""
    if not unresolved_swappable_models():
        return
    for model in [m for m in site._registry if m._meta.app_label == Link._meta.app_label]:
        site.unregister(model)


_withdraw_when_unresolved(admin.site)

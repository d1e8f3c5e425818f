"""The app's settings: every setting declared once, as data, read lazily, reloaded on change.

Each :class:`Setting` holds its key, its default and its parser: a callable that returns the
value it accepts (normalised) or raises ``ValueError`` with what the value must be, so its
bound lives next to its default. ``manage.py check`` runs every parser over the project's
values (:func:`~.checks.check_settings`, one loop over :data:`DECLARATIONS`) and reports each
bad value with the setting's check id; reading a bad value raises ``ImproperlyConfigured``
naming the key, so a misconfiguration never runs on silently. A setting that names code by
dotted path (``import_path``) is imported once and cached (:meth:`AppSettings.imported`).

Two settings keep the names the reference spec gives them because host projects already set
them at top level: ``LINK_RUNTIME_TABLE_NAME`` and ``AWS_REGION``. Everything else lives in
the ``LINK_TRACKING`` dict. ``docs/CONFIGURATION.md`` documents every one (a test holds it so).

    from link_tracking_publisher.conf import app_settings
    app_settings.RUNTIME_TABLE_NAME
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from link_tracking_runtime.record import DEFAULT_DYNAMIC_PARAM_ALLOWLIST
from link_tracking_runtime.signing import DEFAULT_KEYRING_PREFIX
from link_tracking_runtime.table import DEFAULT_TABLE_NAME

__all__ = [
    "ACCOUNT_MODEL",
    "ACCOUNT_MODEL_SETTING",
    "CRM_CAMPAIGN_MODEL",
    "CRM_CAMPAIGN_MODEL_SETTING",
    "DECLARATIONS",
    "DEFAULTS",
    "SWAPPABLE_MODELS",
    "TOP_LEVEL",
    "AppSettings",
    "Setting",
    "app_settings",
    "swappable_model",
]

#: A parser: the value it accepts (normalised), or ``ValueError`` saying what it must be.
Parser = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting the app reads."""

    #: Its key in ``LINK_TRACKING`` (or the :class:`AppSettings` attribute of a top-level one).
    key: str
    #: The value used when the project does not set it.
    default: Any
    #: Checks a value the project set: returns it (normalised) or raises ``ValueError``.
    parse: Parser
    #: The system check's id for a value the parser refuses.
    check_id: str = "link_tracking.E011"
    #: The top-level Django setting it is read from; empty: ``LINK_TRACKING[key]``.
    django_setting: str = ""
    #: Its value names code by dotted path(s): :meth:`AppSettings.imported` imports it.
    imports: bool = False
    #: A class it names is instantiated (once, with no arguments) by :meth:`AppSettings.imported`.
    instantiate: bool = False

    @property
    def label(self) -> str:
        """How a message names it: ``LINK_TRACKING['KEY']`` or the top-level name."""
        return self.django_setting or f"LINK_TRACKING['{self.key}']"


# --- parsers ---------------------------------------------------------------------------------


def integer(minimum: int, maximum: int | None = None) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"must be an integer {bound}")
        return value

    return parse


def seconds(minimum: float) -> Parser:
    def parse(value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError("must be a number of seconds")
        if value < minimum:
            raise ValueError(f"must be a number of seconds >= {minimum:g}")
        return value

    return parse


def boolean() -> Parser:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("must be True or False")
        return value

    return parse


def text(*, empty: bool = True, min_length: int = 0) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if not empty and not value:
            raise ValueError("must not be empty")
        if len(value) < min_length:
            raise ValueError(f"must be a string of at least {min_length} characters")
        return value

    return parse


def texts() -> Parser:
    def parse(value: Any) -> list[str]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of strings")
        if not all(isinstance(item, str) for item in value):
            raise ValueError("must be a list of strings")
        return list(value)

    return parse


def one_of(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}")
        return str(value)

    return parse


def optional(inner: Parser) -> Parser:
    def parse(value: Any) -> Any:
        return None if value is None else inner(value)

    return parse


_RATE = re.compile(r"[1-9][0-9]*/(s|m|h|d)[a-z]*")


def throttle_rate() -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not _RATE.fullmatch(value):
            raise ValueError(
                "must be a throttle rate: '<number>/<second|minute|hour|day>', e.g. "
                "'600/minute', or None"
            )
        return value

    return parse


def throttle_rates() -> Parser:
    """A dict of names (scopes) to throttle rates or ``None``."""
    rate = optional(throttle_rate())

    def parse(value: Any) -> dict[str, str | None]:
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise ValueError("must be a dict of scopes to throttle rates or None")
        return {key: rate(item) for key, item in value.items()}

    return parse


def import_path() -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or "." not in value:
            raise ValueError("must be a dotted path to a class or callable")
        return value

    return parse


def import_paths() -> Parser:
    single = import_path()

    def parse(value: Any) -> list[str]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of dotted paths")
        return [single(item) for item in value]

    return parse


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


def aws_region(*, empty: bool = False) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not (_REGION.fullmatch(value) or (empty and value == "")):
            raise ValueError(
                "must be an AWS region name such as 'eu-central-1'" + (", or ''" if empty else "")
            )
        return value

    return parse


def endpoint_url() -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or (value and not value.startswith(("http://", "https://"))):
            raise ValueError("must be an http(s) URL, or '' for AWS's endpoint of the region")
        return value

    return parse


_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")


def table_name() -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not _TABLE_NAME.fullmatch(value):
            raise ValueError(
                "is not a valid DynamoDB table name: 3-255 characters, letters, digits, "
                "'_', '-', '.'"
            )
        return value

    return parse


#: The host project's account and CRM-campaign models are swappable (django-oauth-toolkit's
#: pattern): each setting names an ``"app_label.ModelName"``, and a project that sets neither
#: uses the app's own ``link_tracking.Account`` and ``link_tracking.CrmCampaign``.
ACCOUNT_MODEL_SETTING = "LINK_TRACKING_ACCOUNT_MODEL"
CRM_CAMPAIGN_MODEL_SETTING = "LINK_TRACKING_CRM_CAMPAIGN_MODEL"
SWAPPABLE_MODELS: dict[str, str] = {
    ACCOUNT_MODEL_SETTING: "link_tracking.Account",
    CRM_CAMPAIGN_MODEL_SETTING: "link_tracking.CrmCampaign",
}


def swappable_model(setting: str) -> str:
    """The label of the model ``setting`` (a key of :data:`SWAPPABLE_MODELS`) names now: the
    project's, else the app's own default."""
    return str(getattr(settings, setting, SWAPPABLE_MODELS[setting]))


# Read once, when the models are defined: a foreign key's target is fixed at class creation,
# and the migrations read the same values.
ACCOUNT_MODEL = swappable_model(ACCOUNT_MODEL_SETTING)
CRM_CAMPAIGN_MODEL = swappable_model(CRM_CAMPAIGN_MODEL_SETTING)

#: The top-level Django settings read by this app.
TOP_LEVEL: tuple[Setting, ...] = (
    Setting(
        "RUNTIME_TABLE_NAME",
        DEFAULT_TABLE_NAME,
        table_name(),
        "link_tracking.E001",
        django_setting="LINK_RUNTIME_TABLE_NAME",
    ),
    Setting(
        "AWS_REGION",
        "us-east-1",
        text(empty=False),
        "link_tracking.E002",
        django_setting="AWS_REGION",
    ),
)

#: Every key of the ``LINK_TRACKING`` dict: its default and its parser (its bound).
DECLARATIONS: tuple[Setting, ...] = (
    # Scheme of the short URLs get_full_url() builds.
    Setting("SHORT_URL_SCHEME", "https", one_of("http", "https"), "link_tracking.E009"),
    # System-generated slugs: length and alphabet. The alphabet has no 0/O, 1/I/L, so a slug
    # read aloud or typed from an SMS survives, and it is upper-case, as the runtime looks up.
    Setting("SLUG_LENGTH", 7, integer(5, 32), "link_tracking.E005"),
    Setting("SLUG_ALPHABET", "23456789ABCDEFGHJKMNPQRSTUVWXYZ", text(), "link_tracking.E004"),
    Setting("SLUG_MAX_ATTEMPTS", 10, integer(1)),
    # dynamic_param_allowlist of a link that does not say.
    Setting("DEFAULT_DYNAMIC_PARAM_ALLOWLIST", list(DEFAULT_DYNAMIC_PARAM_ALLOWLIST), texts()),
    # Publishing.
    Setting("PUBLISH_MAX_RETRIES", 8, integer(0), "link_tracking.E006"),
    Setting("PUBLISH_RETRY_BACKOFF_SECONDS", 2, seconds(0)),
    Setting("PUBLISH_RETRY_BACKOFF_MAX_SECONDS", 600, seconds(0)),
    Setting("BULK_PUBLISH_CONCURRENCY", 8, integer(1), "link_tracking.E006"),
    # Two regions (docs/CONFIGURATION.md, "Two regions"): the region of the runtime table's
    # second replica (the global table's other region; empty: one region), its DynamoDB
    # endpoint (empty: the standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL, or AWS's),
    # and whether a write the primary replica cannot take goes to the secondary at once
    # (False: it waits in the outbox for the primary, as with one region).
    Setting("SECONDARY_REGION", "", aws_region(empty=True), "link_tracking.E013"),
    Setting("SECONDARY_DYNAMODB_ENDPOINT_URL", "", endpoint_url(), "link_tracking.E013"),
    Setting("PUBLISH_TO_SECONDARY", False, boolean(), "link_tracking.E013"),
    # Outbox sweeping.
    Setting("OUTBOX_STUCK_AFTER_SECONDS", 300, integer(1), "link_tracking.E006"),
    Setting("OUTBOX_SWEEP_BATCH_SIZE", 500, integer(1)),
    Setting("OUTBOX_COMPLETED_RETENTION_DAYS", 7, integer(1)),
    Setting("OUTBOX_FAILED_RETENTION_DAYS", 30, integer(1)),
    # Outbox metrics for the alarms in terraform/ (docs/DEPLOYMENT.md, "Outbox metrics"): sent
    # once a minute by the beat task publish_outbox_metrics when METRICS_ENVIRONMENT is set
    # (e.g. "prod"); with it empty they are computed and logged only.
    Setting("METRICS_NAMESPACE", "LinkTracking/ControlPlane", text(empty=False)),
    Setting("METRICS_ENVIRONMENT", "", text()),
    # setup_dynamodb: how long to wait for the table to become ACTIVE.
    Setting("SETUP_TABLE_WAIT_SECONDS", 300, seconds(0)),
    # boto3 client settings for the control plane (timeouts keep a worker from hanging).
    Setting("AWS_CONNECT_TIMEOUT_SECONDS", 5, seconds(0.001)),
    Setting("AWS_READ_TIMEOUT_SECONDS", 10, seconds(0.001)),
    # Domain ownership (services/domains.py): the TXT record is
    # "<prefix>.<domain_name>" = "link-tracking-verification=<token>"; unverified claims lapse
    # after DOMAIN_CLAIM_TTL_SECONDS; the resolver is a dotted path to a callable taking a
    # DNS name and returning its TXT strings (the seam tests replace).
    Setting("DOMAIN_VERIFICATION_RECORD_PREFIX", "_link-tracking-challenge", text(empty=False)),
    Setting("DOMAIN_CLAIM_TTL_SECONDS", 7 * 24 * 3600, integer(1)),
    Setting(
        "DOMAIN_VERIFICATION_RESOLVER",
        "link_tracking_publisher.services.domains.dns_txt_records",
        import_path(),
        "link_tracking.E010",
        imports=True,
    ),
    Setting("DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS", 5, seconds(0.001)),
    # REST API (link_tracking_publisher.api) -----------------------------------------------
    # Which accounts a user may see and change through the API: a dotted path to a subclass
    # of link_tracking_publisher.api.access.AccountAccessPolicy. The default is safe: staff
    # see every account, everyone else none (plug in your own membership rule).
    Setting(
        "ACCOUNT_ACCESS_POLICY",
        "link_tracking_publisher.api.access.StaffAccountAccessPolicy",
        import_path(),
        "link_tracking.E010",
        imports=True,
        instantiate=True,
    ),
    # Page size of list endpoints, and the most a client may ask for with ?page_size=.
    Setting("API_PAGE_SIZE", 50, integer(1)),
    Setting("API_MAX_PAGE_SIZE", 500, integer(1)),
    # Per-user throttles (DRF rate strings, None = off): every write, and bulk endpoints.
    # Counted in Django's cache: share one cache between web processes in production.
    Setting(
        "API_WRITE_THROTTLE_RATE", "600/minute", optional(throttle_rate()), "link_tracking.E012"
    ),
    Setting("API_BULK_THROTTLE_RATE", "30/minute", optional(throttle_rate()), "link_tracking.E012"),
    # API keys (docs/INTEGRATION.md, "API keys"): the HMAC-SHA256 key their hashes are made
    # with (None: derived from SECRET_KEY, so rotating SECRET_KEY invalidates every API key;
    # set a dedicated secret in production), and how often a key's last_used_at is written
    # at most (one write per key per interval, not one per request).
    Setting("API_KEY_PEPPER", None, optional(text(min_length=32)), "link_tracking.E014"),
    Setting("API_KEY_LAST_USED_INTERVAL_SECONDS", 60, integer(1)),
    # Per-key throttles by the scope a request needs (DRF rate strings; a scope absent or
    # None is not throttled per key). Counted in Django's cache, keyed by the key's id.
    Setting(
        "API_KEY_THROTTLE_RATES",
        {
            "links:read": "1200/minute",
            "links:write": "300/minute",
            "stats:read": "1200/minute",
            "webhooks:manage": "60/minute",
            "import": "30/minute",
        },
        throttle_rates(),
        "link_tracking.E012",
    ),
    # The most links one bulk create (POST links/bulk/) may make; all or nothing.
    Setting("BULK_CREATE_MAX_LINKS", 100, integer(1)),
    # The most data rows one CSV import (POST links/import/) may carry; all or nothing.
    Setting("IMPORT_MAX_ROWS", 1000, integer(1)),
    # A longer file (up to this many rows) becomes an import job run by a worker: 202 and the
    # job's URL (GET link-imports/{id}/), progress committed every IMPORT_BATCH_SIZE rows.
    Setting("IMPORT_ASYNC_MAX_ROWS", 50_000, integer(1)),
    Setting("IMPORT_BATCH_SIZE", 500, integer(1)),
    # A job keeps its first errors (error_count counts them all).
    Setting("IMPORT_JOB_MAX_ERRORS", 1000, integer(1)),
    # A running job whose progress has not moved for this long (its worker died) is started
    # again by the beat task resume_link_imports; pending jobs never sent are sent again.
    Setting("IMPORT_JOB_STUCK_AFTER_SECONDS", 600, integer(1)),
    # A job started this many times without finishing (its file kills the worker) is failed.
    Setting("IMPORT_JOB_MAX_ATTEMPTS", 5, integer(1)),
    # Finished import jobs (their stored file with them) are deleted after this many days.
    Setting("IMPORT_JOB_RETENTION_DAYS", 30, integer(1)),
    # Signed URLs (POST links/{id}/signed-url/): lifetime when the caller does not say, and
    # the longest a caller may ask for.
    Setting("SIGNED_URL_DEFAULT_TTL_SECONDS", 7 * 24 * 3600, integer(1)),
    Setting("SIGNED_URL_MAX_TTL_SECONDS", 90 * 24 * 3600, integer(1)),
    # Signing keyrings: a link's signature_secret_ref must be a Secrets Manager name under this
    # prefix (terraform's signing_secret_prefix), so no other secret can become a signing key.
    Setting("SIGNING_KEYRING_PREFIX", DEFAULT_KEYRING_PREFIX, text(empty=False)),
    # Privacy requests keep their subject only as HMAC-SHA256 under this key (None: derived
    # from SECRET_KEY, so rotating SECRET_KEY changes the hashes of later requests).
    Setting("PRIVACY_HASH_KEY", None, optional(text(empty=False))),
    # Privacy requests: a dotted path to the processor, a callable taking a PrivacyRequest and
    # returning its result (a JSON-able dict). See services/privacy.py and docs/PRIVACY.md.
    Setting(
        "PRIVACY_REQUEST_PROCESSOR",
        "link_tracking_publisher.services.privacy.StoresProcessor",
        import_path(),
        "link_tracking.E010",
        imports=True,
        instantiate=True,
    ),
    # The default processor's stores (dotted paths of classes), and the host's own (a dotted
    # path to a callable (request, subject) -> {"done": bool, ...}, or None).
    Setting(
        "PRIVACY_STORES",
        [
            "link_tracking_publisher.services.privacy.ControlPlaneStore",
            "link_tracking_publisher.services.privacy.S3ClickEventStore",
            "link_tracking_publisher.services.privacy.ClickStatisticsStore",
            "link_tracking_publisher.services.privacy.WebhookDeliveryStore",
        ],
        import_paths(),
        "link_tracking.E010",
        imports=True,
    ),
    Setting(
        "PRIVACY_HOST_PROCESSOR", None, optional(import_path()), "link_tracking.E010", imports=True
    ),
    # Where Firehose delivers click events (terraform output click_events_bucket), and the key
    # prefixes of its objects and of its error output.
    Setting("CLICK_EVENTS_BUCKET", "", text()),
    Setting("CLICK_EVENTS_PREFIXES", ["click-events/", "click-events-errors/"], texts()),
    # Click statistics (docs/CONFIGURATION.md, "Click statistics") ----------------------------
    # What the beat task ingest_click_events reads: an SQS queue of S3 event notifications
    # (production), else a local NDJSON file or folder (the runtime's CLICK_EVENTS_FILE);
    # both empty: the task does nothing.
    Setting("CLICK_EVENTS_QUEUE_URL", "", text()),
    # The secondary region's queue of the same notifications (terraform output
    # secondary_click_objects_queue_url), read with clients in SECONDARY_REGION: each region's
    # runtime delivers its clicks to its own region, so both are read (each event counted once).
    Setting("SECONDARY_CLICK_EVENTS_QUEUE_URL", "", text(), "link_tracking.E013"),
    Setting("CLICK_EVENTS_SOURCE", "", text()),
    # Only objects under this prefix are ingested from the queue (Firehose's error output
    # lands elsewhere in the same bucket).
    Setting("CLICK_EVENTS_S3_PREFIX", "click-events/", text()),
    # Records per transaction (and per checkpoint).
    Setting("CLICK_INGEST_BATCH_SIZE", 50000, integer(1)),
    # An event stamped later than now + this is skipped as "future" (clock skew allowance).
    Setting("CLICK_MAX_FUTURE_SECONDS", 300, integer(0)),
    # Dedupe keys (one per ingested event) are kept this many days after the event's day,
    # then pruned by the beat task prune_click_event_keys; events older than this are skipped
    # as "too_old". None: keys are kept forever and no event is too old.
    Setting("CLICK_DEDUPE_HORIZON_DAYS", 30, optional(integer(1))),
    # Click webhooks: https only unless allowed (development against a local receiver).
    Setting("CLICK_WEBHOOK_ALLOW_HTTP", False, boolean()),
    Setting("CLICK_WEBHOOK_TIMEOUT_SECONDS", 10, seconds(0.001)),
    Setting("CLICK_WEBHOOK_MAX_ATTEMPTS", 8, integer(1)),
    Setting("CLICK_WEBHOOK_BACKOFF_SECONDS", 30, seconds(0)),
    Setting("CLICK_WEBHOOK_BACKOFF_MAX_SECONDS", 3600, seconds(0)),
    Setting("CLICK_WEBHOOK_BATCH_SIZE", 100, integer(1)),
    # A delivery left SENDING this long (worker killed mid-request) is sent again.
    Setting("CLICK_WEBHOOK_STUCK_AFTER_SECONDS", 300, integer(1)),
    # After a secret is rotated, deliveries are signed by the new and the previous secret for
    # this long, so receivers can switch without refusing a delivery.
    Setting("CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS", 24 * 3600, integer(0)),
    # An endpoint is switched off after this many consecutive failed deliveries (each given up
    # after CLICK_WEBHOOK_MAX_ATTEMPTS): with the default backoff, an hour or more of
    # unbroken failure (docs/CONFIGURATION.md, "Click webhooks", argues the default).
    Setting("WEBHOOK_DISABLE_AFTER_FAILURES", 20, integer(1)),
    # A webhook's host name is resolved again before each attempt (a name may point at a
    # private address later): a callable (host, port) -> addresses, by dotted path.
    Setting(
        "CLICK_WEBHOOK_RESOLVER",
        "link_tracking_publisher.clicks.webhooks.resolve_host",
        import_path(),
        "link_tracking.E010",
        imports=True,
    ),
)


#: Every setting by its :class:`AppSettings` attribute.
SETTINGS: dict[str, Setting] = {setting.key: setting for setting in (*TOP_LEVEL, *DECLARATIONS)}
#: The keys of the ``LINK_TRACKING`` dict, with their defaults.
DEFAULTS: dict[str, Any] = {setting.key: setting.default for setting in DECLARATIONS}


def raw_value(setting: Setting) -> Any:
    """What the project set for ``setting`` (its default when unset), unchecked."""
    if setting.django_setting:
        return getattr(settings, setting.django_setting, setting.default)
    return getattr(settings, "LINK_TRACKING", {}).get(setting.key, setting.default)


class AppSettings:
    """Attribute access to the app's settings, each parsed by its declaration; values (and the
    code a dotted path names) are cached until a setting changes."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        self._imported: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._cache:
            return self._cache[name]
        setting = SETTINGS.get(name)
        if setting is None:
            raise AttributeError(f"link_tracking has no setting {name!r}")
        value = raw_value(setting)
        try:
            value = setting.parse(value)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{setting.label} = {value!r} {exc} (manage.py check reports every setting)."
            ) from None
        self._cache[name] = value
        return value

    def imported(self, name: str) -> Any:
        """The class or callable a dotted-path setting names (a list of them for a list, ``None``
        for ``None``; an instance of the class for a setting declared ``instantiate``), imported
        once until the setting changes."""
        if name not in self._imported:
            if not SETTINGS[name].imports:
                raise AttributeError(f"link_tracking setting {name!r} is not a dotted path")
            value = getattr(self, name)
            if value is None:
                self._imported[name] = None
            elif isinstance(value, list):
                self._imported[name] = [import_string(path) for path in value]
            else:
                target = import_string(value)
                if SETTINGS[name].instantiate and isinstance(target, type):
                    target = target()
                self._imported[name] = target
        return self._imported[name]

    def reload(self) -> None:
        self._cache.clear()
        self._imported.clear()


app_settings = AppSettings()

_WATCHED = {"LINK_TRACKING", *(setting.django_setting for setting in TOP_LEVEL)}


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in _WATCHED:
        app_settings.reload()


setting_changed.connect(_reload)

"""The app's settings: one object, documented defaults, read lazily, reloaded on change.

Two settings keep the names the reference spec gives them because host projects already set
them at top level: ``LINK_RUNTIME_TABLE_NAME`` and ``AWS_REGION``. Everything else lives in
the ``LINK_TRACKING`` dict. See ``docs/CONFIGURATION.md`` for the reference.

    from link_tracking_publisher.conf import app_settings
    app_settings.RUNTIME_TABLE_NAME
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from link_tracking_runtime.record import DEFAULT_DYNAMIC_PARAM_ALLOWLIST
from link_tracking_runtime.signing import DEFAULT_KEYRING_PREFIX
from link_tracking_runtime.table import DEFAULT_TABLE_NAME

__all__ = [
    "ACCOUNT_MODEL",
    "ACCOUNT_MODEL_SETTING",
    "CRM_CAMPAIGN_MODEL",
    "CRM_CAMPAIGN_MODEL_SETTING",
    "DEFAULTS",
    "SWAPPABLE_MODELS",
    "AppSettings",
    "app_settings",
    "swappable_model",
]

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

#: Top-level Django settings read by this app, with their defaults.
TOP_LEVEL: dict[str, tuple[str, Any]] = {
    "RUNTIME_TABLE_NAME": ("LINK_RUNTIME_TABLE_NAME", DEFAULT_TABLE_NAME),
    "AWS_REGION": ("AWS_REGION", "us-east-1"),
}

#: Keys of the ``LINK_TRACKING`` dict, with their defaults.
DEFAULTS: dict[str, Any] = {
    # Scheme of the short URLs get_full_url() builds.
    "SHORT_URL_SCHEME": "https",
    # System-generated slugs: length and alphabet. The alphabet has no 0/O, 1/I/L, so a slug
    # read aloud or typed from an SMS survives, and it is upper-case, as the runtime looks up.
    "SLUG_LENGTH": 7,
    "SLUG_ALPHABET": "23456789ABCDEFGHJKMNPQRSTUVWXYZ",
    "SLUG_MAX_ATTEMPTS": 10,
    # dynamic_param_allowlist of a link that does not say.
    "DEFAULT_DYNAMIC_PARAM_ALLOWLIST": list(DEFAULT_DYNAMIC_PARAM_ALLOWLIST),
    # Publishing.
    "PUBLISH_MAX_RETRIES": 8,
    "PUBLISH_RETRY_BACKOFF_SECONDS": 2,
    "PUBLISH_RETRY_BACKOFF_MAX_SECONDS": 600,
    "BULK_PUBLISH_CONCURRENCY": 8,
    # Outbox sweeping.
    "OUTBOX_STUCK_AFTER_SECONDS": 300,
    "OUTBOX_SWEEP_BATCH_SIZE": 500,
    "OUTBOX_COMPLETED_RETENTION_DAYS": 7,
    "OUTBOX_FAILED_RETENTION_DAYS": 30,
    # Outbox metrics for the alarms in terraform/ (docs/DEPLOYMENT.md, "Outbox metrics"): sent
    # once a minute by the beat task publish_outbox_metrics when METRICS_ENVIRONMENT is set
    # (e.g. "prod"); with it empty they are computed and logged only.
    "METRICS_NAMESPACE": "LinkTracking/ControlPlane",
    "METRICS_ENVIRONMENT": "",
    # setup_dynamodb: how long to wait for the table to become ACTIVE.
    "SETUP_TABLE_WAIT_SECONDS": 300,
    # boto3 client settings for the control plane (timeouts keep a worker from hanging).
    "AWS_CONNECT_TIMEOUT_SECONDS": 5,
    "AWS_READ_TIMEOUT_SECONDS": 10,
    # Domain ownership (services/domains.py): the TXT record is
    # "<prefix>.<domain_name>" = "link-tracking-verification=<token>"; unverified claims lapse
    # after DOMAIN_CLAIM_TTL_SECONDS; the resolver is a dotted path to a callable taking a
    # DNS name and returning its TXT strings (the seam tests replace).
    "DOMAIN_VERIFICATION_RECORD_PREFIX": "_link-tracking-challenge",
    "DOMAIN_CLAIM_TTL_SECONDS": 7 * 24 * 3600,
    "DOMAIN_VERIFICATION_RESOLVER": "link_tracking_publisher.services.domains.dns_txt_records",
    "DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS": 5,
    # REST API (link_tracking_publisher.api) -----------------------------------------------
    # Which accounts a user may see and change through the API: a dotted path to a subclass
    # of link_tracking_publisher.api.access.AccountAccessPolicy. The default is safe: staff
    # see every account, everyone else none (plug in your own membership rule).
    "ACCOUNT_ACCESS_POLICY": "link_tracking_publisher.api.access.StaffAccountAccessPolicy",
    # Page size of list endpoints, and the most a client may ask for with ?page_size=.
    "API_PAGE_SIZE": 50,
    "API_MAX_PAGE_SIZE": 500,
    # Per-user throttles (DRF rate strings, None = off): every write, and bulk endpoints.
    # Counted in Django's cache: share one cache between web processes in production.
    "API_WRITE_THROTTLE_RATE": "600/minute",
    "API_BULK_THROTTLE_RATE": "30/minute",
    # API keys (docs/INTEGRATION.md, "API keys"): the HMAC-SHA256 key their hashes are made
    # with (None: derived from SECRET_KEY, so rotating SECRET_KEY invalidates every API key;
    # set a dedicated secret in production), and how often a key's last_used_at is written
    # at most (one write per key per interval, not one per request).
    "API_KEY_PEPPER": None,
    "API_KEY_LAST_USED_INTERVAL_SECONDS": 60,
    # Per-key throttles by the scope a request needs (DRF rate strings; a scope absent or
    # None is not throttled per key). Counted in Django's cache, keyed by the key's id.
    "API_KEY_THROTTLE_RATES": {
        "links:read": "1200/minute",
        "links:write": "300/minute",
        "stats:read": "1200/minute",
        "webhooks:manage": "60/minute",
        "import": "30/minute",
    },
    # The most links one bulk create (POST links/bulk/) may make; all or nothing.
    "BULK_CREATE_MAX_LINKS": 100,
    # The most data rows one CSV import (POST links/import/) may carry; all or nothing.
    "IMPORT_MAX_ROWS": 1000,
    # A longer file (up to this many rows) becomes an import job run by a worker: 202 and the
    # job's URL (GET link-imports/{id}/), progress committed every IMPORT_BATCH_SIZE rows.
    "IMPORT_ASYNC_MAX_ROWS": 50_000,
    "IMPORT_BATCH_SIZE": 500,
    # A job keeps its first errors (error_count counts them all).
    "IMPORT_JOB_MAX_ERRORS": 1000,
    # A running job whose progress has not moved for this long (its worker died) is started
    # again by the beat task resume_link_imports; pending jobs never sent are sent again.
    "IMPORT_JOB_STUCK_AFTER_SECONDS": 600,
    # A job started this many times without finishing (its file kills the worker) is failed.
    "IMPORT_JOB_MAX_ATTEMPTS": 5,
    # Finished import jobs (their stored file with them) are deleted after this many days.
    "IMPORT_JOB_RETENTION_DAYS": 30,
    # Signed URLs (POST links/{id}/signed-url/): lifetime when the caller does not say, and
    # the longest a caller may ask for.
    "SIGNED_URL_DEFAULT_TTL_SECONDS": 7 * 24 * 3600,
    "SIGNED_URL_MAX_TTL_SECONDS": 90 * 24 * 3600,
    # Signing keyrings: a link's signature_secret_ref must be a Secrets Manager name under this
    # prefix (terraform's signing_secret_prefix), so no other secret can become a signing key.
    "SIGNING_KEYRING_PREFIX": DEFAULT_KEYRING_PREFIX,
    # Privacy requests keep their subject only as HMAC-SHA256 under this key (None: derived
    # from SECRET_KEY, so rotating SECRET_KEY changes the hashes of later requests).
    "PRIVACY_HASH_KEY": None,
    # Privacy requests: a dotted path to the processor, a callable taking a PrivacyRequest and
    # returning its result (a JSON-able dict). See services/privacy.py and docs/PRIVACY.md.
    "PRIVACY_REQUEST_PROCESSOR": "link_tracking_publisher.services.privacy.StoresProcessor",
    # The default processor's stores (dotted paths of classes), and the host's own (a dotted
    # path to a callable (request, subject) -> {"done": bool, ...}, or None).
    "PRIVACY_STORES": [
        "link_tracking_publisher.services.privacy.ControlPlaneStore",
        "link_tracking_publisher.services.privacy.S3ClickEventStore",
        "link_tracking_publisher.services.privacy.ClickStatisticsStore",
        "link_tracking_publisher.services.privacy.WebhookDeliveryStore",
    ],
    "PRIVACY_HOST_PROCESSOR": None,
    # Where Firehose delivers click events (terraform output click_events_bucket), and the key
    # prefixes of its objects and of its error output.
    "CLICK_EVENTS_BUCKET": "",
    "CLICK_EVENTS_PREFIXES": ["click-events/", "click-events-errors/"],
    # Click statistics (docs/CONFIGURATION.md, "Click statistics") ----------------------------
    # What the beat task ingest_click_events reads: an SQS queue of S3 event notifications
    # (production), else a local NDJSON file or folder (the runtime's CLICK_EVENTS_FILE);
    # both empty: the task does nothing.
    "CLICK_EVENTS_QUEUE_URL": "",
    "CLICK_EVENTS_SOURCE": "",
    # Only objects under this prefix are ingested from the queue (Firehose's error output
    # lands elsewhere in the same bucket).
    "CLICK_EVENTS_S3_PREFIX": "click-events/",
    # Records per transaction (and per checkpoint).
    "CLICK_INGEST_BATCH_SIZE": 50000,
    # An event stamped later than now + this is skipped as "future" (clock skew allowance).
    "CLICK_MAX_FUTURE_SECONDS": 300,
    # Dedupe keys (one per ingested event) are kept this many days after the event's day,
    # then pruned by the beat task prune_click_event_keys; events older than this are skipped
    # as "too_old". None: keys are kept forever and no event is too old.
    "CLICK_DEDUPE_HORIZON_DAYS": 30,
    # Click webhooks: https only unless allowed (development against a local receiver).
    "CLICK_WEBHOOK_ALLOW_HTTP": False,
    "CLICK_WEBHOOK_TIMEOUT_SECONDS": 10,
    "CLICK_WEBHOOK_MAX_ATTEMPTS": 8,
    "CLICK_WEBHOOK_BACKOFF_SECONDS": 30,
    "CLICK_WEBHOOK_BACKOFF_MAX_SECONDS": 3600,
    "CLICK_WEBHOOK_BATCH_SIZE": 100,
    # A delivery left SENDING this long (worker killed mid-request) is sent again.
    "CLICK_WEBHOOK_STUCK_AFTER_SECONDS": 300,
    # After a secret is rotated, deliveries are signed by the new and the previous secret for
    # this long, so receivers can switch without refusing a delivery.
    "CLICK_WEBHOOK_SECRET_OVERLAP_SECONDS": 24 * 3600,
    # A webhook's host name is resolved again before each attempt (a name may point at a
    # private address later): a callable (host, port) -> addresses, by dotted path.
    "CLICK_WEBHOOK_RESOLVER": "link_tracking_publisher.clicks.webhooks.resolve_host",
}


class AppSettings:
    """Attribute access to the app's settings; values are cached until a setting changes."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._cache:
            return self._cache[name]
        if name in TOP_LEVEL:
            setting, default = TOP_LEVEL[name]
            value = getattr(settings, setting, default)
        elif name in DEFAULTS:
            value = getattr(settings, "LINK_TRACKING", {}).get(name, DEFAULTS[name])
        else:
            raise AttributeError(f"link_tracking has no setting {name!r}")
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


app_settings = AppSettings()

_WATCHED = {"LINK_TRACKING", *(setting for setting, _ in TOP_LEVEL.values())}


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in _WATCHED:
        app_settings.reload()


setting_changed.connect(_reload)

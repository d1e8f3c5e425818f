"""Settings of the development/demo project. Everything is read from the environment
(django-environ); the defaults run locally with no AWS account and no server but moto."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django
import environ

from devsite.secret_settings import secret_list

BASE_DIR = Path(__file__).resolve().parent.parent
# The local stack's state (make dev) and the default for manage.py run beside it: one SQLite
# database, one broker folder, one set of logs.
VAR_DIR = Path(environ.Env().str("LINK_TRACKING_VAR_DIR", default=str(BASE_DIR / "var" / "dev")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _raw_list(variable: str) -> list[str]:
    """A comma-separated variable split as written (empty entries kept, so they are seen)."""
    raw = env.str(variable, default="")
    return raw.split(",") if raw else []


# Development defaults below are published with the code: devsite.settings_production refuses
# them (and empty or short secrets) at start-up, naming the variable.
PRODUCTION = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789")
SECRET_KEY_FALLBACKS = secret_list(
    "DJANGO_SECRET_KEY_FALLBACKS",
    _raw_list("DJANGO_SECRET_KEY_FALLBACKS"),
    production=PRODUCTION,
)
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served locally (no CDN)
    "axes",  # failed logins: lockout per user name and per client (below)
    "devsite.crm",
    "link_tracking_publisher",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's stylesheets, Swagger UI) served by the app itself, as in
    # production, whatever DEBUG is: collected into STATIC_ROOT by collectstatic.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout into axes' answer, 429 Too Many Requests (its documented place).
    "axes.middleware.AxesMiddleware",
]

# Failed logins (django-axes): the admin's login form and the API's HTTP Basic both go through
# django.contrib.auth.authenticate, so both count failures and both are refused once locked.
# AXES_FAILURE_LIMIT failures lock the user name (whoever tries it) and, separately, the client
# address (whatever user names it tries), for AXES_COOLOFF_TIME; a successful login before then
# resets the count. Locked out, even the right password is refused.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True

# Messages stay on the server: the admin shows a new webhook secret in one (cookies would carry it).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "devsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "devsite.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'devsite.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and django.VERSION >= (5, 1):
    # The worker, the web process and manage.py write the same file at once. A transaction that
    # reads first and writes later (update_link) cannot upgrade its lock while another process
    # is committing: SQLite fails it at once with "database is locked", the busy timeout unused.
    # IMMEDIATE transactions take the write lock when they begin, so writers wait their turn.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    # A writer waits this long for the lock (Python's default is 5 s) before "database is
    # locked", which the API answers as a 503 with Retry-After: an import job's batch of a
    # large file can hold it for longer than 5 s.
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at start-up about a missing one
# With DEBUG on, WhiteNoise serves straight from the apps' static folders (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG

# The host project's models that link_tracking points at (swappable, as in django-oauth-toolkit).
LINK_TRACKING_ACCOUNT_MODEL = "crm.Account"
LINK_TRACKING_CRM_CAMPAIGN_MODEL = "crm.Campaign"

# The control plane's own settings (see docs/CONFIGURATION.md).
LINK_RUNTIME_TABLE_NAME = env.str("LINK_RUNTIME_TABLE_NAME", default="link-runtime-prod")
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
LINK_TRACKING = {
    "SHORT_URL_SCHEME": env.str("LINK_TRACKING_SHORT_URL_SCHEME", default="https"),
    "OUTBOX_STUCK_AFTER_SECONDS": env.int("LINK_TRACKING_OUTBOX_STUCK_AFTER_SECONDS", default=300),
    # Where Firehose delivers click events; privacy erasure rewrites objects there.
    "CLICK_EVENTS_BUCKET": env.str("LINK_TRACKING_CLICK_EVENTS_BUCKET", default=""),
    # Keys the hash a privacy request keeps of its subject (docs/PRIVACY.md).
    "PRIVACY_HASH_KEY": env.str(
        "LINK_TRACKING_PRIVACY_HASH_KEY", default="dev-only-privacy-hash-key-change-me-0123456789"
    ),
    # Click statistics: the beat task reads the SQS queue of new S3 objects when it is set,
    # else the runtime's local NDJSON file (CLICK_EVENTS_FILE of the dev stack).
    "CLICK_EVENTS_QUEUE_URL": env.str("LINK_TRACKING_CLICK_EVENTS_QUEUE_URL", default=""),
    "CLICK_EVENTS_SOURCE": env.str(
        "LINK_TRACKING_CLICK_EVENTS_SOURCE", default=str(VAR_DIR / "click-events.ndjson")
    ),
    "CLICK_WEBHOOK_ALLOW_HTTP": env.bool("LINK_TRACKING_CLICK_WEBHOOK_ALLOW_HTTP", default=False),
}

# The REST API (link_tracking_publisher.api): authentication is the host's choice; the app
# decides authorisation (LINK_TRACKING['ACCOUNT_ACCESS_POLICY']). HTTP Basic is for development
# and the test suite only (failures count towards the lockout above); the production settings
# take sessions and tokens instead.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        # Last: the first class's challenge decides 401 or 403 for everything else (unchanged);
        # the app's views answer a refused key with 401 and its Bearer challenge themselves.
        "link_tracking_publisher.api.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
# No DEFAULT_SCHEMA_CLASS nor SPECTACULAR_SETTINGS: the app's schema view brings its own, and
# its Swagger UI takes its assets from drf_spectacular_sidecar (INSTALLED_APPS), as in any host.

# Celery: the embedded default is kombu's filesystem transport, which needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = env.json(
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    default={
        "data_folder_in": str(VAR_DIR / "broker" / "out"),
        "data_folder_out": str(VAR_DIR / "broker" / "out"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "store_processed": False,
        # The exchange tables; kombu's default is ./control, in whatever directory the
        # process started.
        "control_folder": str(VAR_DIR / "broker" / "control"),
    },
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The same transport, writing each message atomically (devsite/broker.py says why).
    from kombu.transport import TRANSPORT_ALIASES

    TRANSPORT_ALIASES["filesystem"] = "devsite.broker:Transport"
    for folder in {
        CELERY_BROKER_TRANSPORT_OPTIONS.get(k)
        for k in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    }:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

from link_tracking_publisher.schedule import BEAT_SCHEDULE as LINK_TRACKING_BEAT_SCHEDULE  # noqa: E402

CELERY_BEAT_SCHEDULE = {**LINK_TRACKING_BEAT_SCHEDULE}

# The API's write throttles count in the default cache: every process must share it, or each
# counts on its own. Development: one process's memory (Django's default), unless CACHE_URL says
# otherwise; production: the database (devsite.settings_production).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

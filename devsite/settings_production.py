"""The documented production settings of the control plane (``DJANGO_SETTINGS_MODULE=
devsite.settings_production``): the development settings, with every secret required and
checked, and Django's deployment hardening on. ``python manage.py check --deploy`` is clean.

Refused at start-up with ``ImproperlyConfigured`` naming the variable: a missing, development
or too short ``DJANGO_SECRET_KEY`` (50 characters at least), ``DJANGO_SECRET_KEY_FALLBACKS`` or
``LINK_TRACKING_PRIVACY_HASH_KEY`` (32), an empty entry in a list of secrets, ``DEBUG`` on, no
``ALLOWED_HOSTS``, no ``DATABASE_URL``, a cache that is not shared by every process
(``CACHE_URL``: the database cache by default; run ``manage.py createcachetable``). See
docs/CONFIGURATION.md and docs/DEPLOYMENT.md.

The API authenticates with sessions (the admin's login) and tokens (``Authorization: Token
…``; ``manage.py drf_create_token <user>``), never HTTP Basic: a password is only ever typed into
the admin's login form, where failed attempts lock out (django-axes, devsite.settings).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from devsite.secret_settings import secret, secret_list
from devsite.settings import *  # noqa: F403
from devsite.settings import INSTALLED_APPS, LINK_TRACKING, REST_FRAMEWORK, _raw_list, env

PRODUCTION = True

SECRET_KEY = secret("DJANGO_SECRET_KEY", env.str("DJANGO_SECRET_KEY", default=""), production=True)
SECRET_KEY_FALLBACKS = secret_list(
    "DJANGO_SECRET_KEY_FALLBACKS", _raw_list("DJANGO_SECRET_KEY_FALLBACKS"), production=True
)
LINK_TRACKING = {
    **LINK_TRACKING,
    "PRIVACY_HASH_KEY": secret(
        "LINK_TRACKING_PRIVACY_HASH_KEY",
        env.str("LINK_TRACKING_PRIVACY_HASH_KEY", default=""),
        production=True,
    ),
}

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
ALLOWED_HOSTS = [host for host in env.list("ALLOWED_HOSTS", default=[]) if host.strip()]
if not ALLOWED_HOSTS or ALLOWED_HOSTS == ["localhost", "127.0.0.1", "[::1]", "testserver"]:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the control plane's hosts in production.")
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured("DATABASE_URL must be set in production (PostgreSQL).")

# HTTPS only, behind a TLS-terminating load balancer that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# The API: API keys, sessions and tokens, no HTTP Basic (a password per request, guessable at leisure).
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "link_tracking_publisher.api.authentication.ApiKeyAuthentication",
    ],
}

# One cache for every web process, so the API's throttles count per user, not per process:
# the database's (run manage.py createcachetable once), or Redis/Memcached via CACHE_URL.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://link_tracking_cache")}
if CACHES["default"]["BACKEND"].rsplit(".", 1)[-1] in ("LocMemCache", "DummyCache"):
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache every process shares in production (dbcache://, "
        "redis://, pymemcache://), not locmemcache:// or dummycache://."
    )

# Failed logins: the client's address is the one the load balancer appended to
# X-Forwarded-For (REMOTE_ADDR is the load balancer's own, the same for everyone).
AXES_CLIENT_IP_CALLABLE = "devsite.client_address.forwarded_client_address"

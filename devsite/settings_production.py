"""The documented production settings of the control plane (``DJANGO_SETTINGS_MODULE=
devsite.settings_production``): the development settings, with every secret required and
checked, and Django's deployment hardening on. ``python manage.py check --deploy`` is clean.

Refused at start-up with ``ImproperlyConfigured`` naming the variable: a missing, development
or too short ``DJANGO_SECRET_KEY`` (50 characters at least), ``DJANGO_SECRET_KEY_FALLBACKS`` or
``LINK_TRACKING_PRIVACY_HASH_KEY`` (32), an empty entry in a list of secrets, ``DEBUG`` on, no
``ALLOWED_HOSTS``, no ``DATABASE_URL``. See docs/CONFIGURATION.md.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from devsite.secret_settings import secret, secret_list
from devsite.settings import *  # noqa: F403
from devsite.settings import LINK_TRACKING, _raw_list, env

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

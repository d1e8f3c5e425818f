"""System checks: misconfiguration is reported at start-up, never discovered at publish time."""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, SWAPPABLE_MODELS, app_settings, swappable_model

_TABLE_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{3,255}")
_AMBIGUOUS = set("0O1IL")


def _valid_rate(rate: Any) -> bool:
    if not isinstance(rate, str) or "/" not in rate:
        return False
    number, period = rate.split("/", 1)
    return number.isdigit() and int(number) > 0 and period[:1] in ("s", "m", "h", "d")


def unresolved_swappable_models() -> dict[str, str]:
    """The swappable-model settings whose label names no installed model, with the label."""
    unresolved = {}
    for setting in SWAPPABLE_MODELS:
        label = swappable_model(setting)
        try:
            apps.get_model(label, require_ready=False)
        except (LookupError, ValueError):
            unresolved[setting] = label
    return unresolved


def check_swappable_models() -> list[CheckMessage]:
    """E008 for each swappable-model setting that names no installed model."""
    return [
        Error(
            f"{setting} refers to {label!r}, which is not an installed model.",
            hint="Set it to 'app_label.ModelName' of your project's model, or remove it to use "
            f"the app's own {SWAPPABLE_MODELS[setting]}.",
            id="link_tracking.E008",
        )
        for setting, label in unresolved_swappable_models().items()
    ]


@register("link_tracking")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    table = app_settings.RUNTIME_TABLE_NAME
    if not isinstance(table, str) or not _TABLE_NAME_RE.fullmatch(table):
        errors.append(
            Error(
                f"LINK_RUNTIME_TABLE_NAME {table!r} is not a valid DynamoDB table name.",
                hint="3-255 characters: letters, digits, '_', '-', '.'.",
                id="link_tracking.E001",
            )
        )
    if not app_settings.AWS_REGION:
        errors.append(Error("AWS_REGION is empty.", hint="e.g. us-east-1", id="link_tracking.E002"))
    unknown = set(getattr(settings, "LINK_TRACKING", {})) - set(DEFAULTS)
    if unknown:
        errors.append(
            Error(
                f"Unknown LINK_TRACKING keys: {', '.join(sorted(unknown))}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="link_tracking.E003",
            )
        )
    alphabet = app_settings.SLUG_ALPHABET
    if (
        not isinstance(alphabet, str)
        or len(set(alphabet)) != len(alphabet)
        or alphabet != alphabet.upper()
        or not alphabet.isalnum()
        or len(alphabet) < 16
    ):
        errors.append(
            Error(
                "LINK_TRACKING['SLUG_ALPHABET'] must be at least 16 distinct upper-case letters "
                "or digits (the runtime upper-cases slugs).",
                id="link_tracking.E004",
            )
        )
    elif _AMBIGUOUS & set(alphabet):
        errors.append(
            Warning(
                "LINK_TRACKING['SLUG_ALPHABET'] contains characters people confuse "
                f"({''.join(sorted(_AMBIGUOUS & set(alphabet)))}).",
                id="link_tracking.W001",
            )
        )
    length = app_settings.SLUG_LENGTH
    if not isinstance(length, int) or not 5 <= length <= 32:
        errors.append(
            Error(
                "LINK_TRACKING['SLUG_LENGTH'] must be an integer from 5 to 32.",
                id="link_tracking.E005",
            )
        )
    for key in ("BULK_PUBLISH_CONCURRENCY", "PUBLISH_MAX_RETRIES", "OUTBOX_STUCK_AFTER_SECONDS"):
        value = getattr(app_settings, key)
        if not isinstance(value, int) or value < (0 if key == "PUBLISH_MAX_RETRIES" else 1):
            errors.append(
                Error(
                    f"LINK_TRACKING['{key}'] must be a positive integer.", id="link_tracking.E006"
                )
            )
    errors.extend(check_swappable_models())
    for key in ("ACCOUNT_ACCESS_POLICY", "PRIVACY_REQUEST_PROCESSOR"):
        path = getattr(app_settings, key)
        try:
            import_string(path)
        except (ImportError, TypeError, ValueError) as exc:
            errors.append(
                Error(
                    f"LINK_TRACKING['{key}'] = {path!r} cannot be imported: {exc}",
                    hint="A dotted path to a class or callable, e.g. the default "
                    f"{DEFAULTS[key]!r}.",
                    id="link_tracking.E010",
                )
            )
    for key in (
        "API_PAGE_SIZE",
        "API_MAX_PAGE_SIZE",
        "BULK_CREATE_MAX_LINKS",
        "IMPORT_MAX_ROWS",
        "IMPORT_ASYNC_MAX_ROWS",
        "IMPORT_BATCH_SIZE",
        "IMPORT_JOB_MAX_ERRORS",
        "IMPORT_JOB_STUCK_AFTER_SECONDS",
        "IMPORT_JOB_MAX_ATTEMPTS",
        "IMPORT_JOB_RETENTION_DAYS",
        "SIGNED_URL_DEFAULT_TTL_SECONDS",
        "SIGNED_URL_MAX_TTL_SECONDS",
        "API_KEY_LAST_USED_INTERVAL_SECONDS",
    ):
        value = getattr(app_settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(
                Error(
                    f"LINK_TRACKING['{key}'] must be a positive integer.", id="link_tracking.E011"
                )
            )
    smallest, largest = app_settings.IMPORT_MAX_ROWS, app_settings.IMPORT_ASYNC_MAX_ROWS
    if isinstance(smallest, int) and isinstance(largest, int) and largest < smallest:
        errors.append(
            Error(
                f"LINK_TRACKING['IMPORT_ASYNC_MAX_ROWS'] ({largest}) is smaller than "
                f"IMPORT_MAX_ROWS ({smallest}): files longer than IMPORT_MAX_ROWS become "
                "import jobs of at most IMPORT_ASYNC_MAX_ROWS rows.",
                id="link_tracking.E011",
            )
        )
    for key in ("API_WRITE_THROTTLE_RATE", "API_BULK_THROTTLE_RATE"):
        rate = getattr(app_settings, key)
        if rate is not None and not _valid_rate(rate):
            errors.append(
                Error(
                    f"LINK_TRACKING['{key}'] = {rate!r} is not a throttle rate.",
                    hint="'<number>/<second|minute|hour|day>', e.g. '600/minute', or None.",
                    id="link_tracking.E012",
                )
            )
    errors.extend(_api_key_errors())
    if app_settings.SHORT_URL_SCHEME not in ("http", "https"):
        errors.append(
            Error(
                "LINK_TRACKING['SHORT_URL_SCHEME'] must be 'http' or 'https'.",
                id="link_tracking.E009",
            )
        )
    return errors


def _api_key_errors() -> list[CheckMessage]:
    """API_KEY_THROTTLE_RATES maps scopes to rates; API_KEY_PEPPER, when set, is long enough."""
    errors: list[CheckMessage] = []
    scopes = apps.get_model("link_tracking", "ApiKey").Scope.values
    rates = app_settings.API_KEY_THROTTLE_RATES
    if not isinstance(rates, dict):
        rates = {None: rates}
    for scope, rate in rates.items():
        if scope not in scopes:
            errors.append(
                Error(
                    f"LINK_TRACKING['API_KEY_THROTTLE_RATES'] names {scope!r}, not a scope.",
                    hint=f"A dict of scopes ({', '.join(scopes)}) to rates or None.",
                    id="link_tracking.E012",
                )
            )
        elif rate is not None and not _valid_rate(rate):
            errors.append(
                Error(
                    f"LINK_TRACKING['API_KEY_THROTTLE_RATES'][{scope!r}] = {rate!r} is not a "
                    "throttle rate.",
                    hint="'<number>/<second|minute|hour|day>', e.g. '600/minute', or None.",
                    id="link_tracking.E012",
                )
            )
    pepper = app_settings.API_KEY_PEPPER
    if pepper is not None and (not isinstance(pepper, str) or len(pepper) < 32):
        errors.append(
            Error(
                "LINK_TRACKING['API_KEY_PEPPER'] must be a string of at least 32 characters.",
                hint="e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))', or "
                "None to derive one from SECRET_KEY.",
                id="link_tracking.E013",
            )
        )
    return errors

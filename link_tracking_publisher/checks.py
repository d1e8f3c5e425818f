"""System checks: misconfiguration is reported at start-up, never discovered at publish time."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, SETTINGS, SWAPPABLE_MODELS, Setting, raw_value, swappable_model

_AMBIGUOUS = set("0O1IL")


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
    """Every declared setting through its parser (:data:`~.conf.DECLARATIONS`), the code the
    dotted paths name, and the rules between settings."""
    errors: list[CheckMessage] = []
    unknown = set(getattr(settings, "LINK_TRACKING", {})) - set(DEFAULTS)
    if unknown:
        errors.append(
            Error(
                f"Unknown LINK_TRACKING keys: {', '.join(sorted(unknown))}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="link_tracking.E003",
            )
        )
    valid: dict[str, Any] = {}
    for setting in SETTINGS.values():
        value = raw_value(setting)
        try:
            valid[setting.key] = setting.parse(value)
        except ValueError as exc:
            errors.append(
                Error(
                    f"{setting.label} = {value!r} {exc}.",
                    hint=f"The default is {setting.default!r} (docs/CONFIGURATION.md).",
                    id=setting.check_id,
                )
            )
            continue
        if setting.imports:
            errors.extend(_check_imports(setting, valid[setting.key]))
    errors.extend(check_swappable_models())
    errors.extend(_check_rules(valid))
    return errors


def _check_imports(setting: Setting, value: Any) -> list[CheckMessage]:
    paths = value if isinstance(value, list) else [] if value is None else [value]
    errors: list[CheckMessage] = []
    for path in paths:
        try:
            import_string(path)
        except (ImportError, TypeError, ValueError) as exc:
            errors.append(
                Error(
                    f"{setting.label} = {path!r} cannot be imported: {exc}",
                    hint="A dotted path to a class or callable, e.g. the default "
                    f"{setting.default!r}.",
                    id=setting.check_id,
                )
            )
    return errors


def _check_rules(valid: dict[str, Any]) -> list[CheckMessage]:
    """What no single setting's parser can see: the slug alphabet, and bounds between two."""
    errors: list[CheckMessage] = []
    alphabet = valid.get("SLUG_ALPHABET")
    if isinstance(alphabet, str):
        if (
            len(set(alphabet)) != len(alphabet)
            or alphabet != alphabet.upper()
            or not alphabet.isalnum()
            or len(alphabet) < 16
        ):
            errors.append(
                Error(
                    "LINK_TRACKING['SLUG_ALPHABET'] must be at least 16 distinct upper-case "
                    "letters or digits (the runtime upper-cases slugs).",
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
    errors.extend(_check_regions(valid))
    errors.extend(_check_api_key_scopes(valid))
    smallest, largest = valid.get("IMPORT_MAX_ROWS"), valid.get("IMPORT_ASYNC_MAX_ROWS")
    if smallest is not None and largest is not None and largest < smallest:
        errors.append(
            Error(
                f"LINK_TRACKING['IMPORT_ASYNC_MAX_ROWS'] ({largest}) is smaller than "
                f"IMPORT_MAX_ROWS ({smallest}): files longer than IMPORT_MAX_ROWS become "
                "import jobs of at most IMPORT_ASYNC_MAX_ROWS rows.",
                id="link_tracking.E011",
            )
        )
    return errors


def _check_regions(valid: dict[str, Any]) -> list[CheckMessage]:
    """E013: the secondary replica's settings contradict ``AWS_REGION`` or each other."""
    region = valid.get("SECONDARY_REGION")
    problems: list[tuple[str, str]] = []
    if region and region == valid.get("AWS_REGION"):
        problems.append(
            (
                f"LINK_TRACKING['SECONDARY_REGION'] is AWS_REGION itself ({region!r}).",
                "Name the region of the runtime table's other replica, or '' for one region.",
            )
        )
    if valid.get("SECONDARY_DYNAMODB_ENDPOINT_URL") and region == "":
        problems.append(
            (
                "LINK_TRACKING['SECONDARY_DYNAMODB_ENDPOINT_URL'] is set without SECONDARY_REGION.",
                "Name the secondary replica's region too.",
            )
        )
    if valid.get("PUBLISH_TO_SECONDARY") and region == "":
        problems.append(
            (
                "LINK_TRACKING['PUBLISH_TO_SECONDARY'] is on without SECONDARY_REGION.",
                "Name the secondary replica's region, or turn it off (the outbox then holds "
                "writes the primary cannot take).",
            )
        )
    secondary_queue = valid.get("SECONDARY_CLICK_EVENTS_QUEUE_URL")
    if secondary_queue and region == "":
        problems.append(
            (
                "LINK_TRACKING['SECONDARY_CLICK_EVENTS_QUEUE_URL'] is set without SECONDARY_REGION.",
                "Name the region the secondary queue is in (its clients are made there).",
            )
        )
    if secondary_queue and secondary_queue == valid.get("CLICK_EVENTS_QUEUE_URL"):
        problems.append(
            (
                "LINK_TRACKING['SECONDARY_CLICK_EVENTS_QUEUE_URL'] is CLICK_EVENTS_QUEUE_URL itself.",
                "Give the secondary region's queue (terraform output "
                "secondary_click_objects_queue_url), or '' for one region.",
            )
        )
    return [Error(message, hint=hint, id="link_tracking.E013") for message, hint in problems]


def _check_api_key_scopes(valid: dict[str, Any]) -> list[CheckMessage]:
    """E012: ``API_KEY_THROTTLE_RATES`` names only scopes an API key can hold."""
    rates = valid.get("API_KEY_THROTTLE_RATES") or {}
    scopes = apps.get_model("link_tracking", "ApiKey").Scope.values
    return [
        Error(
            f"LINK_TRACKING['API_KEY_THROTTLE_RATES'] names {scope!r}, not a scope.",
            hint=f"A dict of scopes ({', '.join(scopes)}) to rates or None.",
            id="link_tracking.E012",
        )
        for scope in rates
        if scope not in scopes
    ]

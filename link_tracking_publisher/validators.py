"""Field validation shared by the models, the service layer and (later) the API.

Each validator raises ``ValidationError`` with a message a person can act on; the models put
them on the right field, so every refusal names the field it is about.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from string import Template
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from link_tracking_runtime import applinks
from link_tracking_runtime.errors import InvalidRoutingRules
from link_tracking_runtime.record import (
    DYNAMIC_PARAMS,
    RESERVED_SLUGS,
    SLUG_MAX_LENGTH,
    canonical_slug,
    is_valid_slug,
)
from link_tracking_runtime.routing import compile_rules
from link_tracking_runtime.routing import (
    validate_routing_rules as contract_validate_routing_rules,
)
from link_tracking_runtime.signing import is_keyring_name

from .conf import app_settings
from .documents import UndecodedDocument, stored_document_problems

#: Variables a UTM template may use (``${name}``), filled in at publish time.
UTM_TEMPLATE_VARIABLES = (
    "slug",
    "campaign_id",
    "keyword",
    "channel",
    "short_code",
    "domain",
    "slug_type",
    "created_date",
)

logger = logging.getLogger(__name__)

_url_validator = URLValidator(schemes=["http", "https"])
_PARAM_NAME_RE = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
_HOST_RE = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+"
)
MAX_URL_LENGTH = 2048
MAX_PARAM_VALUE_LENGTH = 512


def validate_redirect_url(value: str) -> None:
    """An absolute ``http``/``https`` URL with a host: never ``javascript:``, ``data:`` or a
    relative path, which a redirect would turn into an attack or a broken page."""
    if not isinstance(value, str) or not value:
        raise ValidationError("Enter an absolute http or https URL.", code="invalid_url")
    if len(value) > MAX_URL_LENGTH:
        raise ValidationError(f"URLs are at most {MAX_URL_LENGTH} characters.", code="url_too_long")
    scheme = urlsplit(value.strip()).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError(
            f"Only absolute http and https URLs are allowed, not {scheme + ':' if scheme else 'a relative URL'}.",
            code="invalid_scheme",
        )
    if value != value.strip() or any(ch in value for ch in "\r\n\t"):
        raise ValidationError("URLs cannot contain whitespace or line breaks.", code="invalid_url")
    # Browsers read a backslash as '/', Python's urlsplit does not: in
    # https://evil.example\@good.example/ one sees the host evil.example, the other
    # good.example. Neither has any use in a redirect target.
    if "\\" in value:
        raise ValidationError(
            "URLs cannot contain backslashes; write %5C if you mean one.", code="backslash"
        )
    if "@" in urlsplit(value).netloc:
        raise ValidationError(
            "URLs cannot carry a user name or password (user@host).", code="credentials"
        )
    _url_validator(value)


def validate_signature_secret_ref(value: str) -> None:
    """A signing keyring's Secrets Manager *name* under ``SIGNING_KEYRING_PREFIX``: any other
    secret (a database password, the IP-hash key) must never become a signing key."""
    prefix = app_settings.SIGNING_KEYRING_PREFIX
    if not is_keyring_name(value, prefix):
        raise ValidationError(
            f"Name a signing keyring under {prefix!r}, e.g. {prefix}default.",
            code="invalid_keyring",
        )


def validate_domain_name(value: str) -> None:
    if value != value.lower() or value.endswith(".") or not _HOST_RE.fullmatch(value):
        raise ValidationError(
            "Enter a lower-case host name such as go.example.com (no scheme, port or path).",
            code="invalid_domain",
        )


def validate_slug(value: str) -> None:
    """A vanity slug: letters, digits, '-' and '_', starting with a letter or digit, not a
    reserved path. Compared case-insensitively (the runtime upper-cases slugs)."""
    canonical = canonical_slug(value)
    if canonical in RESERVED_SLUGS:
        raise ValidationError(
            f"'{value}' is reserved (the runtime answers /{value.lower()} itself).",
            code="reserved_slug",
        )
    if value != value.strip() or not is_valid_slug(value):
        raise ValidationError(
            f"A slug is 1 to {SLUG_MAX_LENGTH} ASCII letters, digits, '-' or '_', starting with a "
            "letter or digit.",
            code="invalid_slug",
        )


def validate_dynamic_param_allowlist(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Enter a list of parameter names.", code="invalid")
    unknown = [v for v in value if v not in DYNAMIC_PARAMS]
    if unknown:
        raise ValidationError(
            "Not an allowed dynamic parameter: %(unknown)s. Allowed: %(allowed)s.",
            code="invalid_dynamic_param",
            params={"unknown": ", ".join(unknown), "allowed": ", ".join(DYNAMIC_PARAMS)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("Each parameter may be listed once.", code="duplicate")


def template_variables(template: str) -> list[str]:
    """The variable names ``template`` uses; ``ValueError`` if its ``$`` syntax is broken."""
    tmpl = Template(template)
    if not tmpl.is_valid():
        raise ValueError("invalid placeholder")
    return tmpl.get_identifiers()


def validate_utm_params(value: Any, *, allow_null: bool = False) -> None:
    """A mapping of query param name → template string using ``${variable}`` placeholders.

    An unknown variable is refused here, when the template is saved, so it can never become
    a silent blank at publish time. With ``allow_null`` (link overrides), ``null`` removes a
    param set by the global policy or the campaign template.
    """
    if not isinstance(value, Mapping):
        raise ValidationError("Enter an object of parameter name → value.", code="invalid")
    errors: list[ValidationError] = []
    for name, template in value.items():
        if not isinstance(name, str) or not _PARAM_NAME_RE.fullmatch(name):
            errors.append(
                ValidationError(f"'{name}' is not a valid query parameter name.", code="invalid")
            )
            continue
        if name in DYNAMIC_PARAMS:
            errors.append(
                ValidationError(
                    f"'{name}' is set by the runtime for each click; add it to "
                    "dynamic_param_allowlist instead.",
                    code="dynamic_param",
                )
            )
            continue
        if template is None and allow_null:
            continue
        if not isinstance(template, str):
            errors.append(ValidationError(f"'{name}': values are strings.", code="invalid"))
            continue
        if len(template) > MAX_PARAM_VALUE_LENGTH:
            errors.append(
                ValidationError(
                    f"'{name}': values are at most {MAX_PARAM_VALUE_LENGTH} characters.",
                    code="too_long",
                )
            )
            continue
        try:
            used = template_variables(template)
        except ValueError:
            errors.append(
                ValidationError(
                    f"'{name}': invalid placeholder in '{template}'; write ${{variable}}, "
                    "or $$ for a literal $.",
                    code="invalid_template",
                )
            )
            continue
        unknown = [v for v in used if v not in UTM_TEMPLATE_VARIABLES]
        if unknown:
            errors.append(
                ValidationError(
                    f"'{name}': unknown template variable {', '.join(unknown)}. "
                    f"Available: {', '.join(UTM_TEMPLATE_VARIABLES)}.",
                    code="unknown_variable",
                )
            )
    if errors:
        raise ValidationError(errors)


def validate_utm_overrides(value: Any) -> None:
    """A link's ``utm_overrides``: like a template, and ``null`` removes an inherited param."""
    validate_utm_params(value, allow_null=True)


def validate_routing_rules(value: Any) -> None:
    """Routing rules in one of the contract's formats (ab_test, geo, time, device, language),
    checked with the same code the runtime routes with. The model, the API and the admin all
    use it."""
    try:
        contract_validate_routing_rules(value)
    except InvalidRoutingRules as exc:
        raise ValidationError(str(exc), code="invalid_routing_rules") from None
    except Exception as exc:
        # The contract promises InvalidRoutingRules for bad input; anything else is a contract
        # bug worth a log line, but it is still the user's input that is refused, never a 500.
        logger.exception("routing rules validator raised %s", type(exc).__name__)
        raise ValidationError(
            f"These are not valid routing rules ({type(exc).__name__}).",
            code="invalid_routing_rules",
        ) from None
    if value is None:
        return
    # The rules' URLs are redirect targets too: the same refusals as a destination.
    compiled = compile_rules(value)
    urls = [*compiled.targets.values(), *(v.url for v in compiled.variants if v.url)]
    for url in urls:
        try:
            validate_redirect_url(url)
        except ValidationError as exc:
            raise ValidationError(
                f"{url!r}: {' '.join(exc.messages)}", code="invalid_routing_rules"
            ) from None


#: The only port a click webhook URL may name (HTTPS's); with ``CLICK_WEBHOOK_ALLOW_HTTP``
#: (a local receiver in development) any port.
WEBHOOK_PORTS = (443,)


def is_internal_address(value: str) -> bool:
    """``value`` is an IP address that is not globally routable (private, loopback,
    link-local, reserved...), an IPv4-mapped IPv6 address judged as its IPv4 address.
    ``False`` for anything that is not an IP address."""
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])  # an IPv6 zone id is no help
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return not address.ipv4_mapped.is_global
    return not address.is_global


def is_internal_host(host: str) -> bool:
    """``host`` (a URL's host name) names the estate itself: ``localhost``, an internal
    suffix or a non-global IP address."""
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
        return True
    return is_internal_address(host)


def validate_webhook_url(value: str) -> None:
    """A click webhook URL: HTTPS on port 443 of a public host, with no user name, password or
    backslash (``LINK_TRACKING['CLICK_WEBHOOK_ALLOW_HTTP']`` lifts the scheme, port and host
    rules, for a local receiver in development). Webhooks are sent from inside the estate, so
    never to ``localhost`` or a private, loopback or link-local address; the host name is
    resolved again before each delivery (:mod:`.clicks.webhooks`)."""
    # The HTTP client reads a backslash as a path separator and the URL parser does not, so
    # in https://127.0.0.1:443\@example.com/ they see different hosts.
    if "\\" in value or any(ch in value for ch in " \r\n\t"):
        raise ValidationError(
            "Webhook URLs cannot contain backslashes or whitespace.", code="webhook_url"
        )
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise ValidationError(
            "Webhook URLs cannot carry a user name or password (user@host): verify the "
            "webhook-signature header instead.",
            code="webhook_credentials",
        )
    if app_settings.CLICK_WEBHOOK_ALLOW_HTTP:
        return
    if parts.scheme.lower() != "https":
        raise ValidationError("Use an https:// URL.", code="webhook_scheme")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and port not in WEBHOOK_PORTS:
        raise ValidationError("Use HTTPS's port (443, or none in the URL).", code="webhook_port")
    if is_internal_host(parts.hostname or ""):
        raise ValidationError("Use a public host, not a private address.", code="webhook_host")


def validate_apple_app_site_association(value: Any) -> None:
    """An Apple App Site Association document in Apple's documented format (the contract's
    :func:`~link_tracking_runtime.applinks.validate_apple_app_site_association`)."""
    if value is None:
        return
    errors = (
        stored_document_problems(value)
        if isinstance(value, UndecodedDocument)
        else applinks.validate_apple_app_site_association(value)
    )
    if errors:
        raise ValidationError(errors, code="invalid_apple_app_site_association")


def validate_assetlinks(value: Any) -> None:
    """A Digital Asset Links statement list (``assetlinks.json``) in Google's documented
    format (the contract's :func:`~link_tracking_runtime.applinks.validate_assetlinks`)."""
    if value is None:
        return
    errors = (
        stored_document_problems(value)
        if isinstance(value, UndecodedDocument)
        else applinks.validate_assetlinks(value)
    )
    if errors:
        raise ValidationError(errors, code="invalid_assetlinks")

"""App-link files of a short domain: the domain-level record the runtime serves them from.

iOS universal links and Android app links open a tapped link in the brand's app when the
domain publishes an Apple App Site Association document (``/.well-known/apple-app-site-
association``) and a Digital Asset Links statement list (``/.well-known/assetlinks.json``).
A domain's documents are one item of the runtime table, beside its links' records:
``PK = DOMAIN#{host}``, ``SK = APPLINKS`` (:func:`app_links_key`; a link's ``SK`` always starts
with ``SLUG#`` and its counter's with ``CLICKS#``, so the kinds never meet). The control plane
writes it (:func:`to_app_links_item`, conditionally on ``runtime_version`` as link records are)
and the runtime reads it back (:func:`from_app_links_item`) and serves each document as it is
stored: compact JSON text, ``Content-Type: application/json``.

The same record carries the domain's own **not-found page** (``not_found_url``): where the
runtime sends a visitor whose slug is no link of the domain (else its ``DEFAULT_FALLBACK_URL``).
Only an absolute http(s) URL of printable ASCII is taken; anything else reads as none.

A document that is cleared, or a domain that stops serving, leaves the record in place without
that document (a later, lower version can then never bring it back); the runtime answers a path
whose document is absent with 404, never with a redirect.

:func:`validate_apple_app_site_association` and :func:`validate_assetlinks` say what is wrong
with a document, against Apple's and Google's documented formats; the control plane refuses
such a document when it is saved.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from .errors import InvalidRecord
from .record import PK_PREFIX, canonical_host, make_pk
from .urls import is_http_url

__all__ = [
    "AASA_ATTRIBUTE",
    "AASA_PATH",
    "APP_LINKS_SK",
    "ASSETLINKS_ATTRIBUTE",
    "ASSETLINKS_PATH",
    "NOT_FOUND_URL_ATTRIBUTE",
    "DOCUMENT_MAX_BYTES",
    "DOCUMENT_MAX_DEPTH",
    "DOCUMENT_MAX_NODES",
    "PATH_ATTRIBUTES",
    "AppLinksRecord",
    "app_links_key",
    "bound_errors",
    "document_text",
    "from_app_links_item",
    "to_app_links_item",
    "validate_apple_app_site_association",
    "validate_assetlinks",
]

APP_LINKS_SK: Final = "APPLINKS"
AASA_PATH: Final = "/.well-known/apple-app-site-association"
ASSETLINKS_PATH: Final = "/.well-known/assetlinks.json"
AASA_ATTRIBUTE: Final = "apple_app_site_association"
ASSETLINKS_ATTRIBUTE: Final = "assetlinks"
NOT_FOUND_URL_ATTRIBUTE: Final = "not_found_url"
#: The path the runtime serves → the record attribute holding its document.
PATH_ATTRIBUTES: Final[Mapping[str, str]] = {
    AASA_PATH: AASA_ATTRIBUTE,
    ASSETLINKS_PATH: ASSETLINKS_ATTRIBUTE,
}
#: Apple reads at most 128 KB of an association file; the same bound keeps both documents
#: well inside DynamoDB's 400 KB item.
DOCUMENT_MAX_BYTES: Final = 128 * 1024
#: The deepest nesting of objects and lists a document may have (the document itself is 1;
#: Apple's format needs 5), and the most values (objects, lists, strings, numbers...) it may hold. Both are
#: checked by an iterative walk before anything recursive (JSON encoding, the admin's
#: rendering) sees the document: a deeply nested one would exhaust the recursion limit there.
DOCUMENT_MAX_DEPTH: Final = 20
DOCUMENT_MAX_NODES: Final = 10_000


def app_links_key(host: str) -> dict[str, str]:
    """The primary key of the app-links record of ``host`` (canonicalised here)."""
    return {"PK": make_pk(host), "SK": APP_LINKS_SK}


def document_text(document: Any) -> str:
    """A document as the record stores it and the runtime serves it: compact JSON, UTF-8
    characters kept, keys in the order given."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@dataclasses.dataclass(frozen=True, slots=True)
class AppLinksRecord:
    """The app-link documents of one domain (``None``: the domain serves no such file).

    Documents are JSON text (:func:`document_text`), so they reach the runtime byte for byte
    (no number turned into a Decimal and back)."""

    domain: str
    runtime_version: int
    apple_app_site_association: str | None = None
    assetlinks: str | None = None
    published_at_epoch: int | None = None
    #: Where a visitor goes whose slug is no link of the domain; ``None``: the runtime's
    #: ``DEFAULT_FALLBACK_URL``.
    not_found_url: str | None = None

    def document(self, path: str) -> str | None:
        """The document served at ``path`` (one of :data:`PATH_ATTRIBUTES`), if any."""
        attribute = PATH_ATTRIBUTES.get(path)
        if attribute is None:
            return None
        value: str | None = getattr(self, attribute)
        return value


def to_app_links_item(record: AppLinksRecord) -> dict[str, Any]:
    """The DynamoDB item of ``record`` (resource-layer form; absent documents omitted)."""
    item: dict[str, Any] = {
        **app_links_key(record.domain),
        "runtime_version": Decimal(record.runtime_version),
    }
    if record.published_at_epoch is not None:
        item["published_at_epoch"] = Decimal(record.published_at_epoch)
    for attribute in (AASA_ATTRIBUTE, ASSETLINKS_ATTRIBUTE, NOT_FOUND_URL_ATTRIBUTE):
        value = getattr(record, attribute)
        if value:
            item[attribute] = value
    return item


def _safe_url(value: str) -> str | None:
    """``value`` when it can be a ``Location`` as it is: an absolute http(s) URL of printable
    ASCII (no header injection, nothing to encode)."""
    if value.isascii() and value.isprintable() and " " not in value and is_http_url(value):
        return value
    return None


def _number(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidRecord(f"app-links attribute {name!r} is not a number")
    return int(value)


def from_app_links_item(item: Mapping[str, Any]) -> AppLinksRecord:
    """Read an app-links item back. Raises :class:`InvalidRecord` when its key is not an
    app-links key or a document is not a string; unknown attributes are ignored."""
    pk, sk = item.get("PK"), item.get("SK")
    if not isinstance(pk, str) or not pk.startswith(PK_PREFIX) or sk != APP_LINKS_SK:
        raise InvalidRecord(f"app-links key {pk!r}/{sk!r} is not DOMAIN#…/{APP_LINKS_SK}")
    documents: dict[str, str | None] = {}
    for attribute in (AASA_ATTRIBUTE, ASSETLINKS_ATTRIBUTE):
        value = item.get(attribute)
        if value is not None and not isinstance(value, str):
            raise InvalidRecord(f"app-links attribute {attribute!r} is not a string")
        documents[attribute] = value or None
    not_found = item.get(NOT_FOUND_URL_ATTRIBUTE)
    if not_found is not None and not isinstance(not_found, str):
        raise InvalidRecord(f"app-links attribute {NOT_FOUND_URL_ATTRIBUTE!r} is not a string")
    return AppLinksRecord(
        domain=canonical_host(pk[len(PK_PREFIX) :]),
        runtime_version=_number(item, "runtime_version") or 0,
        published_at_epoch=_number(item, "published_at_epoch"),
        not_found_url=_safe_url(not_found) if not_found else None,
        **documents,
    )


# --- validation ------------------------------------------------------------------------------

#: An Apple app ID: the 10-character team ID, a dot, the bundle ID.
_APP_ID_RE: Final = re.compile(r"[A-Z0-9]{10}\.[A-Za-z0-9][A-Za-z0-9.-]*")
#: A SHA-256 certificate fingerprint as Android's keytool prints it: 32 hex pairs and colons.
_FINGERPRINT_RE: Final = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){31}")
_ANDROID_PACKAGE_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")


def bound_errors(document: Any) -> list[str]:
    """What is past :data:`DOCUMENT_MAX_DEPTH` or :data:`DOCUMENT_MAX_NODES` in ``document``
    (``[]``: nothing), safe on any parsed JSON: walked without recursion and stopped at the first
    value past either, so the cost is bounded by the bounds, not by the document."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > DOCUMENT_MAX_NODES:
            return [f"More than {DOCUMENT_MAX_NODES} values; at most {DOCUMENT_MAX_NODES}."]
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > DOCUMENT_MAX_DEPTH:
            return [
                f"Nested deeper than {DOCUMENT_MAX_DEPTH} levels; at most {DOCUMENT_MAX_DEPTH}."
            ]
        stack.extend((child, depth + 1) for child in children)
    return []


def limit_errors(document: Any) -> list[str]:
    """What is past any of the document bounds (depth, values, bytes; ``[]``: nothing), safe on
    any parsed JSON: the size is measured only once the depth and the values are bounded."""
    return bound_errors(document) or _size_error(document)


def _size_error(document: Any) -> list[str]:
    size = len(document_text(document).encode("utf-8"))
    if size > DOCUMENT_MAX_BYTES:
        return [f"{size} bytes as compact JSON; at most {DOCUMENT_MAX_BYTES}."]
    return []


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def validate_apple_app_site_association(document: Any) -> list[str]:
    """What is wrong with an Apple App Site Association document (``[]``: nothing).

    Apple's format: an object whose ``applinks`` object has a ``details`` list; each detail
    names its app with ``appID`` (iOS 12 and earlier) or ``appIDs`` (iOS 13+), each
    ``TEAMID.bundle.id``, and says which URLs open it with ``paths`` (strings) or
    ``components`` (objects); ``applinks.apps``, when present, is the empty list older iOS
    versions expect. ``webcredentials`` and ``appclips``, when present, list ``apps``.
    Nested at most :data:`DOCUMENT_MAX_DEPTH` deep, with at most :data:`DOCUMENT_MAX_NODES`
    values and :data:`DOCUMENT_MAX_BYTES` bytes.
    """
    shape = bound_errors(document)
    if shape:
        return shape
    if not isinstance(document, dict):
        return ["Must be a JSON object with an 'applinks' key."]
    applinks = document.get("applinks")
    if not isinstance(applinks, dict):
        return ["'applinks' is required and must be an object."]
    errors: list[str] = []
    if "apps" in applinks and applinks["apps"] != []:
        errors.append("'applinks.apps' must be an empty list (or left out).")
    details = applinks.get("details")
    if not isinstance(details, list) or not details:
        return [*errors, "'applinks.details' is required and must be a non-empty list."]
    for index, detail in enumerate(details):
        where = f"applinks.details[{index}]"
        if not isinstance(detail, dict):
            errors.append(f"'{where}' must be an object.")
            continue
        if "appIDs" in detail:
            ids = detail["appIDs"]
            if not _string_list(ids) or not ids:
                errors.append(f"'{where}.appIDs' must be a non-empty list of app IDs.")
                ids = []
        elif "appID" in detail:
            ids = [detail["appID"]] if isinstance(detail["appID"], str) else [None]
        else:
            errors.append(f"'{where}' needs 'appIDs' (or 'appID').")
            ids = []
        for app_id in ids:
            if not isinstance(app_id, str) or not _APP_ID_RE.fullmatch(app_id):
                errors.append(
                    f"'{where}': {app_id!r} is not an app ID (TEAMID.bundle.id, a team ID "
                    "of 10 upper-case letters and digits)."
                )
        paths, components = detail.get("paths"), detail.get("components")
        if paths is None and components is None:
            errors.append(f"'{where}' needs 'components' (or 'paths').")
        if paths is not None and not (isinstance(paths, list) and _string_list(paths)):
            errors.append(f"'{where}.paths' must be a list of strings.")
        if components is not None and not (
            isinstance(components, list) and all(isinstance(c, dict) for c in components)
        ):
            errors.append(f"'{where}.components' must be a list of objects.")
    for section in ("webcredentials", "appclips"):
        if section in document:
            value = document[section]
            if not isinstance(value, dict) or not _string_list(value.get("apps")):
                errors.append(f"'{section}' must be an object with an 'apps' list of app IDs.")
    return errors or _size_error(document)


def validate_assetlinks(document: Any) -> list[str]:
    """What is wrong with a Digital Asset Links ``assetlinks.json`` (``[]``: nothing).

    Google's format: a non-empty list of statements, each with a ``relation`` list (such as
    ``delegate_permission/common.handle_all_urls``) and a ``target``: an Android app
    (``namespace`` ``android_app``, ``package_name``, ``sha256_cert_fingerprints``: upper-case
    hex pairs joined by colons) or a web site (``namespace`` ``web``, ``site``). Bounded as
    :func:`validate_apple_app_site_association` is.
    """
    shape = bound_errors(document)
    if shape:
        return shape
    if not isinstance(document, list) or not document:
        return ["Must be a non-empty JSON list of statements."]
    errors: list[str] = []
    for index, statement in enumerate(document):
        where = f"[{index}]"
        if not isinstance(statement, dict):
            errors.append(f"Statement {where} must be an object.")
            continue
        relation = statement.get("relation")
        if not _string_list(relation) or not relation:
            errors.append(f"Statement {where}: 'relation' must be a non-empty list of strings.")
        target = statement.get("target")
        if not isinstance(target, dict):
            errors.append(f"Statement {where}: 'target' is required and must be an object.")
            continue
        namespace = target.get("namespace")
        if namespace == "android_app":
            package = target.get("package_name")
            if not isinstance(package, str) or not _ANDROID_PACKAGE_RE.fullmatch(package):
                errors.append(
                    f"Statement {where}: 'target.package_name' must be an Android package name."
                )
            prints = target.get("sha256_cert_fingerprints")
            if (
                not _string_list(prints)
                or not prints
                or not all(_FINGERPRINT_RE.fullmatch(p) for p in prints)
            ):
                errors.append(
                    f"Statement {where}: 'target.sha256_cert_fingerprints' must be a non-empty "
                    "list of SHA-256 fingerprints (32 upper-case hex pairs joined by ':')."
                )
        elif namespace == "web":
            if not isinstance(target.get("site"), str) or not target["site"]:
                errors.append(f"Statement {where}: a 'web' target needs 'site'.")
        else:
            errors.append(
                f"Statement {where}: 'target.namespace' must be 'android_app' (or 'web')."
            )
    return errors or _size_error(document)

"""link_tracking_runtime: the contract between the control plane and the redirect runtime.

Pure Python with no dependencies: the runtime record and its keys (:mod:`.record`), the
low-level item codec (:mod:`.wire`), the table definition (:mod:`.table`), the click event
(:mod:`.events`), the signed-link scheme (:mod:`.signing`), the redirect URL builder
(:mod:`.urls`), the routing rules (:mod:`.routing`), bots and link previews (:mod:`.bots`), the
whole click decision (:mod:`.click`) and the shared test vectors (:mod:`.vectors`).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from .errors import ContractError, InvalidRecord, InvalidRoutingRules, InvalidSignature
from .events import CLICK_EVENT_COLUMNS, ClickEvent, decode_event, encode_event
from .policy import check_policy
from .record import (
    ATTRIBUTE_TYPES,
    DYNAMIC_PARAMS,
    FORWARDED_FROM_REQUEST_PARAMS,
    GENERATED_PARAMS,
    RESERVED_SLUGS,
    RuntimeRecord,
    canonical_host,
    canonical_slug,
    counter_key,
    from_item,
    is_reserved_slug,
    is_valid_slug,
    item_key,
    make_pk,
    make_sk,
    plain,
    to_item,
)
from .routing import (
    ACCEPT_LANGUAGE_HEADER,
    RoutingContext,
    RoutingDecision,
    compile_rules,
    device_from_user_agent,
    route,
    validate_routing_rules,
)
from .signing import Keyring, SigningKey, keyring_from_secret_string, sign_url, verify
from .table import CAMPAIGN_INDEX_NAME, DEFAULT_TABLE_NAME, create_table_kwargs
from .urls import GEO_COUNTRY_HEADER, build_redirect_url, forwarded_params, parse_request_query

#: The installed distribution's version (pyproject.toml's ``version``, its one source), shared
#: by the three packages it ships; a local version saying so when the sources are imported from
#: a tree that is not installed (mypy's django plugin, in the compiled build, imports the app so).
try:
    __version__ = _distribution_version("link-tracking")
except PackageNotFoundError:
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "ACCEPT_LANGUAGE_HEADER",
    "ATTRIBUTE_TYPES",
    "CAMPAIGN_INDEX_NAME",
    "CLICK_EVENT_COLUMNS",
    "DEFAULT_TABLE_NAME",
    "DYNAMIC_PARAMS",
    "GEO_COUNTRY_HEADER",
    "FORWARDED_FROM_REQUEST_PARAMS",
    "GENERATED_PARAMS",
    "RESERVED_SLUGS",
    "ClickEvent",
    "ContractError",
    "InvalidRecord",
    "InvalidRoutingRules",
    "InvalidSignature",
    "Keyring",
    "RoutingContext",
    "RoutingDecision",
    "RuntimeRecord",
    "SigningKey",
    "build_redirect_url",
    "canonical_host",
    "canonical_slug",
    "check_policy",
    "compile_rules",
    "counter_key",
    "create_table_kwargs",
    "decode_event",
    "device_from_user_agent",
    "encode_event",
    "forwarded_params",
    "from_item",
    "is_reserved_slug",
    "is_valid_slug",
    "item_key",
    "keyring_from_secret_string",
    "make_pk",
    "make_sk",
    "parse_request_query",
    "plain",
    "route",
    "sign_url",
    "to_item",
    "validate_routing_rules",
    "verify",
]

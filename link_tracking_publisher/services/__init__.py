"""The control plane's Python API: what a host project calls to change links, domains and
campaigns the way the API and the admin do (versioned, outboxed, published after commit).

Each name below is re-exported from the module of its aggregate, where it is documented; the
modules' other names are the app's own. ``docs/INTEGRATION.md`` ("The Python API") lists them.
"""

from __future__ import annotations

from ..message_links import sms_urls
from .api_keys import create_api_key, revoke_api_key, rotate_api_key
from .bulk import BulkCreateError, bulk_create_links
from .campaigns import create_campaign, update_campaign
from .crm_mappings import create_mapping, delete_mapping, update_mapping
from .domains import (
    DnsLookupError,
    check_domain_ownership,
    create_domain,
    expire_domain_claims,
    request_ownership_check,
    update_domain,
    verify_domain_by_hand,
)
from .errors import ExternalServiceError, InvalidState
from .import_jobs import start_import
from .link_import import ImportResult, RowError, import_links
from .links import create_link, republish_link, set_link_active, update_link
from .preview import SimulatedClick, preview_link
from .privacy import create_privacy_request, retry_privacy_request
from .publishing import retry_failed_publish
from .qr import link_qr_code
from .signed_urls import signed_url
from .utm_policy import update_global_utm_policy
from .webhooks import enable_webhook

__all__ = [
    "BulkCreateError",
    "DnsLookupError",
    "ExternalServiceError",
    "ImportResult",
    "InvalidState",
    "RowError",
    "SimulatedClick",
    "bulk_create_links",
    "check_domain_ownership",
    "create_api_key",
    "create_campaign",
    "create_domain",
    "create_link",
    "create_mapping",
    "create_privacy_request",
    "delete_mapping",
    "enable_webhook",
    "expire_domain_claims",
    "import_links",
    "link_qr_code",
    "preview_link",
    "republish_link",
    "request_ownership_check",
    "retry_failed_publish",
    "retry_privacy_request",
    "revoke_api_key",
    "rotate_api_key",
    "set_link_active",
    "signed_url",
    "sms_urls",
    "start_import",
    "update_campaign",
    "update_domain",
    "update_global_utm_policy",
    "update_link",
    "update_mapping",
    "verify_domain_by_hand",
]

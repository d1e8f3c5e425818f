"""Example request bodies of the API, one per operation that takes a JSON body: shown in the
OpenAPI schema (``schema/``, the interactive page) and in ``docs/INTEGRATION.md``.

The ids are placeholders (:data:`ACCOUNT_ID`, :data:`DOMAIN_ID`, …) for objects of the caller's
own; ``tests/api/test_examples.py`` sends every body, its ids replaced by real ones, and expects
the API to accept it, so an example cannot drift from what the API takes.
"""

from __future__ import annotations

from typing import Any, Final

from drf_spectacular.utils import OpenApiExample

__all__ = ["EXAMPLES", "ACCOUNT_ID", "CAMPAIGN_ID", "CRM_CAMPAIGN_ID", "DOMAIN_ID", "request"]

#: Placeholder ids in the bodies below.
ACCOUNT_ID: Final = 42
CRM_CAMPAIGN_ID: Final = 7
DOMAIN_ID: Final = "0d1e4f0a-6a3b-4c55-9d1e-2f6a1b7c8d90"
CAMPAIGN_ID: Final = "5b2c8a1e-3f4d-4e6a-8b9c-0d1e2f3a4b5c"

#: ``operation -> (summary, body)``; the operation names the view and its action.
EXAMPLES: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "domains.create": (
        "A domain for SMS links",
        {"account": ACCOUNT_ID, "domain_name": "go.example.com", "purpose": "sms"},
    ),
    "domains.partial_update": ("Take a domain out of service", {"active": False}),
    "campaigns.create": (
        "A campaign with a UTM template its links inherit",
        {
            "account": ACCOUNT_ID,
            "campaign_id": "SPRING26",
            "name": "Spring sale",
            "utm_template": {"utm_source": "sms", "utm_campaign": "${campaign_id}"},
            "start_date": "2026-03-01",
            "end_date": "2026-04-30",
        },
    ),
    "campaigns.partial_update": ("End a campaign early", {"end_date": "2026-04-15"}),
    "tags.create": (
        "A tag for one agency's links",
        {"account": ACCOUNT_ID, "name": "agency-north", "colour": "#1f77b4"},
    ),
    "tags.partial_update": ("Rename a tag", {"name": "agency-north-2027"}),
    "crm-mappings.create": (
        "Attribute a campaign's clicks to a CRM campaign",
        {"crm_campaign": CRM_CAMPAIGN_ID, "start_date": "2026-03-01"},
    ),
    "crm-mappings.partial_update": ("Stop attributing", {"is_active": False}),
    "links.create": (
        "An SMS link that forwards the message id",
        {
            "account": ACCOUNT_ID,
            "domain": DOMAIN_ID,
            "campaign": CAMPAIGN_ID,
            "destination_url": "https://shop.example.com/spring",
            "channel": "sms",
            "dynamic_param_allowlist": ["click_id", "sms_msg_id"],
            "reason": "spring launch",
        },
    ),
    "links.partial_update": (
        "A new destination, with why",
        {"destination_url": "https://shop.example.com/spring-v2", "reason": "new landing page"},
    ),
    "links.bulk": (
        "One link per keyword",
        {
            "account": ACCOUNT_ID,
            "domain": DOMAIN_ID,
            "campaign": CAMPAIGN_ID,
            "keywords": ["STORE-PARIS", "STORE-LYON"],
            "destination_url": "https://shop.example.com/stores",
            "channel": "sms",
        },
    ),
    "utm-policy.partial_update": (
        "UTM parameters every link gets unless its campaign or itself says otherwise",
        {"default_utm_params": {"utm_source": "link-tracking", "utm_medium": "${channel}"}},
    ),
    "privacy-requests.create": (
        "Erase what is kept about one SMS message",
        {
            "account": ACCOUNT_ID,
            "request_type": "erasure",
            "subject_type": "sms_msg_id",
            "subject_value": "777",
        },
    ),
    "webhooks.create": (
        "Human clicks of the account's links, signed",
        {
            "account": ACCOUNT_ID,
            "url": "https://crm.example.com/hooks/link-clicks",
            "description": "CRM journeys",
        },
    ),
    "webhooks.partial_update": ("Pause a webhook", {"active": False}),
}


def request(operation: str) -> list[OpenApiExample]:
    """The schema's request example of ``operation`` (a key of :data:`EXAMPLES`)."""
    summary, body = EXAMPLES[operation]
    return [OpenApiExample(operation, summary=summary, value=body, request_only=True)]

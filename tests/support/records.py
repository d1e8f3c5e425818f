"""Runtime records for tests, written with the contract."""

from __future__ import annotations

from typing import Any

from link_tracking_runtime import RuntimeRecord, to_item

HOST = "go.example.com"


def record(slug: str = "ABC123", **fields: Any) -> RuntimeRecord:
    values: dict[str, Any] = {
        "domain": HOST,
        "slug": slug,
        "link_id": f"link-{slug.lower()}",
        "destination_url": f"https://shop.example.com/{slug.lower()}",
        "fallback_url": f"https://{HOST}/disabled",
        "active": True,
        "runtime_version": 1,
        "campaign_id": "SPRING26",
        "channel": "sms",
    }
    values.update(fields)
    # The contract's type is a tuple, which the compiled build enforces; tests may write a list.
    if isinstance(values.get("dynamic_param_allowlist"), list):
        values["dynamic_param_allowlist"] = tuple(values["dynamic_param_allowlist"])
    return RuntimeRecord(**values)


def item(slug: str = "ABC123", **fields: Any) -> dict[str, Any]:
    return to_item(record(slug, **fields))

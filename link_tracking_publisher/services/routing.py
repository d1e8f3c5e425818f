"""Routing rules checked before they reach the model, for the edges (API, admin)."""

from __future__ import annotations

from typing import Any

from link_tracking_runtime.errors import ContractError
from link_tracking_runtime.routing import validate_routing_rules

__all__ = ["routing_rules_problem"]


def routing_rules_problem(rules: Any) -> str | None:
    """Why ``rules`` are not valid routing rules, or ``None`` when they are.

    The contract's validator is meant to raise only ``InvalidRoutingRules``, but some input
    escapes it (an integer too large for a float makes it raise ``OverflowError``); that is
    still bad input, and must be answered as such, never as a server error.
    """
    try:
        validate_routing_rules(rules)
    except ContractError as exc:
        return str(exc)
    except Exception as exc:
        return f"These are not valid routing rules ({type(exc).__name__})."
    return None

"""The contract's exceptions: one base class, so callers can catch everything it raises."""

from __future__ import annotations

__all__ = ["ContractError", "InvalidRecord", "InvalidSignature", "InvalidRoutingRules"]


class ContractError(Exception):
    """Base class of every error the contract package raises."""


class InvalidRecord(ContractError):
    """An item that is not a valid runtime record (a required attribute missing or mistyped)."""


class InvalidSignature(ContractError):
    """A signing key or keyring that cannot be used (empty secret, unparseable secret string)."""


class InvalidRoutingRules(ContractError):
    """Routing rules that do not follow any of the documented rule formats."""

"""The host's Python API: ``link_tracking_publisher.services.__all__``, each name importable,
documented where it is defined, and listed in the integration guide."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from link_tracking_publisher import services

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "INTEGRATION.md"


def _guide_section() -> str:
    text = GUIDE.read_text()
    start = text.index("## The Python API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


#: Modules below the services that the Python API re-exports from: the app's errors, and the
#: per-message links the models call too (``Link.get_sms_url``).
BELOW_THE_SERVICES = {"link_tracking_publisher.errors", "link_tracking_publisher.message_links"}


def test_every_name_is_importable_from_its_service_module() -> None:
    assert services.__all__ == sorted(set(services.__all__))
    for name in services.__all__:
        value = getattr(services, name)
        module = value.__module__
        assert module.startswith("link_tracking_publisher.services.") or (
            module in BELOW_THE_SERVICES
        ), name
        # The same object its aggregate's module defines (a re-export, not a copy).
        assert getattr(importlib.import_module(module), name) is value


def _own_docstring(value: object) -> str:
    # A class's own (``__doc__`` would be a base class's when it has none); a function's.
    doc = vars(value).get("__doc__") if isinstance(value, type) else value.__doc__
    return (doc or "").strip()


def test_every_name_has_a_docstring_of_its_own() -> None:
    assert [name for name in services.__all__ if not _own_docstring(getattr(services, name))] == []


def test_the_integration_guide_lists_exactly_the_python_api() -> None:
    listed = set(re.findall(r"`([A-Za-z_]+)`", _guide_section()))
    assert set(services.__all__) <= listed
    # What the section names in code that is a service is in the API (no stale names).
    module_names = {
        name
        for name in listed
        if not name.startswith("_")
        and hasattr(services, name)
        and not isinstance(getattr(services, name), type(services))
    }
    assert module_names <= set(services.__all__)

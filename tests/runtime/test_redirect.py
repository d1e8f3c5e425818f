"""Click ids."""

from __future__ import annotations

import uuid

import pytest

from runtime_service.app import new_click_id


def test_click_ids_are_random_version_4_uuids() -> None:
    ids = {new_click_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in list(ids)[:50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def test_a_forked_worker_gets_its_own_id_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    import runtime_service.app as app_module

    source = app_module._IdSource()
    monkeypatch.setattr(app_module.os, "getpid", lambda: 1000)
    parent = [source.bits() for _ in range(3)]
    monkeypatch.setattr(app_module.os, "getpid", lambda: 1001)  # as after a fork
    child = [source.bits() for _ in range(3)]
    assert not set(parent) & set(child)

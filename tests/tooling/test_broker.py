"""The devsite's filesystem broker writes each message atomically and survives an empty
message file (kombu's own transport crashed the worker on either: a consumer could take a file
before its producer had written it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection

from devsite.broker import Transport


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Any]:
    folder = tmp_path / "out"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    (tmp_path / "control").mkdir()
    with Connection(settings.CELERY_BROKER_URL, transport_options=options) as connection:
        yield connection.default_channel


def test_filesystem_urls_use_the_atomic_transport() -> None:
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    assert Connection(settings.CELERY_BROKER_URL).transport_cls == "filesystem"
    assert isinstance(Connection(settings.CELERY_BROKER_URL).transport, Transport)


def test_a_message_appears_whole_or_not_at_all(channel: Any) -> None:
    folder = Path(channel.data_folder_out)
    channel._put("celery", {"body": "x" * 10_000})
    [name] = [p.name for p in folder.iterdir()]
    assert name.endswith(".celery.msg") and not name.startswith(".")  # no partial file left
    assert channel._get("celery") == {"body": "x" * 10_000}


def test_a_partial_file_is_never_taken_and_an_empty_one_does_not_stop_the_consumer(
    channel: Any,
) -> None:
    folder = Path(channel.data_folder_out)
    (folder / ".partial-1_x.celery.msg").write_bytes(b'{"body": "half')  # being written
    (folder / "0_empty.celery.msg").write_bytes(b"")  # left by a producer killed mid-write
    channel._put("celery", {"body": "next"})
    with pytest.raises(Empty):
        channel._get("celery")  # the empty file: dropped, no JSONDecodeError
    assert channel._get("celery") == {"body": "next"}
    with pytest.raises(Empty):
        channel._get("celery")  # the partial file is never taken
    assert (folder / ".partial-1_x.celery.msg").exists()

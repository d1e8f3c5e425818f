from __future__ import annotations

import os
import time
from pathlib import Path

from runtime_service.journal import CLAIM_TIMEOUT_SECONDS, Journal


def test_append_claim_read_done(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    assert journal.claim() is None
    journal.append([b'{"a":1}\n', b'{"a":2}'])
    journal.append([b'{"a":3}\n'])
    assert journal.count_records() == 3
    first = journal.claim()
    assert first is not None
    assert Journal.read(first) == [b'{"a":1}\n', b'{"a":2}\n']  # oldest first
    Journal.done(first)
    second = journal.claim()
    assert second is not None and Journal.read(second) == [b'{"a":3}\n']
    assert journal.claim() is None  # claimed segments are not handed out twice
    journal.release(second)
    again = journal.claim()
    assert again is not None and Journal.read(again) == [b'{"a":3}\n']
    Journal.done(again)
    assert journal.count_records() == 0 and not journal.has_pending()


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([b"x\n"] * 10)
    assert [p.suffix for p in tmp_path.iterdir()] == [".ndjson"]


def test_an_abandoned_claim_is_taken_over(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([b'{"a":1}\n'])
    claimed = journal.claim()
    assert claimed is not None
    assert journal.claim() is None
    old = time.time() - CLAIM_TIMEOUT_SECONDS - 1
    os.utime(claimed, (old, old))
    taken = journal.claim()
    assert taken is not None and Journal.read(taken) == [b'{"a":1}\n']

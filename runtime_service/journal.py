"""The local NDJSON journal of click events that could not be delivered yet.

Each spill is one *segment* file, written to a temporary name, flushed to disk and renamed,
so a segment is either complete or absent. Replay *claims* a segment by renaming it (atomic,
so of several worker processes sharing the directory exactly one gets it), sends its
records, and deletes it. A claim left behind by a process that died is taken over after
:data:`CLAIM_TIMEOUT_SECONDS`. Delivery is at least once: a segment re-sent after a crash can
repeat events, which carry a unique ``event_id`` for downstream de-duplication.

All methods block on the file system; the emitter calls them off the event loop.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

__all__ = ["CLAIM_TIMEOUT_SECONDS", "Journal"]

logger = logging.getLogger(__name__)

CLAIM_TIMEOUT_SECONDS: Final = 300.0
_SUFFIX: Final = ".ndjson"
_CLAIMED: Final = ".claimed"


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sequence = itertools.count()

    def append(self, records: Sequence[bytes]) -> Path | None:
        """Write ``records`` (each one NDJSON line) as a new segment; its path."""
        if not records:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._sequence):06d}"
        temporary = self.directory / f".{name}.tmp"
        final = self.directory / f"{name}{_SUFFIX}"
        with open(temporary, "wb") as segment:
            segment.write(b"".join(r if r.endswith(b"\n") else r + b"\n" for r in records))
            segment.flush()
            os.fsync(segment.fileno())
        os.replace(temporary, final)
        return final

    def pending(self) -> list[Path]:
        """Segments waiting for replay, oldest first (claimed ones excluded)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))

    def has_pending(self) -> bool:
        return bool(self.pending()) or bool(self._abandoned_claims())

    def claim(self) -> Path | None:
        """Take the oldest segment for replay (or an abandoned claim); ``None`` if none."""
        for claimed in self._abandoned_claims():
            mine = claimed.with_name(f"{claimed.name.split(_CLAIMED)[0]}{_CLAIMED}-{os.getpid()}")
            try:
                os.rename(claimed, mine)
            except FileNotFoundError:
                continue  # another process took it over first
            _stamp(mine)
            return mine
        for segment in self.pending():
            claimed = segment.with_name(f"{segment.name}{_CLAIMED}-{os.getpid()}")
            try:
                os.rename(segment, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            _stamp(claimed)
            return claimed
        return None

    @staticmethod
    def read(segment: Path) -> list[bytes]:
        """The records of a segment (a torn last line, impossible with rename, is skipped)."""
        data = segment.read_bytes()
        return [line + b"\n" for line in data.split(b"\n") if line.strip()]

    @staticmethod
    def done(segment: Path) -> None:
        segment.unlink(missing_ok=True)

    def release(self, segment: Path) -> None:
        """Give a claimed segment back unsent, for a later replay."""
        original = segment.name.split(_CLAIMED)[0]
        os.replace(segment, self.directory / original)

    def _abandoned_claims(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        cutoff = time.time() - CLAIM_TIMEOUT_SECONDS
        abandoned = []
        for path in self.directory.iterdir():
            if _CLAIMED in path.name:
                try:
                    if path.stat().st_mtime < cutoff:
                        abandoned.append(path)
                except FileNotFoundError:
                    continue
        return sorted(abandoned)

    def count_records(self) -> int:
        """Records waiting in the journal (claimed segments included): for tests and ops."""
        if not self.directory.is_dir():
            return 0
        total = 0
        for path in self.directory.iterdir():
            if path.name.endswith(_SUFFIX) or _CLAIMED in path.name:
                total += len(self.read(path))
        return total


def _stamp(claimed: Path) -> None:
    """Date a claim by the clock :meth:`Journal._abandoned_claims` compares it with
    (``time.time``), not by the file system's own, so the takeover reads one clock."""
    now = time.time()
    os.utime(claimed, (now, now))

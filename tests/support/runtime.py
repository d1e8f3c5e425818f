"""Build the runtime for tests: settings, fakes, an HTTP client over ASGI."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from link_tracking_runtime.events import ClickEvent, decode_event
from runtime_service.app import Backends, RuntimeApp, create_app
from runtime_service.config import Settings

from .fakes import FakeFirehose, FakeSecrets, FakeTable, ManualClock, no_sleep

if TYPE_CHECKING:
    import httpx

DEFAULT_FALLBACK = "https://www.example.com/link-unavailable"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        environment="development",
        default_fallback_url=DEFAULT_FALLBACK,
        click_events_file=tmp_path / "click-events.ndjson",
        event_journal_dir=tmp_path / "journal",
        rate_limit_per_minute=0,
        ip_hash_key=b"test-ip-hash-key-0123456789",
        metrics_interval_seconds=3600.0,
        event_flush_interval_seconds=0.01,
    ).replace(**overrides)


def sequential_ids(prefix: str = "c0ffee00-0000-4000-8000-") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):012d}"


class Harness:
    """The app with fakes, and what a test asserts on."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        items: Iterable[Mapping[str, Any]] = (),
        settings: Mapping[str, Any] | None = None,
        clock: ManualClock | None = None,
        click_ids: Callable[[], str] | None = None,
        firehose: FakeFirehose | None = None,
        secrets: FakeSecrets | None = None,
        fallback: FakeTable | None = None,
    ) -> None:
        self.clock = clock or ManualClock()
        self.table = FakeTable(list(items))
        #: The other region's replica (``Backends.fallback_records``), when given.
        self.fallback = fallback
        self.firehose = firehose
        self.secrets = secrets or FakeSecrets()
        self.settings = make_settings(tmp_path, **(settings or {}))
        self.metrics_lines: list[str] = []
        #: Metric counters a test snapshots before shutdown flushes them.
        self.counted: dict[str, Any] = {}
        self.app: RuntimeApp = create_app(
            self.settings,
            clock=self.clock,
            click_ids=click_ids or sequential_ids(),
            backends=Backends(self.table, self.table, self.secrets, firehose, fallback),
            sleep=no_sleep,
        )

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        # Imported here: the scale benchmark builds the runtime with this module in a process
        # without httpx, as the runtime's image has none (benchmarks/scale_bench.py).
        import httpx

        async with self.app.running():
            transport = httpx.ASGITransport(app=self.app, client=("203.0.113.7", 50000))
            async with httpx.AsyncClient(
                transport=transport, base_url="https://go.example.com", follow_redirects=False
            ) as client:
                yield client

    def events(self) -> list[ClickEvent]:
        """Every click event delivered: to the fake Firehose, else to the NDJSON file."""
        if self.firehose is not None:
            return [decode_event(r) for r in self.firehose.records]
        path = self.settings.click_events_file
        if not path.exists():
            return []
        return [decode_event(line) for line in path.read_bytes().splitlines() if line.strip()]

    def journaled(self) -> list[dict[str, Any]]:
        """Events in the journal now (a segment replayed away while we look is skipped)."""
        entries = []
        for segment in sorted(self.settings.event_journal_dir.glob("*")):
            try:
                data = segment.read_bytes()
            except FileNotFoundError:
                continue
            entries += [json.loads(line) for line in data.splitlines() if line.strip()]
        return entries

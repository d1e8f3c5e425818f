"""Concurrent HTTP load on a runtime process, and what tests read back from it afterwards:
the click ids the runtime answered with, its EMF counters, its journal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Outcome",
    "click_id",
    "drive",
    "emf_counters",
    "journal_ids",
    "poll",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """One request: its path, the status (``None``: no answer) and ``Location``, or the error."""

    index: int
    path: str
    status: int | None
    location: str | None = None
    error: str | None = None
    #: Seconds from sending the request to its answer (or error).
    seconds: float = 0.0


async def drive(
    base_url: str,
    paths: Iterable[str],
    *,
    headers: Mapping[str, str],
    concurrency: int = 16,
    before: Mapping[int, Callable[[], object]] | None = None,
    stop_on_error: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    rate: float | None = None,
    until: Callable[[], bool] | None = None,
) -> list[Outcome]:
    """GET every path with ``concurrency`` requests in flight, one keep-alive connection each.

    A plain HTTP/1.1 client on asyncio streams (httpx manages about 300 requests/s at this
    concurrency, which would make the client the bottleneck of every test). ``before[i]()``
    runs just before request ``i`` is sent (the others keep going), to switch a fault on or off
    under load. A transport error is recorded, not raised, and the next request opens a new
    connection; once ``stop_on_error()`` is true, an error stops that worker (a server that is
    shutting down). With ``rate``, request ``i`` is not sent before ``i / rate`` seconds from
    the start (a steady load spread over time, so a fault lasts a while). With ``until``, the
    load stops once it returns true (asked every 50 requests; ``paths`` may be endless).
    """
    target = urlsplit(base_url)
    address = (target.hostname or "127.0.0.1", target.port or 80)
    fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    queue = iter(enumerate(paths))
    actions = dict(before or {})
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    stopped: list[int] = []

    async def worker() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for index, path in queue:
                if until is not None and (stopped or index % 50 == 0 and until()):
                    stopped.append(index)
                    return
                action = actions.pop(index, None)
                if action is not None:
                    action()
                if rate is not None:
                    await asyncio.sleep(start + index / rate - time.perf_counter())
                sent = time.perf_counter()
                try:
                    if connection is None:
                        connection = await asyncio.open_connection(*address)
                    reader, writer = connection
                    writer.write(f"GET {path} HTTP/1.1\r\n{fixed}\r\n".encode("latin-1"))
                    status, location = await asyncio.wait_for(_read_response(reader), timeout)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    seconds = time.perf_counter() - sent
                    outcomes.append(Outcome(index, path, None, None, type(exc).__name__, seconds))
                    if connection is not None:
                        connection[1].close()
                        connection = None
                    if stop_on_error is not None and stop_on_error():
                        return
                    continue
                seconds = time.perf_counter() - sent
                outcomes.append(Outcome(index, path, status, location, None, seconds))
        finally:
            if connection is not None:
                connection[1].close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sorted(outcomes, key=lambda o: o.index)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str | None]:
    """Status and ``Location`` of one response; its body (``Content-Length``) is skipped."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    location = None
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "location":
            location = value.strip()
        elif name == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status, location


def click_id(location: str | None) -> str | None:
    """The ``click_id`` the runtime put on a redirect's ``Location`` (its click event's id)."""
    if not location:
        return None
    values = parse_qs(urlsplit(location).query).get("click_id")
    return values[0] if values else None


def emf_counters(output: str) -> Counter[str]:
    """The runtime's counters summed over every EMF metrics line in its output."""
    totals: Counter[str] = Counter()
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for name, value in document.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[name] += value
    return totals


def journal_ids(directory: Path) -> list[str]:
    """``click_session_id`` of every event in the journal (claimed segments included), read
    until two reads in a row agree, so a segment renamed while we read is not missed."""
    previous: list[str] | None = None
    deadline = time.monotonic() + 10
    while True:
        ids: list[str] = []
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.name.startswith("."):
                    continue  # a segment being written (renamed into place when complete)
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                ids += [json.loads(line)["click_session_id"] for line in data.splitlines() if line]
        ids.sort()
        if ids == previous or time.monotonic() > deadline:
            return ids
        previous = ids
        time.sleep(0.05)


def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Call ``condition`` until it is true (``True``) or ``timeout`` seconds pass (``False``)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)

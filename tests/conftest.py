"""Shared by every test package."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator

import pytest
import time_machine


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shift-clock-days",
        type=int,
        default=0,
        metavar="DAYS",
        help=(
            "Run with the wall clock moved DAYS ahead (time.time and datetime.now; the monotonic "
            "clocks and other processes keep the real time). make test-shifted uses 366: a test "
            "that depends on the day it was written fails."
        ),
    )


@pytest.fixture(autouse=True, scope="session")
def _shifted_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``--shift-clock-days``, the whole session runs that many days ahead, the clock
    still ticking; every test that asks for "now" sees the shifted day."""
    days: int = request.config.getoption("--shift-clock-days")
    if not days:
        yield
        return
    ahead = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    with time_machine.travel(ahead, tick=True):
        yield


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--shift-clock-days")
    if not days:
        return None
    ahead = datetime.datetime.fromtimestamp(time.time() + days * 86400, datetime.UTC)
    return f"clock shifted {days} days ahead: the tests run at {ahead:%Y-%m-%d %H:%M} UTC"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """The API's throttles count in Django's cache; each test starts with no counts."""
    from django.core.cache import cache

    cache.clear()

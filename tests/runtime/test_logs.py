from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from runtime_service.logs import configure_logging


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    logger = logging.getLogger("runtime_service")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    yield
    logger.handlers, logger.propagate, logger.level = saved[0], saved[1], saved[2]


def test_log_lines_are_json_with_extra_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    logger = logging.getLogger("runtime_service.test")
    logger.info("dynamodb read failed", extra={"key": "go.example.com/ABC", "error": "timeout"})
    logger.debug("not shown at INFO")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("redirect failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO" and first["message"] == "dynamodb read failed"
    assert first["key"] == "go.example.com/ABC" and first["error"] == "timeout"
    assert first["logger"] == "runtime_service.test" and first["timestamp"].endswith("Z")
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exception"]

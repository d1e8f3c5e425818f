"""A strict JSON parser: what it accepts can always be stored, published and rendered.

DRF's parser already refuses ``NaN`` and ``Infinity``. This one also refuses what would only
fail later, as a server error instead of a 400: numbers outside what a DynamoDB record can
hold (``1e400`` parses to an infinite float; 39 and more digits do not fit), lone UTF-16
surrogates (no database can encode them) and nesting deep enough to exhaust the recursion
limit.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Callable, Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

__all__ = ["StrictJSONParser"]

#: DynamoDB numbers: at most 38 significant digits, magnitude below 1e126.
MAX_INT_DIGITS = 38
MAX_ABS_NUMBER = 9.9e125
MIN_ABS_NUMBER = 1e-130


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integers have at most {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
        raise ValueError(f"number out of range: {text[:40]}")
    if value != 0 and abs(value) < MIN_ABS_NUMBER:
        raise ValueError(f"number too small: {text[:40]}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def any_json_string(data: Any, predicate: Callable[[str], bool]) -> bool:
    """Whether ``predicate`` holds for any string (object key or value) of parsed JSON."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if predicate(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class StrictJSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(
                text,
                parse_int=_parse_int,
                parse_float=_parse_float,
                parse_constant=_reject_constant,
            )
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from None
        if any_json_string(data, _lone_surrogate):
            raise ParseError("JSON parse error - strings may not hold lone surrogates.")
        return data

"""The runtime's HTTP protocol: an absolute-form target's authority, read as RFC 9112 §3.2.2
asks (the end-to-end behaviour under uvicorn and gunicorn is in tests/e2e/test_runtime_e2e.py)."""

from __future__ import annotations

import httptools
import pytest
from uvicorn.importer import import_from_string

from runtime_service.server import RuntimeHttpProtocol, RuntimeWorker, target_authority


@pytest.mark.parametrize(
    ("target", "authority"),
    [
        (b"/ABC123?sms_msg_id=1", None),
        (b"*", None),
        (b"http://go.example.com/ABC123", b"go.example.com"),
        (b"https://Go.Example.com:8443/x?y=1", b"Go.Example.com:8443"),
        (b"http://[2001:db8::1]:8080/x", b"[2001:db8::1]:8080"),
        (b"http://user:pass@go.example.com/x", b"go.example.com"),
    ],
)
def test_the_authority_of_a_target(target: bytes, authority: bytes | None) -> None:
    assert target_authority(target) == authority


@pytest.mark.parametrize("target", [b"http://[::1/x", b"go.example.com:443", b"http://"])
def test_a_target_that_is_not_a_url_is_the_parsers_error(target: bytes) -> None:
    # Raised inside the parser's callback, it reaches uvicorn as an HttpParserError: a 400.
    with pytest.raises(httptools.HttpParserError):
        target_authority(target)


def test_the_gunicorn_worker_serves_with_the_runtimes_protocol() -> None:
    assert import_from_string(RuntimeWorker.CONFIG_KWARGS["http"]) is RuntimeHttpProtocol

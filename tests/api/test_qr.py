"""QR codes of links: the image encodes the short URL, drawn as asked, account-scoped, with
field-level errors on bad parameters. The PNG is read back pixel by pixel here (a minimal
decoder for the 1-bit greyscale PNG segno writes) and compared with the code's modules."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
import segno
from rest_framework.test import APIClient

from link_tracking_publisher.services import qr
from tests.publisher.factories import LinkFactory

from .conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(account_a: Any, domain_a: Any) -> Any:
    return LinkFactory(account=account_a, domain=domain_a, slug="Spring-Sale")


def _png_pixels(data: bytes) -> list[list[int]]:
    """Rows of 0 (dark) / 1 (light) pixels of a 1-bit greyscale, non-interlaced PNG
    (row filters None, Sub and Up: what segno writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (1, 0, 0), "a 1-bit greyscale PNG"
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8 + 1
    rows, prior = [], bytes(stride - 1)
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        assert kind in (0, 1, 2), "filter None, Sub or Up"
        for i in range(len(line)):
            if kind == 1 and i:
                line[i] = (line[i] + line[i - 1]) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + prior[i]) & 0xFF
        prior = bytes(line)
        bits = [(byte >> (7 - i)) & 1 for byte in line for i in range(8)]
        rows.append(bits[:width])
    return rows


def _modules(pixels: list[list[int]], scale: int) -> list[list[int]]:
    return [[1 - row[x] for x in range(0, len(row), scale)] for row in pixels[::scale]]


def test_png_encodes_the_short_url_with_the_scan_marker(alice_client: APIClient, link: Any) -> None:
    response = alice_client.get(
        f"{API}/links/{link.pk}/qr/",
        {"format": "png", "size": 250, "error_correction": "H", "margin": 2},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert 'filename="qr-a.example.com-Spring-Sale.png"' in response["Content-Disposition"]
    pixels = _png_pixels(response.content)
    scanned = "https://a.example.com/Spring-Sale?qr=1"
    expected = segno.make(scanned, error="H", boost_error=False, micro=False)
    modules = expected.symbol_size(scale=1, border=2)[0]
    scale = 250 // modules
    assert len(pixels) == len(pixels[0]) == modules * scale
    want = [[int(bool(m)) for m in row] for row in expected.matrix_iter(scale=1, border=2)]
    assert _modules(pixels, scale) == want
    assert link.get_full_url() == "https://a.example.com/Spring-Sale"


def test_svg_is_the_default(alice_client: APIClient, link: Any) -> None:
    response = alice_client.get(f"{API}/links/{link.pk}/qr/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert "<svg" in body
    code = segno.make(link.get_full_url() + "?qr=1", error="M", boost_error=False, micro=False)
    pixels = code.symbol_size(scale=1, border=4)[0] * (qr.DEFAULT_SIZE // code.symbol_size()[0])
    assert f'width="{pixels}" height="{pixels}"' in body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"size": qr.MIN_SIZE - 1}, "size"),
        ({"size": qr.MAX_SIZE + 1}, "size"),
        ({"size": "big"}, "size"),
        ({"format": "gif"}, "format"),
        ({"error_correction": "X"}, "error_correction"),
        ({"margin": qr.MAX_MARGIN + 1}, "margin"),
        ({"margin": -1}, "margin"),
    ],
)
def test_bad_parameters_are_field_errors(
    alice_client: APIClient, link: Any, params: dict[str, Any], field: str
) -> None:
    response = alice_client.get(f"{API}/links/{link.pk}/qr/", {"format": "png", **params})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == [field]


def test_size_too_small_for_the_code_names_the_minimum(
    alice_client: APIClient, account_a: Any, domain_a: Any
) -> None:
    long = LinkFactory(
        account=account_a, domain=domain_a, slug="x" * 60, destination_url="https://e.com/"
    )
    response = alice_client.get(
        f"{API}/links/{long.pk}/qr/",
        {"size": qr.MIN_SIZE, "error_correction": "H", "margin": qr.MAX_MARGIN},
    )
    assert response.status_code == 400
    assert "at least" in response.json()["size"][0]


def test_another_accounts_link_is_not_found(bob_client: APIClient, link: Any) -> None:
    assert bob_client.get(f"{API}/links/{link.pk}/qr/").status_code == 404


def test_preview_of_a_scan_names_the_qr_channel(alice_client: APIClient, link: Any) -> None:
    tap = alice_client.get(f"{API}/links/{link.pk}/preview/").json()
    scan = alice_client.get(f"{API}/links/{link.pk}/preview/", {"scan": "true"}).json()
    assert (tap["channel"], scan["channel"]) == (link.channel, "qr")
    assert link.channel != "qr"
    assert scan["request_url"] == "https://a.example.com/Spring-Sale?qr=1"
    # The marker is not forwarded: the scan goes where a tap goes.
    assert "qr=" not in scan["redirect_url"]
    assert scan["destination_url"] == tap["destination_url"]

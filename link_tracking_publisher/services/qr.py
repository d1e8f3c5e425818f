"""QR codes of short links, made with segno.

segno is pure Python, maintained, and writes both SVG and PNG itself (no Pillow, no C
extension), so a QR code costs no new system dependency in the control plane's image.

A link's code (:func:`link_qr_code`) encodes its short URL (:meth:`Link.get_full_url`) with
the contract's QR scan marker (:func:`link_tracking_runtime.scan.scan_url`, ``?qr=1``): the
runtime records a click on it with ``channel`` ``qr``, so the statistics count scans apart from
taps. The marker is not forwarded to the destination.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno

from link_tracking_runtime.scan import scan_url

from ..models import Link

__all__ = [
    "DEFAULT_ERROR",
    "DEFAULT_MARGIN",
    "DEFAULT_SIZE",
    "ERROR_LEVELS",
    "FORMATS",
    "MAX_MARGIN",
    "MAX_SIZE",
    "MIN_MARGIN",
    "MIN_SIZE",
    "QRCode",
    "QRTooSmall",
    "link_qr_code",
    "qr_code",
]

#: Output format → content type.
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
#: Error-correction levels: about 7 %, 15 %, 25 % and 30 % of the code can be restored.
ERROR_LEVELS = ("L", "M", "Q", "H")
DEFAULT_ERROR = "M"
#: Width (= height) of the image in pixels, quiet zone included.
MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 64, 2048, 300
#: Quiet zone around the code, in modules; the QR standard asks for 4.
MIN_MARGIN, MAX_MARGIN, DEFAULT_MARGIN = 0, 16, 4


class QRTooSmall(ValueError):
    """The code needs more pixels than ``size`` gives it (one pixel per module at least)."""

    def __init__(self, minimum: int) -> None:
        super().__init__(f"Too small for this code: at least {minimum} pixels.")
        self.minimum = minimum


@dataclass(frozen=True)
class QRCode:
    content: bytes
    content_type: str
    #: Width (= height) of the image in pixels: the largest whole number of pixels per
    #: module that fits in the requested size, so every module stays sharp.
    pixels: int


def qr_code(
    url: str,
    *,
    fmt: str = "svg",
    size: int = DEFAULT_SIZE,
    error: str = DEFAULT_ERROR,
    margin: int = DEFAULT_MARGIN,
) -> QRCode:
    """The QR code of ``url`` as SVG or PNG, at most ``size`` pixels wide, with exactly the
    error-correction level asked for (not silently raised)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown QR format {fmt!r}")
    qr = segno.make(url, error=error, boost_error=False, micro=False)
    modules = int(qr.symbol_size(scale=1, border=margin)[0])
    scale = size // modules
    if scale < 1:
        raise QRTooSmall(modules)
    out = io.BytesIO()
    qr.save(out, kind=fmt, scale=scale, border=margin)
    return QRCode(out.getvalue(), FORMATS[fmt], modules * scale)


def link_qr_code(
    link: Link,
    *,
    fmt: str = "svg",
    size: int = DEFAULT_SIZE,
    error: str = DEFAULT_ERROR,
    margin: int = DEFAULT_MARGIN,
) -> QRCode:
    """The QR code of ``link``: its short URL with the scan marker (:func:`scan_url`)."""
    return qr_code(scan_url(link.get_full_url()), fmt=fmt, size=size, error=error, margin=margin)

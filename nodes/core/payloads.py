"""Image payloads without pixels: magic-byte sniffing, base64 and data URLs.

Pure Python (no torch, no PIL), so provider modules can use it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from .errors import RemoteImageError

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class Uploads:
    """How a provider takes an edit's input images and mask: what ``images.encode_edit_inputs`` makes.

    Every image is a PNG file (bytes), or with ``data_url`` a ``data:`` URL. The mask is an RGBA
    PNG whose alpha is 0 where the MASK is 1, in the same form: one per image of the first input
    with ``masks="each"``, one for its first image with ``masks="first"``, none with ``""``."""

    data_url: bool = False
    masks: str = ""  # "", "first" or "each"


# --- sniffing ---------------------------------------------------------------------------------


def sniff_format(data: bytes) -> str | None:
    """'PNG', 'JPEG', 'WEBP' or 'GIF' from the magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    return None


def mime_type(data: bytes) -> str:
    return _MIME.get(sniff_format(data) or "", "application/octet-stream")


# --- base64 and data URLs ---------------------------------------------------------------------


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(data: bytes) -> str:
    return f"data:{mime_type(data)};base64,{b64encode(data)}"


_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*)(;base64)?,", re.I)
_B64_JUNK = re.compile(rb"\s+")


def b64decode(text: str | bytes) -> bytes:
    """Strict base64 (standard or URL-safe alphabet); whitespace is ignored, padding restored."""
    if not text:
        raise RemoteImageError("the image data is empty")
    try:  # the common case, without copies: clean, padded, standard alphabet
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    raw = _B64_JUNK.sub(b"", raw).replace(b"-", b"+").replace(b"_", b"/")
    if not raw:
        raise RemoteImageError("the image data is empty")
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteImageError("the image data is not valid base64") from None


def split_data_url(url: str) -> tuple[str, bytes]:
    """(mime type, bytes) of a ``data:`` URL."""
    match = _DATA_URL.match(url)
    if not match:
        raise RemoteImageError(f"not a data URL: {url[:40]!r}")
    payload = url[match.end() :]
    if match.group(3):
        return (match.group(1) or "").lower(), b64decode(payload)
    return (match.group(1) or "").lower(), unquote_to_bytes(payload)

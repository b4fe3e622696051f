"""What travels between the pack and a provider, without pixels: a reply's JSON read within
bounds and its headers (rate-limit resets, request ids), image payloads (magic-byte sniffing,
base64, data URLs), the forms a provider takes uploads in, and what a reply came to -- image
payloads plus whatever else it said, kept fit for a STRING output.

Pure Python (no torch, no PIL, no sockets), so provider modules can use it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import functools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from .errors import RemoteImageError
from .redaction import clip
from .validation import readable_size

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


# --- a reply's JSON, read within bounds, and its headers -------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

INFO_LIMIT = 32_000  # characters of an info STRING output: it is kept in /history and in saved files
INFO_STRING_LIMIT = 8_000  # characters of any one text in it
INFO_ITEMS = 100  # entries of any one list or object in it
INFO_DEPTH = 8


def quote_body(content: bytes, limit: int = 300) -> str:
    """A short readable quote of a body: tags stripped, whitespace folded, keys redacted and
    terminal controls stripped, then cut at ``limit``."""
    text = content[: limit * 4].decode("utf-8", "replace")
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", text)
    return clip(_SPACE.sub(" ", text).strip(), limit)


def bounded_json(value: Any) -> str:
    """Readable JSON of a reply's details, fit to keep: every text redacted and cut, lists and
    objects cut to their first entries, the whole bounded -- a reply field of 100 MB must not end
    up in /history."""
    return clip(json.dumps(_bounded(value, 0), indent=2, ensure_ascii=False, sort_keys=True), INFO_LIMIT)


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clip(value, INFO_STRING_LIMIT)
    if isinstance(value, (dict, list, tuple)) and depth >= INFO_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = {clip(str(name), 200): _bounded(item, depth + 1) for name, item in list(value.items())[:INFO_ITEMS]}
        if len(value) > INFO_ITEMS:
            items["…"] = f"{len(value) - INFO_ITEMS} more entries not shown"
        return items
    if isinstance(value, (list, tuple)):
        items = [_bounded(item, depth + 1) for item in value[:INFO_ITEMS]]
        if len(value) > INFO_ITEMS:
            items.append(f"… {len(value) - INFO_ITEMS} more entries not shown")
        return items
    return value


# How many JSON values a reply may hold before it is parsed: what parsing costs is bounded by the
# values, not the bytes -- 200 MB of ``{},{},…`` is tens of millions of objects, gigabytes once
# parsed. An image reply holds a few dozen values (its images are long strings), a model list some
# thousands; stream events count one by one.
MAX_JSON_VALUES = 100_000
MODEL_LIST_VALUES = 500_000


class TooManyValues(RemoteImageError):
    """A JSON body refused unparsed: it holds more values than such a reply may."""


def json_values(content: bytes | str) -> int:
    """An upper bound of the values a JSON text holds, counted without parsing it: each value but
    the first of a container follows a comma, the first follows its bracket."""
    marks = (b"{", b"[", b",") if isinstance(content, bytes) else ("{", "[", ",")
    return 1 + sum(content.count(mark) for mark in marks)


def parse_json(content: bytes | str, max_values: int = MAX_JSON_VALUES) -> Any:
    """The JSON value of a body, or None when it is not JSON (deep nesting counts as not JSON).
    TooManyValues, before anything is parsed, when it would hold more than ``max_values`` values."""
    values = json_values(content)
    if values > max_values:
        raise TooManyValues(
            f"the reply holds up to {values:,} JSON values, more than the {max_values:,} such a reply may hold "
            f"({readable_size(len(content))}); it was refused unparsed",
            hint="the server sent something other than what was asked for; nothing was decoded",
        )
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


# --- rate-limit headers -------------------------------------------------------------------------

_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$")
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _reset_seconds(value: str, now: float) -> float | None:
    """One rate-limit reset header: seconds from now, epoch seconds or milliseconds, or a Go
    duration (``12ms``, ``6m0s``)."""
    value = value.strip()
    if _GO_DURATION.match(value):
        return sum(float(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(value))
    try:
        number = float(value)
    except ValueError:
        return None
    if number > 1e12:  # epoch milliseconds
        return max(0.0, number / 1000 - now)
    if number > 1e9:  # epoch seconds
        return max(0.0, number - now)
    return max(0.0, number)  # seconds from now (IETF RateLimit-Reset)


RESET_HEADERS = ("RateLimit-Reset", "X-RateLimit-Reset", "X-RateLimit-Reset-Requests", "X-RateLimit-Reset-Tokens")


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or the rate-limit reset headers
    (the longest of them: a request limit may reset long before the token limit that was hit)."""
    now = time.time() if now is None else now
    value = (headers.get("Retry-After") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:  # an HTTP date; a malformed value is ignored (we back off instead)
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return max(0.0, parsed.timestamp() - now)
    resets = [_reset_seconds(headers[name], now) for name in RESET_HEADERS if headers.get(name)]
    resets = [seconds for seconds in resets if seconds is not None]
    return max(resets) if resets else None


def trace_id(headers: Mapping[str, str]) -> str:
    """The provider's id of a request, to quote to its support (errors and the spend journal)."""
    for name in ("x-trace-id", "x-request-id", "request-id", "x-amzn-requestid", "cf-ray"):
        value = headers.get(name)
        if value:
            return clip(value, 120)
    return ""


# --- a reply --------------------------------------------------------------------------------------


def url_host(url: str) -> str:
    """A URL's host and port, without any user info: where a call went, as journal lines name it."""
    return (urlsplit(url).netloc or "").rpartition("@")[2]


def content_type(headers: Mapping[str, str]) -> str:
    """The media type a reply's headers name, lower case, without parameters."""
    return headers.get("Content-Type", "").split(";")[0].strip().lower()


def not_json(status: int, content_type: str, content: bytes, headers: Mapping[str, str]) -> RemoteImageError:
    return RemoteImageError(
        f"the reply (HTTP {status}, {content_type or 'no content type'}) is not JSON: "
        f"{quote_body(content) or 'empty body'}",
        status=status,
        trace_id=trace_id(headers),
    )


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    max_json_values: int = MAX_JSON_VALUES  # what parsing the content may cost (see payloads.parse_json)

    @property
    def content_type(self) -> str:
        return content_type(self.headers)

    @functools.cached_property
    def body(self) -> Any:
        """The JSON value of the content, or None when it is not JSON; TooManyValues when it
        holds more values than such a reply may."""
        return parse_json(self.content, self.max_json_values)

    @property
    def readable_body(self) -> Any:
        """``body`` for readers that only look (error envelopes, the journal): None also when
        the content holds too many values to parse."""
        try:
            return self.body
        except TooManyValues:
            return None

    def json(self) -> Any:
        if self.body is None:
            raise not_json(self.status, self.content_type, self.content, self.headers)
        return self.body


# --- what a reply came to ------------------------------------------------------------------------


@dataclass
class ResultImage:
    """One result: the file bytes, or a link to download them from at once."""

    data: bytes | None = None
    url: str | None = None


@dataclass
class ImageResult:
    images: list[ResultImage]
    info: dict[str, Any] = field(default_factory=dict)  # usage, model, revised prompts, ...
    text: str = ""  # a model's words next to its images (chat-style providers)

    # Both become STRING outputs, which can end up in saved workflows, PNG metadata and /history:
    # a key a provider echoes back (debug fields, a model quoting its input) must not travel with
    # them, nor terminal controls, nor a reply field of any size.
    def __post_init__(self) -> None:
        self.text = clip(self.text, INFO_LIMIT)

    def describe(self) -> str:
        """The STRING output: the reply without its image payloads, as readable JSON."""
        details = dict(self.info)
        if self.text:
            details["text"] = self.text
        return bounded_json(details) if details else ""


def describe_calls(
    results: list[ImageResult], notice: str = "", warning: str = "", chosen: str = "", price: str = ""
) -> str:
    """The info output of one or more calls: the first reply's fields, usage figures added up over
    the calls, what ``auto`` became (``chosen``), the run's money (``price``: estimated and
    reported, each marked), the notice (e.g. a shutdown date) and a warning (fewer images than asked)."""
    merged = dict(results[0].info)
    if chosen:
        merged["model_chosen"] = chosen
    if price:
        merged["price"] = price
    if len(results) > 1:
        merged["usage"] = added_up([result.info.get("usage") or {} for result in results])
        merged["calls"] = len(results)
    if notice:
        merged["notice"] = notice
    if warning:
        merged["warning"] = warning
    return ImageResult(images=[], info=merged).describe()


def added_up(usages: list[dict]) -> dict:
    """Usage figures: numbers added up per key (a missing or null figure counts as none); anything else: the first."""
    total: dict = {}
    for usage in usages:
        for key, value in usage.items():
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and isinstance(total.get(key), (int, float, type(None)))
            ):
                total[key] = (total.get(key) or 0) + value
            else:
                total.setdefault(key, value)
    return total

"""Reading providers' replies -- error envelopes, odd bodies, rate-limit headers -- and the
wording of every failed exchange. Pure: no sockets.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import RemoteImageError, Unanswered
from .redaction import clip
from .validation import readable_size

if TYPE_CHECKING:
    from .provider import Provider

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


def plain_error_message(body: Any) -> str:
    """The server's words from a plain JSON error body -- a text under ``error``, ``message``,
    ``detail``, ``error_description`` or ``msg`` (a list of validation details joined) -- or ''.
    A provider whose envelope says more (an error object, a list of messages) reads it itself:
    its descriptor's ``error_reader``, which may fall back on this."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, str) and error:
        extra = body.get("error_description") or body.get("message")
        return f"{error}: {extra}" if isinstance(extra, str) and extra and extra != error else error
    for key in ("message", "detail", "error_description", "msg"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:  # validation details, one per field
            return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
    return ""


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


# --- failures, as users read them ---------------------------------------------------------------

MESSAGE_LIMIT = 4000  # characters of provider text in one error
EXPIRED_LINK_STATUSES = (403, 404, 410)  # how a result link answers once it has expired or been removed
EXPIRED_LINK_HINT = "result links expire (often after an hour); run the node again"

STATUS_HINTS = {
    400: "the provider refused the request as sent; check the inputs named in the message",
    402: "the account is out of credits or over its spending limit; top it up and run again",
    403: "the key is not allowed to do this (or the content was refused by moderation)",
    404: "check the model name and the base URL (including its path)",
    408: "the provider timed out; try again",
    413: "the upload is too large; send a smaller image or fewer images",
    415: "the provider did not accept the upload's format",
    422: "the provider could not process these inputs; check the values named in the message",
    500: "the provider had an internal error; try again later",
    502: "a gateway in front of the provider failed; try again later",
    503: "the provider is overloaded or in maintenance; try again later",
    504: "a gateway in front of the provider timed out; try again later",
}


class Fetch(enum.Enum):
    """What an exchange fetches, which decides how its failures read."""

    API = "the request"  # a call to the provider's API, with its key
    RESULT_LINK = "the result link"  # a result image's link: no key, and its body is never quoted

    @property
    def prefix(self) -> str:
        """Errors of a result download say so: the request itself went through."""
        return "downloading the result image: " if self is Fetch.RESULT_LINK else ""


def fit_to_show(error: RemoteImageError) -> RemoteImageError:
    """Redact keys and strip terminal controls from everything an error shows, before any cut."""
    error.message = clip(error.message, MESSAGE_LIMIT * 4)
    error.hint = clip(error.hint, MESSAGE_LIMIT)
    error.trace_id = clip(error.trace_id, 120)
    return error


def join_hints(first: str, second: str) -> str:
    return f"{first}; {second}" if second and second != first else first


def not_json(status: int, content_type: str, content: bytes, headers: Mapping[str, str]) -> RemoteImageError:
    return RemoteImageError(
        f"the reply (HTTP {status}, {content_type or 'no content type'}) is not JSON: "
        f"{quote_body(content) or 'empty body'}",
        status=status,
        trace_id=trace_id(headers),
    )


def status_failure(
    reply, fetch: Fetch, provider: Provider, hints: Mapping[int, str], attempts: int
) -> RemoteImageError:
    """An HTTP error reply (``reply``: status, headers, content and its parsed ``body``) as one
    error: the provider's own words (never a link's), the pack's hint beside the provider's own
    ``hints``, and what the status means for the key, a rate limit or a lasting refusal."""
    status = reply.status
    link = fetch is Fetch.RESULT_LINK
    if link:
        message = f"the link answered HTTP {status} (its body is not shown)"
    else:
        reader = provider.error_reader or plain_error_message
        message = reader(reply.readable_body) if reply.readable_body is not None else ""
        message = (
            clip(message, MESSAGE_LIMIT)
            if message
            else quote_body(reply.content) or f"HTTP {status} with an empty body"
        )
    hint = {**STATUS_HINTS, **hints}.get(status, "")
    own_hint = hints.get(status, "")  # the provider's facts, kept beside ours
    lasting = provider.lasting_refusal(status, reply.readable_body) if provider.lasting_refusal else ""
    retry_after = retry_after_seconds(reply.headers) if status in (429, 503) and not lasting else None
    if lasting:
        hint = join_hints(lasting, own_hint)
    elif status == 401 and not link:
        if provider.key_env:
            refused = (
                f"the key was refused: set {provider.key_env} to a valid key (or check its permissions) "
                "and restart ComfyUI"
            )
        elif provider.key_required:
            refused = f"the key was refused: set api_key under [{provider.id}] of the credentials file to a valid key"
        else:
            refused = "the server wants a key: name the environment variable that holds it in api_key_env"
        hint = join_hints(refused, own_hint)
    elif status == 403 and not link and provider.key_env:
        hint += f"; the key comes from {provider.key_env}"
    elif status == 429:
        when = f"in {retry_after:.0f}s" if retry_after is not None else "in a minute"
        hint = join_hints(f"rate limited by {provider.label} after {attempts} attempt(s); try again {when}", own_hint)
    return RemoteImageError(
        fetch.prefix + message,
        status=status,
        trace_id=trace_id(reply.headers),
        hint=hint,
        retry_after=retry_after,
        json_reply=not link and reply.readable_body is not None,
    )


def unanswered_failure(failure: Unanswered, fetch: Fetch, read_timeout: float, attempts: int) -> RemoteImageError:
    """A request that got no complete reply, saying whether it may have been billed."""
    host, reason, prefix = failure.host or "the provider", failure.reason, fetch.prefix
    if failure.how == Unanswered.READ_TIMEOUT:
        return RemoteImageError(
            f"{prefix}no reply from {host} within {read_timeout:g}s",
            hint="the request was sent, so the provider may have run and billed it; it was not "
            "retried. Raise HOSTED_IMAGES_READ_TIMEOUT for slow models.",
        )
    if failure.how == Unanswered.NEVER_CONNECTED:
        return RemoteImageError(
            f"{prefix}could not connect to {host} after {attempts} attempt(s): {reason}",
            hint="check the base URL, your network and any HTTPS_PROXY setting",
        )
    if failure.how == Unanswered.TLS:
        return RemoteImageError(f"{prefix}TLS error talking to {host}: {reason}")
    if failure.how == Unanswered.NOT_A_URL:
        return RemoteImageError(f"{prefix}{host} is not a URL that can be called: {reason}", hint="check the base URL")
    return RemoteImageError(
        f"{prefix}the connection to {host} was dropped before the reply was complete ({reason})",
        hint="the request was sent, so it may have been billed; it was not retried",
    )


def slow_reply(url: str, fetch: Fetch, part: str, since: str, read_timeout: float) -> RemoteImageError:
    host = urlsplit(url).netloc or "the provider"
    return RemoteImageError(
        f"{fetch.prefix}{part} from {host} was still arriving {read_timeout:g}s after {since}, so it was abandoned",
        hint="the request was sent, so it may have been billed; it was not retried. Raise "
        "HOSTED_IMAGES_READ_TIMEOUT for slow links.",
    )


def _events(count: int) -> str:
    return f"{count} event{'' if count == 1 else 's'}"


def stalled_stream(url: str, read_timeout: float, events: int) -> RemoteImageError:
    """A stream that went quiet: the read timeout bounds the wait for each event, not the whole."""
    host = urlsplit(url).netloc or "the provider"
    return RemoteImageError(
        f"the stream from {host} sent no event for {read_timeout:g}s (after {_events(events)}), so it was abandoned",
        hint="the request was sent, so it may have been billed; it was not retried. Raise "
        "HOSTED_IMAGES_READ_TIMEOUT for slow models.",
    )


def endless_stream(url: str, seconds: float, events: int) -> RemoteImageError:
    """A stream still going after its overall deadline, which an honest provider never meets."""
    host = urlsplit(url).netloc or "the provider"
    return RemoteImageError(
        f"the stream from {host} was still going after {seconds:g}s ({_events(events)}) without every image asked "
        "for, so it was abandoned",
        hint="the request was sent, so it may have been billed; it was not retried. Raise "
        "HOSTED_IMAGES_STREAM_DEADLINE for a provider this slow.",
    )


def cut_stream(url: str, events: int, reason: str) -> RemoteImageError:
    host = urlsplit(url).netloc or "the provider"
    return RemoteImageError(
        f"the stream from {host} was cut off after {_events(events)} ({reason})",
        hint="the request was sent, so it may have been billed; it was not retried",
    )


def too_large(max_bytes: int) -> RemoteImageError:
    return RemoteImageError(f"the reply was larger than {readable_size(max_bytes)} and was refused")

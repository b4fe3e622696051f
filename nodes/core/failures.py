"""The wording of every failed exchange, as users read it: the provider's words (a plain error
body here; an envelope of its own through its descriptor's ``error_reader``), the pack's hint per
HTTP status beside the provider's own, and what a request that got no complete reply may have
cost. Pure: no sockets.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import RemoteImageError, Unanswered
from .payloads import quote_body, retry_after_seconds, trace_id
from .redaction import clip
from .validation import readable_size

if TYPE_CHECKING:
    from .provider import Provider


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

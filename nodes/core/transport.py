"""The only code that sees a key or opens a connection.

One ``requests.Session`` per provider (connections are reused), separate connect and read
timeouts, the retry policy of DESIGN.md, interrupt checks several times a second, progress text on
the node, and errors that carry provider, operation, model, status, the provider's own message,
its trace id and a hint -- with every key redacted.

Retry policy, and why:
- connection refused / connect timeout: nothing reached the provider, so retrying is free;
- 429: the provider asked us to wait -- we wait ``Retry-After`` (capped) a few times;
- 502/503/504: a gateway in front of the model failed; a couple of retries with backoff;
- anything else, and above all a read timeout or a connection dropped after the request went
  out, is never retried: the provider may have run (and billed) the call.

The read timeout bounds both the wait for the reply's headers and, from then on, the whole body:
a reply that trickles in byte by byte would otherwise never trip a per-read timeout.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests
import urllib3

from . import comfy
from .credentials import Provider, base_url, check_url, redact, require_key, api_key
from .envelopes import default_error_message, parse_json, quote_body
from .errors import RemoteImageError

log = logging.getLogger("hosted_images")

POLL_SECONDS = 0.05  # how often a waiting call looks at ComfyUI's interrupt flag
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
EXPIRED_LINK_STATUSES = (403, 404, 410)  # how a result link answers once it has expired or been removed
USER_AGENT = "comfyui-hosted-image-apis/1.0"


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass
class Policy:
    """Timeouts and retry limits; every figure can be tuned through an environment variable."""

    connect_timeout: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_CONNECT_TIMEOUT", 15))
    read_timeout: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_READ_TIMEOUT", 300))
    max_wait: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_MAX_RETRY_WAIT", 60))
    backoff: float = field(default_factory=lambda: _env_float("HOSTED_IMAGES_RETRY_BACKOFF", 1.0))
    rate_limit_retries: int = 3
    gateway_retries: int = 2
    connect_retries: int = 2


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        body = parse_json(self.content)
        if body is None:
            raise RemoteImageError(
                f"the reply (HTTP {self.status}, {self.content_type or 'no content type'}) is not JSON: "
                f"{quote_body(self.content) or 'empty body'}",
                status=self.status,
                trace_id=_trace_id(self.headers),
            )
        return body


# --- sessions --------------------------------------------------------------------------------

_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


# The connection each worker thread is using, so that an interrupt can drop it even while the
# provider has not answered yet (closing the response only works once headers have arrived).
_connections: dict[int, Any] = {}


class _TrackedPool:
    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        _connections[threading.get_ident()] = connection
        return connection


class _TrackedHTTPPool(_TrackedPool, urllib3.HTTPConnectionPool):
    pass


class _TrackedHTTPSPool(_TrackedPool, urllib3.HTTPSConnectionPool):
    pass


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}


def _drop_connection(thread_id: int | None, response=None) -> None:
    """Cut the connection a worker thread is using, before or during the reply.

    ``response.close()`` would wait for the worker's blocked read (it needs the reader's lock),
    which a trickling body can put off forever; shutting the socket down ends the read at once.
    """
    connection = _connections.get(thread_id) or getattr(getattr(response, "raw", None), "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = 3
    session.headers["User-Agent"] = USER_AGENT
    return session


def session_for(name: str) -> requests.Session:
    """The shared session of one provider (or "download" for result URLs, which never get a key)."""
    with _sessions_lock:
        session = _sessions.get(name)
        if session is None:
            session = _sessions[name] = _new_session()
        return session


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


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or a rate-limit reset header."""
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
    for name in ("RateLimit-Reset", "X-RateLimit-Reset", "X-RateLimit-Reset-Requests"):
        value = headers.get(name)
        if not value:
            continue
        try:
            number = float(value.strip().rstrip("s"))
        except ValueError:
            continue
        if number > 1e12:  # epoch milliseconds (OpenRouter)
            return max(0.0, number / 1000 - now)
        if number > 1e9:  # epoch seconds
            return max(0.0, number - now)
        return max(0.0, number)  # seconds from now (IETF RateLimit-Reset)
    return None


# --- one operation against one provider -------------------------------------------------------


class Call:
    """One node operation: builds authenticated requests, waits interruptibly, maps errors."""

    def __init__(
        self,
        provider: Provider,
        operation: str,
        *,
        model: str = "",
        node_id: str | None = None,
        base_url_override: str = "",
        error_message: Callable[[Any], str] = default_error_message,
        status_hints: Mapping[int, str] | None = None,
        policy: Policy | None = None,
    ):
        self.provider = provider
        self.operation = operation
        self.model = model
        self.node_id = node_id
        self.policy = policy or Policy()
        self._error_message = error_message
        self._provider_hints = dict(status_hints or {})
        self._hints = {**STATUS_HINTS, **self._provider_hints}
        self._base_url_override = base_url_override
        self.attempts = 0  # requests actually sent, for the progress text and tests
        self.started = time.monotonic()
        self.note = ""  # extra progress text, e.g. "anonymous: 2 calls a minute"

    # ---- public API

    @contextlib.contextmanager
    def context(self):
        """Name this provider, operation and model in every pack error raised inside."""
        try:
            yield self
        except RemoteImageError as exc:
            exc.message = redact(exc.message)
            raise exc.add_context(provider=self.provider.label, operation=self.operation, model=self.model)

    @property
    def base_url(self) -> str:
        try:
            return base_url(self.provider, self._base_url_override)
        except RemoteImageError as exc:
            raise exc.add_context(provider=self.provider.label, operation=self.operation, model=self.model)

    def error(self, message: str, **fields) -> RemoteImageError:
        return RemoteImageError(
            redact(message), provider=self.provider.label, operation=self.operation, model=self.model, **fields
        )

    def post_json(self, path: str, body: dict, *, accept: str = "application/json") -> Reply:
        return self.request("POST", path, json_body=body, accept=accept)

    def post_multipart(self, path: str, fields: list[tuple[str, Any]]) -> Reply:
        """``fields``: (name, value) for text parts, (name, (filename, bytes, mime)) for files."""
        return self.request("POST", path, files=[(n, v if isinstance(v, tuple) else (None, str(v))) for n, v in fields])

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return check_url(path, what="endpoint")
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, json_body=None, files=None, accept="application/json") -> Reply:
        url = self.url_for(path)
        key = require_key(self.provider, self.operation) if self.provider.key_required else api_key(self.provider)[0]
        headers = {"Accept": accept}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        kwargs = {"headers": headers, "json": json_body, "files": files}
        return self._with_retries(lambda: self._send(method, url, kwargs, self.provider.id))

    def download(self, url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """Fetch a result URL at once, with no Authorization header and a size cap."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise self.error(f"the result URL has the scheme {scheme!r}; only http and https links are downloaded")
        kwargs = {"headers": {"Accept": "image/*"}}
        try:
            reply = self._with_retries(lambda: self._send("GET", url, kwargs, "download", max_bytes), what="download")
        except RemoteImageError as exc:
            if exc.status in EXPIRED_LINK_STATUSES:
                exc.hint = "result links expire (often after an hour); run the node again"
            raise
        return reply.content

    # ---- progress

    def progress(self, text: str = "") -> None:
        elapsed = time.monotonic() - self.started
        parts = [self.provider.label, self.operation]
        if self.model:
            parts.append(self.model)
        line = " · ".join(parts) + f" · {elapsed:.0f}s"
        if text:
            line += f" · {text}"
        if self.note:
            line += f" · {self.note}"
        comfy.progress_text(self.node_id, line)

    # ---- internals

    def _sleep(self, seconds: float, why: str) -> None:
        deadline = time.monotonic() + seconds
        last_shown = -1
        while True:
            comfy.raise_if_interrupted()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if int(left) != last_shown:
                last_shown = int(left)
                self.progress(f"{why}, retrying in {left:.0f}s")
            time.sleep(min(POLL_SECONDS, left))

    def _send(self, method: str, url: str, kwargs: dict, session_name: str, max_bytes: int = MAX_RESPONSE_BYTES) -> Reply:
        """Run one HTTP exchange in a worker thread; this thread watches for interrupts."""
        comfy.raise_if_interrupted()
        self.attempts += 1
        cancelled = threading.Event()
        done = threading.Event()
        box: dict[str, Any] = {}
        session = session_for(session_name)
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)

        def exchange() -> None:
            try:
                response = session.request(method, url, timeout=timeout, stream=True, allow_redirects=True, **kwargs)
                box["response"] = response
                try:
                    chunks, size = [], 0
                    for chunk in response.iter_content(1 << 18):
                        if cancelled.is_set():
                            return
                        size += len(chunk)
                        if size > max_bytes:
                            box["too_large"] = size
                            return
                        chunks.append(chunk)
                    box["reply"] = Reply(response.status_code, response.headers, b"".join(chunks), response.url)
                finally:
                    response.close()
            except BaseException as exc:  # noqa: BLE001 -- handed to the waiting thread
                box["error"] = exc
            finally:
                _connections.pop(threading.get_ident(), None)
                done.set()

        def abandon() -> None:
            cancelled.set()
            # the provider sees the hang-up, the worker's read returns at once and it ends on its own
            _drop_connection(worker.ident, box.get("response"))

        worker = threading.Thread(target=exchange, name=f"hosted-images-{session_name}", daemon=True)
        worker.start()
        shown = -1
        body_deadline = None  # the read timeout only bounds each wait; this bounds the whole body
        while not done.wait(POLL_SECONDS):
            if comfy.interrupted():
                abandon()
                comfy.raise_if_interrupted()
            if "response" in box and body_deadline is None:
                body_deadline = time.monotonic() + self.policy.read_timeout
            if body_deadline is not None and time.monotonic() > body_deadline:
                abandon()
                raise self._slow_body_error(url, session_name == "download")
            elapsed = int(time.monotonic() - self.started)
            if elapsed != shown:
                shown = elapsed
                self.progress("waiting for the provider" if self.attempts == 1 else f"attempt {self.attempts}")
        if "error" in box:
            raise box["error"]
        if "too_large" in box:
            raise self.error(f"the reply was larger than {max_bytes // (1024 * 1024)} MB and was refused")
        return box["reply"]

    def _with_retries(self, send: Callable[[], Reply], what: str = "") -> Reply:
        policy = self.policy
        rate_limited = gateway = connect = 0
        while True:
            try:
                reply = send()
            except requests.exceptions.RequestException as exc:
                if _never_connected(exc) and connect < policy.connect_retries:
                    connect += 1
                    self._sleep(policy.backoff * 2 ** (connect - 1), "could not connect")
                    continue
                raise self._network_error(exc, what) from None
            status = reply.status
            if status == 429 and rate_limited < policy.rate_limit_retries:
                wait = retry_after_seconds(reply.headers)
                if wait is None:
                    wait = policy.backoff * 2**rate_limited
                if wait <= policy.max_wait:
                    rate_limited += 1
                    self._sleep(wait, "rate limited")
                    continue
            if status in (502, 503, 504) and gateway < policy.gateway_retries:
                gateway += 1
                wait = retry_after_seconds(reply.headers)
                wait = min(wait if wait is not None else policy.backoff * 2 ** (gateway - 1), policy.max_wait)
                self._sleep(wait, f"HTTP {status}")
                continue
            if status >= 400:
                raise self._status_error(reply, what)
            return reply

    def _status_error(self, reply: Reply, what: str) -> RemoteImageError:
        body = parse_json(reply.content)
        message = self._error_message(body) if body is not None else ""
        if not message:
            message = quote_body(reply.content) or f"HTTP {reply.status} with an empty body"
        hint = self._hints.get(reply.status, "")
        own_hint = self._provider_hints.get(reply.status, "")  # the provider's facts, kept beside ours
        retry_after = retry_after_seconds(reply.headers) if reply.status in (429, 503) else None
        if reply.status == 401 and what != "download":
            if self.provider.key_env:
                refused = f"the key was refused: set {self.provider.key_env} to a valid key (or check its permissions) and restart ComfyUI"
            else:
                refused = "the server wants a key: name the environment variable that holds it in api_key_env"
            hint = _join_hints(refused, own_hint)
        elif reply.status == 403 and what != "download" and self.provider.key_env:
            hint += f"; the key comes from {self.provider.key_env}"
        if reply.status == 429:
            when = f"in {retry_after:.0f}s" if retry_after is not None else "in a minute"
            hint = _join_hints(f"rate limited by {self.provider.label} after {self.attempts} attempt(s); try again {when}", own_hint)
        message = _download_prefix(what == "download") + message
        return self.error(
            message,
            status=reply.status,
            trace_id=_trace_id(reply.headers),
            hint=hint,
            retry_after=retry_after,
        )

    def _network_error(self, exc: requests.exceptions.RequestException, what: str) -> RemoteImageError:
        host = urlsplit(getattr(exc.request, "url", "") or "").netloc or "the provider"
        prefix = _download_prefix(what == "download")
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return self.error(
                f"{prefix}no reply from {host} within {self.policy.read_timeout:g}s",
                hint="the request was sent, so the provider may have run and billed it; it was not "
                "retried. Raise HOSTED_IMAGES_READ_TIMEOUT for slow models.",
            )
        if _never_connected(exc):
            return self.error(
                f"{prefix}could not connect to {host} after {self.attempts} attempt(s): {_reason(exc)}",
                hint="check the base URL, your network and any HTTPS_PROXY setting",
            )
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            return self.error(f"{prefix}too many redirects from {host}", hint="check the base URL")
        if isinstance(exc, (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
            # the URLs we call are checked first, so only a redirect can lead here
            target = re.search(r"'([^']+)'", str(exc))  # requests quotes the URL it could not follow
            where = redact(target.group(1)[:120]) if target else "an address"
            return self.error(f"{prefix}{host} redirected to {where}, which is not an http(s) URL", hint="check the base URL")
        if isinstance(exc, requests.exceptions.SSLError):
            return self.error(f"{prefix}TLS error talking to {host}: {_reason(exc)}")
        return self.error(
            f"{prefix}the connection to {host} was dropped before the reply was complete ({_reason(exc)})",
            hint="the request was sent, so it may have been billed; it was not retried",
        )

    def _slow_body_error(self, url: str, download: bool) -> RemoteImageError:
        host = urlsplit(url).netloc or "the provider"
        read = self.policy.read_timeout
        prefix = _download_prefix(download)
        return self.error(
            f"{prefix}the reply from {host} was still arriving {read:g}s after it began, so it was abandoned",
            hint="the request was sent, so it may have been billed; it was not retried. Raise "
            "HOSTED_IMAGES_READ_TIMEOUT for slow links.",
        )


def _download_prefix(download: bool) -> str:
    """Errors of a result download say so: the request itself went through."""
    return "downloading the result image: " if download else ""


def _join_hints(first: str, second: str) -> str:
    return f"{first}; {second}" if second and second != first else first


def _trace_id(headers: Mapping[str, str]) -> str:
    for name in ("x-trace-id", "x-request-id", "request-id", "cf-ray"):
        value = headers.get(name)
        if value:
            return value[:120]
    return ""


def _never_connected(exc: BaseException) -> bool:
    """True when the request cannot have reached the provider (so a retry is safe)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(exc, requests.exceptions.ReadTimeout):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))
    return False


def _reason(exc: BaseException) -> str:
    """The innermost readable cause, without urllib3's object reprs."""
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    text = str(reason)
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text)
    if "Connection refused" in text:
        return "connection refused"
    return redact(text[:200]) or type(exc).__name__

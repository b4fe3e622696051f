"""The only code that sees a key or opens a connection.

One ``requests.Session`` per provider (connections are reused), separate connect and read
timeouts, the retry policy of DESIGN.md, interrupt checks several times a second, progress text on
the node, and errors that carry provider, operation, model, status, the provider's own message,
its trace id and a hint -- with every key redacted.

Retry policy, and why:
- connection refused / connect timeout: nothing reached the provider, so retrying is free;
- 429: the provider asked us to wait -- we wait ``Retry-After`` (capped) a few times;
- 502/503/504: a gateway in front of the model failed; a couple of retries with backoff;
- but a 429 that means "out of quota" and a 503 that means "no route to this model" fail at once:
  waiting does not fix billing or routing;
- anything else, and above all a read timeout or a connection dropped after the request went
  out, is never retried: the provider may have run (and billed) the call.

The read timeout bounds every stage of a reply: the status line and headers, counted from when
the request was sent, then the whole body. A reply that trickles in byte by byte would otherwise
never trip a per-read timeout.

Where requests go (DESIGN.md, "Keys and endpoints"): a request carrying a key goes only to a host
configured outside the workflow, to loopback or to a trusted host; redirects are followed here, hop
by hop, and a key never follows one to another origin; no redirect or result link may lead to a
loopback, private or link-local address other than the provider endpoint's own host and port --
checked on the address actually connected to, so a name that resolves differently the second time
(DNS rebinding) gains nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import ipaddress
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from . import comfy
from .credentials import (
    Provider,
    api_key,
    base_url,
    check_key_destination,
    check_url,
    clip,
    provider_with_key_from,
    require_key,
)
from .envelopes import default_error_message, lasting_refusal, parse_json, quote_body
from .errors import InputError, RemoteImageError
from .payloads import sniff_format
from .validation import valid_text

log = logging.getLogger("hosted_images")

POLL_SECONDS = 0.05  # how often a waiting call looks at ComfyUI's interrupt flag
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
EXPIRED_LINK_STATUSES = (403, 404, 410)  # how a result link answers once it has expired or been removed
USER_AGENT = "comfyui-hosted-image-apis/1.0"
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# The reply's head is abandoned this long after the read timeout: a head that has not begun by
# then already ended in requests' own read timeout (with its clearer message); one still
# trickling in has not, and never will.
HEAD_GRACE_SECONDS = 0.5
MESSAGE_LIMIT = 4000  # characters of provider text in one error


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
# provider has not answered yet (closing the response only works once headers have arrived), and
# when each worker's request went out (the read timeout of the reply's head counts from then).
_connections: dict[int, Any] = {}
_sent_at: dict[int, float] = {}
# What the current worker thread's request may connect to (see ``Destination``).
_destination = threading.local()


@dataclass
class Destination:
    """Where one hop of a call may connect: anywhere public, and to a loopback, private or
    link-local address only when it is the provider endpoint's own host and port."""

    endpoint: tuple[str, int] | None  # the provider endpoint's host and port, if known
    what: str  # how messages name the hop, e.g. "the result link"

    def refusal(self, address: str, port: int) -> str:
        """Why connecting to ``address``:``port`` is refused, or ''."""
        ip = _ip(address)
        if ip is None or ip.is_global:
            return ""
        if self.endpoint is not None and (ip, port) in _addresses(*self.endpoint):
            return ""
        kind = "loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "private or reserved"
        return (
            f"{self.what} leads to {address} port {port}, a {kind} address that is not the provider's endpoint, "
            "so it was not followed"
        )


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


def _addresses(host: str, port: int) -> set:
    """Every (address, port) ``host`` resolves to."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {(_ip(info[4][0].split("%")[0]), port) for info in found}


class DestinationRefused(RemoteImageError):
    """A hop would connect to an address it may not reach; raised inside the connection, so it
    passes through urllib3 and requests untouched."""


def _check_peer(connection, sock) -> None:
    """Refuse the address a socket is actually connected to (names are resolved by then)."""
    destination = getattr(_destination, "value", None)
    if destination is None or getattr(connection, "proxy", None) is not None:
        return  # through a proxy, the proxy resolves the name and decides
    try:
        address, port = sock.getpeername()[:2]
    except OSError:
        return
    refusal = destination.refusal(address.split("%")[0], port)
    if refusal:
        with contextlib.suppress(OSError):
            sock.close()
        raise DestinationRefused(refusal)


class _GuardedConnection:
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock

    def request(self, *args, **kwargs):
        if self.sock is not None:  # a pooled connection, made for an earlier hop
            try:
                _check_peer(self, self.sock)
            except DestinationRefused:
                self.sock = None
                raise
        super().request(*args, **kwargs)
        _sent_at[threading.get_ident()] = time.monotonic()


class _GuardedHTTPConnection(_GuardedConnection, urllib3.connection.HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):
    pass


class _TrackedPool:
    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        _connections[threading.get_ident()] = connection
        return connection


class _TrackedHTTPPool(_TrackedPool, urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _TrackedHTTPSPool(_TrackedPool, urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


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


_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$")
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _reset_seconds(value: str, now: float) -> float | None:
    """One rate-limit reset header: seconds from now, epoch seconds or milliseconds, or a Go
    duration as OpenAI sends them (``12ms``, ``6m0s``)."""
    value = value.strip()
    if _GO_DURATION.match(value):
        return sum(float(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(value))
    try:
        number = float(value)
    except ValueError:
        return None
    if number > 1e12:  # epoch milliseconds (OpenRouter)
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
        key_from: str | None = None,
        error_message: Callable[[Any], str] = default_error_message,
        status_hints: Mapping[int, str] | None = None,
        policy: Policy | None = None,
    ):
        """``key_from``: what a node's input names as the key's source (a variable or a
        credentials-file section); None: the provider's own variable."""
        self.operation = operation
        self.model = model
        try:
            self.provider = provider if key_from is None else provider_with_key_from(provider, key_from)
        except RemoteImageError as exc:
            raise exc.add_context(provider=provider.label, operation=operation, model=model)
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
            _make_fit_to_show(exc)
            raise exc.add_context(provider=self.provider.label, operation=self.operation, model=self.model)

    @property
    def base_url(self) -> str:
        try:
            return base_url(self.provider, self._base_url_override)
        except RemoteImageError as exc:
            raise exc.add_context(provider=self.provider.label, operation=self.operation, model=self.model)

    def error(self, message: str, **fields) -> RemoteImageError:
        error = RemoteImageError(message, provider=self.provider.label, operation=self.operation, model=self.model, **fields)
        return _make_fit_to_show(error)

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
        _check_sendable(json_body, files)
        key = require_key(self.provider, self.operation) if self.provider.key_required else api_key(self.provider)[0]
        if key:
            check_key_destination(self.provider, url)  # every request that carries a key, every node
        kwargs = {"headers": {"Accept": accept}, "json": json_body, "files": files}
        return self._with_retries(lambda: self._fetch(method, url, kwargs, self.provider.id, key=key))

    def download(self, url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """Fetch a result URL at once, with no Authorization header and a size cap.

        Whatever the link answers that is not an image is never quoted back: a link could lead
        anywhere, and its body could be anything."""
        scheme = (urlsplit(url).scheme if isinstance(url, str) else "").lower()
        if scheme not in ("http", "https"):
            raise self.error(f"the result URL has the scheme {scheme!r}; only http and https links are downloaded")
        try:
            check_url(url, what="the result URL", plain_http_anywhere=True)
        except InputError as exc:  # the provider sent it: not the user's input
            raise self.error(exc.message) from None
        kwargs = {"headers": {"Accept": "image/*"}}
        try:
            reply = self._with_retries(lambda: self._fetch("GET", url, kwargs, "download", max_bytes=max_bytes, download=True), what="download")
        except RemoteImageError as exc:
            if exc.status in EXPIRED_LINK_STATUSES:
                exc.hint = "result links expire (often after an hour); run the node again"
            raise
        if sniff_format(reply.content) is None:
            raise self.error(
                f"{_download_prefix(True)}the link answered with {len(reply.content)} bytes of "
                f"{reply.content_type or 'an unnamed type'} that are not an image (they are not shown)",
                status=reply.status,
            )
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

    def _endpoint(self) -> tuple[str, int] | None:
        """Host and port of the provider endpoint: the one private address a hop may reach."""
        try:
            parts = urlsplit(self.base_url)
            return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        except (RemoteImageError, ValueError):
            return None

    def _fetch(self, method: str, url: str, kwargs: dict, session_name: str, *, key: str = "",
               max_bytes: int = MAX_RESPONSE_BYTES, download: bool = False) -> Reply:
        """One request and the redirects it leads to, followed here hop by hop: the key goes only
        to the origin it was meant for, and each hop's address is checked (``Destination``)."""
        origin = _origin(url)
        endpoint = self._endpoint()
        what = "the result link" if download else "the request"
        hops = 0
        while True:
            headers = dict(kwargs["headers"])
            if key and _origin(url) == origin:
                headers["Authorization"] = f"Bearer {key}"
            destination = Destination(endpoint, what)
            refusal = _literal_refusal(url, destination)
            if refusal:
                raise self.error(_download_prefix(download) + refusal)
            reply = self._send(method, url, {**kwargs, "headers": headers}, session_name, destination, max_bytes)
            location = reply.headers.get("Location")
            if reply.status not in REDIRECT_STATUSES or not location:
                return reply
            host = urlsplit(url).netloc
            if hops == MAX_REDIRECTS:
                raise self.error(f"{_download_prefix(download)}too many redirects from {host}", hint="check the base URL")
            try:
                target = check_url(urljoin(url, location), what="the redirect", plain_http_anywhere=True)
            except (InputError, ValueError):
                raise self.error(
                    f"{_download_prefix(download)}{host} redirected to {clip(location, 120)}, which is not an http(s) URL "
                    "that can be followed",
                    hint="check the base URL",
                ) from None
            if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
                method, kwargs = "GET", {"headers": kwargs["headers"]}  # as browsers do: the body is not sent again
            url, what, hops = target, "a redirect", hops + 1

    def _send(self, method: str, url: str, kwargs: dict, session_name: str, destination: Destination,
              max_bytes: int = MAX_RESPONSE_BYTES) -> Reply:
        """Run one HTTP exchange in a worker thread; this thread watches for interrupts."""
        comfy.raise_if_interrupted()
        self.attempts += 1
        cancelled = threading.Event()
        done = threading.Event()
        box: dict[str, Any] = {}
        session = session_for(session_name)
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)

        def exchange() -> None:
            _destination.value = destination
            try:
                # The adapter, not Session.send: a session reads a redirect's whole body and parses
                # its Location even when told not to follow it; redirects are ``_fetch``'s business.
                prepared = session.prepare_request(requests.Request(method, url, **kwargs))
                settings = session.merge_environment_settings(prepared.url, {}, True, None, None)  # proxies, TLS
                response = session.get_adapter(prepared.url).send(prepared, timeout=timeout, **settings)
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
                _sent_at.pop(threading.get_ident(), None)
                _destination.value = None
                done.set()

        def abandon() -> None:
            cancelled.set()
            # the provider sees the hang-up, the worker's read returns at once and it ends on its own
            _drop_connection(worker.ident, box.get("response"))

        worker = threading.Thread(target=exchange, name=f"hosted-images-{session_name}", daemon=True)
        worker.start()
        shown = -1
        read = self.policy.read_timeout
        body_deadline = None  # the read timeout only bounds each wait; these bound each stage
        while not done.wait(POLL_SECONDS):
            if comfy.interrupted():
                abandon()
                comfy.raise_if_interrupted()
            now = time.monotonic()
            if "response" in box:
                if body_deadline is None:
                    body_deadline = now + read
                if now > body_deadline:
                    abandon()
                    raise self._slow_reply_error(url, session_name == "download", "the reply", "it began")
            else:
                sent = _sent_at.get(worker.ident)
                if sent is not None and now > sent + read + HEAD_GRACE_SECONDS:
                    abandon()
                    raise self._slow_reply_error(
                        url, session_name == "download", "the status line and headers of the reply", "the request was sent"
                    )
            elapsed = int(now - self.started)
            if elapsed != shown:
                shown = elapsed
                self.progress("waiting for the provider" if self.attempts == 1 else f"attempt {self.attempts}")
        if "error" in box:
            if isinstance(box["error"], DestinationRefused):
                raise self.error(_download_prefix(session_name == "download") + box["error"].message)
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
            lasting = lasting_refusal(status, parse_json(reply.content)) if status in (429, 503) else ""
            if lasting:  # out of quota, or no route to the model: waiting will not help
                raise self._status_error(reply, what, lasting)
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

    def _status_error(self, reply: Reply, what: str, lasting: str = "") -> RemoteImageError:
        download = what == "download"
        if download:  # a link's body is never quoted: it could be anything, from anywhere
            message = f"the link answered HTTP {reply.status} (its body is not shown)"
        else:
            body = parse_json(reply.content)
            message = self._error_message(body) if body is not None else ""
            message = clip(message, MESSAGE_LIMIT) if message else quote_body(reply.content) or f"HTTP {reply.status} with an empty body"
        hint = self._hints.get(reply.status, "")
        own_hint = self._provider_hints.get(reply.status, "")  # the provider's facts, kept beside ours
        retry_after = retry_after_seconds(reply.headers) if reply.status in (429, 503) and not lasting else None
        if lasting:
            hint = _join_hints(lasting, own_hint)
        elif reply.status == 401 and not download:
            if self.provider.key_env:
                refused = f"the key was refused: set {self.provider.key_env} to a valid key (or check its permissions) and restart ComfyUI"
            elif self.provider.key_required:
                refused = f"the key was refused: set api_key under [{self.provider.id}] of the credentials file to a valid key"
            else:
                refused = "the server wants a key: name the environment variable that holds it in api_key_env"
            hint = _join_hints(refused, own_hint)
        elif reply.status == 403 and not download and self.provider.key_env:
            hint += f"; the key comes from {self.provider.key_env}"
        elif reply.status == 429:
            when = f"in {retry_after:.0f}s" if retry_after is not None else "in a minute"
            hint = _join_hints(f"rate limited by {self.provider.label} after {self.attempts} attempt(s); try again {when}", own_hint)
        return self.error(
            _download_prefix(download) + message,
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
        if isinstance(exc, requests.exceptions.SSLError):
            return self.error(f"{prefix}TLS error talking to {host}: {_reason(exc)}")
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
            return self.error(f"{prefix}{host} is not a URL that can be called: {_reason(exc)}", hint="check the base URL")
        return self.error(
            f"{prefix}the connection to {host} was dropped before the reply was complete ({_reason(exc)})",
            hint="the request was sent, so it may have been billed; it was not retried",
        )

    def _slow_reply_error(self, url: str, download: bool, part: str, since: str) -> RemoteImageError:
        host = urlsplit(url).netloc or "the provider"
        read = self.policy.read_timeout
        return self.error(
            f"{_download_prefix(download)}{part} from {host} was still arriving {read:g}s after {since}, so it was abandoned",
            hint="the request was sent, so it may have been billed; it was not retried. Raise "
            "HOSTED_IMAGES_READ_TIMEOUT for slow links.",
        )


def _make_fit_to_show(error: RemoteImageError) -> RemoteImageError:
    """Redact keys and strip terminal controls from everything an error shows, before any cut."""
    error.message = clip(error.message, MESSAGE_LIMIT * 4)
    error.hint = clip(error.hint, MESSAGE_LIMIT)
    error.trace_id = clip(error.trace_id, 120)
    return error


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _literal_refusal(url: str, destination: Destination) -> str:
    """The refusal of a hop whose host is a literal address -- known before connecting, and
    checked even when a proxy would connect for us."""
    _, host, port = _origin(url)
    return destination.refusal(host, port) if _ip(host) is not None else ""


def _text_leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _text_leaves(item, f"{path}.{name}" if path else str(name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _text_leaves(item, f"{path}[{index}]")


def _check_sendable(json_body: Any, files: list | None) -> None:
    """Text that cannot be encoded (a lone surrogate) is refused before sending, naming the field,
    whichever node built the request -- never a UnicodeEncodeError from deep inside requests."""
    fields = _text_leaves(json_body) if json_body is not None else ((name, part[1]) for name, part in files or [])
    for name, text in fields:
        if isinstance(text, str):
            valid_text(text, what=name or "a text field")


def _download_prefix(download: bool) -> str:
    """Errors of a result download say so: the request itself went through."""
    return "downloading the result image: " if download else ""


def _join_hints(first: str, second: str) -> str:
    return f"{first}; {second}" if second and second != first else first


def _trace_id(headers: Mapping[str, str]) -> str:
    for name in ("x-trace-id", "x-request-id", "request-id", "cf-ray"):
        value = headers.get(name)
        if value:
            return clip(value, 120)
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
    return clip(text, 200) or type(exc).__name__

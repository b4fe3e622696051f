"""One HTTP exchange: the only code that opens a connection.

One ``requests.Session`` per provider (connections are reused). Each exchange runs in a worker
thread while the calling thread watches ComfyUI's interrupt flag several times a second; on an
interrupt, or when a stage of the reply outlasts the read timeout, the connection is dropped.

The read timeout bounds every stage of a reply: the status line and headers, counted from when
the request was sent, then the whole body. A reply that trickles in byte by byte would otherwise
never trip a per-read timeout. A reply that is an event stream (asked for with ``events``) is read
as it arrives instead: each event is handed to the caller's thread as soon as it is complete, and
the read timeout bounds the wait for each event, and an overall deadline
(``HOSTED_IMAGES_STREAM_DEADLINE``, 30 minutes) the whole stream; the stream is left as soon as the
caller has what it asked for. Events wait in a short queue: a server cannot pile them up in memory.

Where requests go (docs/design.md, "Keys and endpoints"): a request carrying a key goes
only to the endpoint configured outside the workflow or to a trusted host (the caller
checks that); redirects are followed here, hop by hop, and a key never follows one to another
origin; no redirect or result link may lead to a loopback, private or link-local address other
than the provider endpoint's own host and port -- checked on the address actually connected to,
so a name that resolves differently the second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from . import comfy
from .credentials import check_url, ip_of
from .errors import InputError, RemoteImageError, Unanswered
from .failures import Fetch, cut_stream, endless_stream, not_json, slow_reply, stalled_stream, too_large
from .payloads import MAX_JSON_VALUES, TooManyValues, parse_json
from .redaction import clip
from .sse import EventStreamReader, ServerEvent

POLL_SECONDS = 0.05  # how often a waiting call looks at ComfyUI's interrupt flag
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
USER_AGENT = "comfyui-hosted-image-apis/1.0"
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# The reply's head is abandoned this long after the read timeout: a head that has not begun by
# then already ended in requests' own read timeout (with its clearer message); one still
# trickling in has not, and never will.
HEAD_GRACE_SECONDS = 0.5
STREAM_CHUNK = 64 * 1024  # the most read at once from an event stream; less is handed on as it comes
STREAM_QUEUE = 4  # events read ahead of the caller at most: the reader waits for the rest
STREAM_DEADLINE_ENV = "HOSTED_IMAGES_STREAM_DEADLINE"
STREAM_DEADLINE_SECONDS = 1800.0  # ten images at the slowest quality take minutes, never half an hour


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    max_json_values: int = MAX_JSON_VALUES  # what parsing the content may cost (see payloads.parse_json)

    @property
    def content_type(self) -> str:
        return _content_type(self.headers)

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


@dataclass
class Watch:
    """What the calling thread does while an exchange runs: the timeouts, and whom to tell."""

    connect_timeout: float
    read_timeout: float
    started: float  # time.monotonic() of the call: ``each_second`` runs when a new whole second begins
    before_each_hop: Callable[[], None]  # e.g. count the attempt, honour an interrupt
    each_second: Callable[[], None]  # e.g. progress text on the node


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
        ip = ip_of(address)
        if ip is None or ip.is_global:
            return ""
        if self.endpoint is not None and (ip, port) in _addresses(*self.endpoint):
            return ""
        kind = "loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "private or reserved"
        return (
            f"{self.what} leads to {address} port {port}, a {kind} address that is not the provider's endpoint, "
            "so it was not followed"
        )


def _addresses(host: str, port: int) -> set:
    """Every (address, port) ``host`` resolves to."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {(ip_of(info[4][0].split("%")[0]), port) for info in found}


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


# --- one request and its redirects -----------------------------------------------------------


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _literal_refusal(url: str, destination: Destination) -> str:
    """The refusal of a hop whose host is a literal address -- known before connecting, and
    checked even when a proxy would connect for us."""
    _, host, port = origin(url)
    return destination.refusal(host, port) if ip_of(host) is not None else ""


def fetch(
    method: str,
    url: str,
    kwargs: dict,
    *,
    fetching: Fetch,
    session_name: str,
    endpoint: tuple[str, int] | None,
    watch: Watch,
    key: str = "",
    max_bytes: int = MAX_RESPONSE_BYTES,
    events: Callable[[ServerEvent], None] | None = None,
) -> Reply:
    """One request and the redirects it leads to, followed here hop by hop: the key goes only
    to the origin it was meant for, and each hop's address is checked (``Destination``).
    ``events``: see ``send``.

    Raises ``Unanswered`` when a hop got no complete reply, and ``RemoteImageError`` for a hop
    that may not be made or a reply that was abandoned."""
    start = origin(url)
    what = fetching.value
    hops = 0
    while True:
        headers = dict(kwargs["headers"])
        if key and origin(url) == start:
            headers["Authorization"] = f"Bearer {key}"
        destination = Destination(endpoint, what)
        refusal = _literal_refusal(url, destination)
        if refusal:
            raise RemoteImageError(fetching.prefix + refusal)
        hop = {**kwargs, "headers": headers}
        reply = send(method, url, hop, fetching, session_name, destination, watch, max_bytes, events)
        location = reply.headers.get("Location")
        if reply.status not in REDIRECT_STATUSES or not location:
            return reply
        host = urlsplit(url).netloc
        if hops == MAX_REDIRECTS:
            raise RemoteImageError(f"{fetching.prefix}too many redirects from {host}", hint="check the base URL")
        try:
            target = check_url(urljoin(url, location), what="the redirect", plain_http_anywhere=True)
        except (InputError, ValueError):
            raise RemoteImageError(
                f"{fetching.prefix}{host} redirected to {clip(location, 120)}, which is not an http(s) URL "
                "that can be followed",
                hint="check the base URL",
            ) from None
        if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
            method, kwargs = "GET", {"headers": kwargs["headers"]}  # as browsers do: the body is not sent again
        url, what, hops = target, "a redirect", hops + 1


def send(
    method: str,
    url: str,
    kwargs: dict,
    fetching: Fetch,
    session_name: str,
    destination: Destination,
    watch: Watch,
    max_bytes: int = MAX_RESPONSE_BYTES,
    events: Callable[[ServerEvent], None] | None = None,
) -> Reply:
    """Run one HTTP exchange in a worker thread; this thread watches for interrupts and deadlines.

    ``events``: when given and the reply is a successful event stream, each event is passed to it here,
    in the calling thread, as soon as it has arrived; the reply then comes back without content.
    Whatever ``events`` raises ends the exchange (the connection is dropped); so does ``events``
    answering True (it has what it asked for), after which the reply comes back at once."""
    comfy.raise_if_interrupted()
    watch.before_each_hop()
    cancelled = threading.Event()
    done = threading.Event()
    box: dict[str, Any] = {}
    arrived: queue.Queue[ServerEvent] = queue.Queue(STREAM_QUEUE)
    session = session_for(session_name)
    timeout = (watch.connect_timeout, watch.read_timeout)

    def exchange() -> None:
        _destination.value = destination
        try:
            # The adapter, not Session.send: a session reads a redirect's whole body and parses
            # its Location even when told not to follow it; redirects are ``fetch``'s business.
            prepared = session.prepare_request(requests.Request(method, url, **kwargs))
            settings = session.merge_environment_settings(prepared.url, {}, True, None, None)  # proxies, TLS
            response = session.get_adapter(prepared.url).send(prepared, timeout=timeout, **settings)
            box["stream"] = events is not None and _is_event_stream(response)
            box["response"] = response
            try:
                if box["stream"]:
                    _read_events(response, arrived, cancelled, max_bytes)
                    box["reply"] = Reply(response.status_code, response.headers, b"", response.url)
                    return
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
    read = watch.read_timeout
    body_deadline = None  # the read timeout only bounds each wait; these bound each stage
    stream_deadline = None
    dispatched = 0
    while True:
        finished = done.wait(POLL_SECONDS)
        while not arrived.empty():
            if comfy.interrupted():  # however many events wait, Cancel comes first
                abandon()
                comfy.raise_if_interrupted()
            try:
                enough = events(arrived.get_nowait())
            except BaseException:
                abandon()
                raise
            dispatched += 1
            body_deadline = time.monotonic() + read  # in a stream, each event may take the read timeout
            if enough:  # every image asked for came: whatever else the server sends is not read
                response = box["response"]
                abandon()
                return Reply(response.status_code, response.headers, b"", response.url)
        if finished:
            break
        if comfy.interrupted():
            abandon()
            comfy.raise_if_interrupted()
        now = time.monotonic()
        if "response" in box:
            if body_deadline is None:
                body_deadline = now + read
            if box["stream"] and stream_deadline is None:
                stream_deadline = now + stream_seconds()
            if now > body_deadline:
                abandon()
                if box["stream"]:
                    raise stalled_stream(url, read, dispatched)
                raise slow_reply(url, fetching, "the reply", "it began", read)
            if stream_deadline is not None and now > stream_deadline:
                abandon()
                raise endless_stream(url, stream_seconds(), dispatched)
        else:
            sent = _sent_at.get(worker.ident)
            if sent is not None and now > sent + read + HEAD_GRACE_SECONDS:
                abandon()
                head = "the status line and headers of the reply"
                raise slow_reply(url, fetching, head, "the request was sent", read)
        elapsed = int(now - watch.started)
        if elapsed != shown:
            shown = elapsed
            watch.each_second()
    if "error" in box:
        error = box["error"]
        if isinstance(error, DestinationRefused):
            raise RemoteImageError(fetching.prefix + error.message)
        if box.get("stream") and isinstance(error, _CONNECTION_ERRORS):
            if isinstance(error, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
                raise stalled_stream(url, read, dispatched) from None
            raise cut_stream(url, dispatched, _reason(error)) from None
        if isinstance(error, requests.exceptions.RequestException):
            raise _unanswered(error) from None
        raise error
    if "too_large" in box:
        raise too_large(max_bytes)
    return box["reply"]


_CONNECTION_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


def _content_type(headers) -> str:
    return headers.get("Content-Type", "").split(";")[0].strip().lower()


def _is_event_stream(response) -> bool:
    return 200 <= response.status_code < 300 and _content_type(response.headers) == "text/event-stream"


def stream_seconds() -> float:
    """The overall deadline of a stream: HOSTED_IMAGES_STREAM_DEADLINE seconds, else 30 minutes."""
    try:
        seconds = float(os.environ.get(STREAM_DEADLINE_ENV, "") or STREAM_DEADLINE_SECONDS)
    except ValueError:
        return STREAM_DEADLINE_SECONDS
    return seconds if seconds > 0 else STREAM_DEADLINE_SECONDS


def _queue(arrived: queue.Queue, event: ServerEvent, cancelled: threading.Event) -> None:
    """Hand an event to the caller, waiting while it is behind (the queue is short)."""
    while not cancelled.is_set():
        try:
            arrived.put(event, timeout=POLL_SECONDS)
            return
        except queue.Full:
            continue


def _read_events(response, arrived: queue.Queue, cancelled: threading.Event, max_bytes: int) -> None:
    """Parse an event stream as its bytes arrive, queueing each complete event."""
    raw = response.raw
    if hasattr(raw, "read1"):  # urllib3 2: whatever has arrived, up to STREAM_CHUNK
        pieces = iter(functools.partial(raw.read1, STREAM_CHUNK, decode_content=True), b"")
    else:  # urllib3 1.26: chunk by chunk of a chunked reply (how providers send streams)
        pieces = response.iter_content(None)
    reader = EventStreamReader()
    size = 0
    for piece in pieces:
        if cancelled.is_set():
            return
        size += len(piece)
        if size > max_bytes:
            raise too_large(max_bytes)
        for event in reader.feed(piece):
            _queue(arrived, event, cancelled)
    for event in reader.close():
        _queue(arrived, event, cancelled)


def _unanswered(exc: requests.exceptions.RequestException) -> Unanswered:
    """What requests raised, as the retry policy and the wording read it."""
    host = urlsplit(getattr(exc.request, "url", "") or "").netloc
    if isinstance(exc, requests.exceptions.ReadTimeout):
        how = Unanswered.READ_TIMEOUT
    elif _never_connected(exc):
        how = Unanswered.NEVER_CONNECTED
    elif isinstance(exc, requests.exceptions.SSLError):
        how = Unanswered.TLS
    elif isinstance(exc, _NOT_A_URL):
        how = Unanswered.NOT_A_URL
    else:
        how = Unanswered.DROPPED
    return Unanswered(how, host, _reason(exc))


_NOT_A_URL = (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)


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

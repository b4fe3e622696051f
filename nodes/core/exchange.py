"""One HTTP exchange and the redirects it leads to: with ``connections``, the only code that
opens a connection.

Each exchange runs in a worker
thread while the calling thread watches ComfyUI's interrupt flag several times a second; on an
interrupt, or when a stage of the reply outlasts the read timeout, the connection is dropped.

The read timeout bounds every stage of a reply: the status line and headers, counted from when
the request was sent, then the whole body. A reply that trickles in byte by byte would otherwise
never trip a per-read timeout. A reply that is an event stream (asked for with ``events``) is read
as it arrives instead: each event is handed to the caller's thread as soon as it is complete, and
the read timeout bounds the wait for each event, and an overall deadline
(``HOSTED_IMAGES_STREAM_DEADLINE``, 30 minutes) the whole stream; the stream is left as soon as the
caller has what it asked for. Events wait in a short queue: a server cannot pile them up in memory.

Which address each hop may connect to, the sessions it reuses and how a connection is dropped
are ``connections``.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from . import comfy, connections
from .connections import Destination
from .credentials import check_url, ip_of
from .errors import InputError, RemoteImageError, Unanswered
from .failures import Fetch, cut_stream, endless_stream, slow_reply, stalled_stream, too_large
from .payloads import Reply, content_type
from .redaction import clip
from .sse import STREAM_QUEUE, ServerEvent, read_events, stream_seconds

POLL_SECONDS = 0.05  # how often a waiting call looks at ComfyUI's interrupt flag
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# The reply's head is abandoned this long after the read timeout: a head that has not begun by
# then already ended in requests' own read timeout (with its clearer message); one still
# trickling in has not, and never will.
HEAD_GRACE_SECONDS = 0.5


@dataclass
class Watch:
    """What the calling thread does while an exchange runs: the timeouts, and whom to tell."""

    connect_timeout: float
    read_timeout: float
    started: float  # time.monotonic() of the call: ``each_second`` runs when a new whole second begins
    before_each_hop: Callable[[], None]  # e.g. count the attempt, honour an interrupt
    each_second: Callable[[], None]  # e.g. progress text on the node


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
    exchange = _Exchange(method, url, kwargs, fetching, destination, watch, max_bytes, events)
    exchange.start(connections.session_for(session_name), f"hosted-images-{session_name}")
    return exchange.wait()


class _Exchange:
    """One exchange, in stages. In a worker thread: ``_work`` sends the request (``_request``),
    then reads the body (``_read_body``) or hands on the events as they arrive. In the calling
    thread: ``wait`` passes each event on (``_dispatch``), honours Cancel and the deadlines
    (``_check_deadlines``), ticks the node's progress, and ends in ``_result``: the reply, or one
    error as users read it. ``_abandon`` drops the connection at any stage."""

    def __init__(self, method, url, kwargs, fetching: Fetch, destination: Destination, watch: Watch, max_bytes, events):
        self.method, self.url, self.kwargs, self.fetching = method, url, kwargs, fetching
        self.destination, self.watch, self.max_bytes, self.events = destination, watch, max_bytes, events
        self.cancelled, self.done = threading.Event(), threading.Event()
        self.box: dict[str, Any] = {}  # what the worker got: response, stream, reply, too_large or error
        self.arrived: queue.Queue[ServerEvent] = queue.Queue(STREAM_QUEUE)
        self.dispatched = 0  # events handed to ``events``
        self.body_deadline: float | None = None  # the read timeout only bounds each wait; these bound each stage
        self.stream_deadline: float | None = None

    def start(self, session: requests.Session, name: str) -> None:
        self.session = session
        self.worker = threading.Thread(target=self._work, name=name, daemon=True)
        self.worker.start()

    # ---- in the worker thread

    def _work(self) -> None:
        connections.bind(self.destination)
        try:
            response = self._request()
            self.box["stream"] = self.events is not None and _is_event_stream(response)
            self.box["response"] = response
            try:
                if self.box["stream"]:
                    read_events(response, self.arrived, self.cancelled, self.max_bytes)
                    self.box["reply"] = Reply(response.status_code, response.headers, b"", response.url)
                else:
                    self._read_body(response)
            finally:
                response.close()
        except BaseException as exc:  # noqa: BLE001 -- handed to the waiting thread
            self.box["error"] = exc
        finally:
            connections.release()
            self.done.set()

    def _request(self):
        # The adapter, not Session.send: a session reads a redirect's whole body and parses its
        # Location even when told not to follow it; redirects are ``fetch``'s business.
        session = self.session
        prepared = session.prepare_request(requests.Request(self.method, self.url, **self.kwargs))
        settings = session.merge_environment_settings(prepared.url, {}, True, None, None)  # proxies, TLS
        timeout = (self.watch.connect_timeout, self.watch.read_timeout)
        return session.get_adapter(prepared.url).send(prepared, timeout=timeout, **settings)

    def _read_body(self, response) -> None:
        chunks, size = [], 0
        for chunk in response.iter_content(1 << 18):
            if self.cancelled.is_set():
                return
            size += len(chunk)
            if size > self.max_bytes:
                self.box["too_large"] = size
                return
            chunks.append(chunk)
        self.box["reply"] = Reply(response.status_code, response.headers, b"".join(chunks), response.url)

    # ---- in the calling thread

    def wait(self) -> Reply:
        shown = -1
        while True:
            finished = self.done.wait(POLL_SECONDS)
            enough = self._dispatch()
            if enough is not None:
                return enough
            if finished:
                return self._result()
            if comfy.interrupted():
                self._abandon()
                comfy.raise_if_interrupted()
            now = time.monotonic()
            self._check_deadlines(now)
            elapsed = int(now - self.watch.started)
            if elapsed != shown:
                shown = elapsed
                self.watch.each_second()

    def _dispatch(self) -> Reply | None:
        """Hand each event that has arrived to ``events``; the reply, at once, when it has every
        image asked for (whatever else the server sends is not read)."""
        while not self.arrived.empty():
            if comfy.interrupted():  # however many events wait, Cancel comes first
                self._abandon()
                comfy.raise_if_interrupted()
            try:
                enough = self.events(self.arrived.get_nowait())
            except BaseException:
                self._abandon()
                raise
            self.dispatched += 1
            self.body_deadline = time.monotonic() + self.watch.read_timeout  # each event may take it
            if enough:
                response = self.box["response"]
                self._abandon()
                return Reply(response.status_code, response.headers, b"", response.url)
        return None

    def _check_deadlines(self, now: float) -> None:
        """The reply's head within the read timeout of the request, its body (or each event) within
        the read timeout, a stream within its overall deadline; else the exchange is abandoned."""
        read = self.watch.read_timeout
        if "response" not in self.box:
            sent = connections.sent_at(self.worker.ident)
            if sent is not None and now > sent + read + HEAD_GRACE_SECONDS:
                self._abandon()
                head = "the status line and headers of the reply"
                raise slow_reply(self.url, self.fetching, head, "the request was sent", read)
            return
        if self.body_deadline is None:
            self.body_deadline = now + read
        if self.box["stream"] and self.stream_deadline is None:
            self.stream_deadline = now + stream_seconds()
        if now > self.body_deadline:
            self._abandon()
            if self.box["stream"]:
                raise stalled_stream(self.url, read, self.dispatched)
            raise slow_reply(self.url, self.fetching, "the reply", "it began", read)
        if self.stream_deadline is not None and now > self.stream_deadline:
            self._abandon()
            raise endless_stream(self.url, stream_seconds(), self.dispatched)

    def _result(self) -> Reply:
        """What the worker ended with: the reply, or one error as users read it."""
        error = self.box.get("error")
        if error is not None:
            if isinstance(error, connections.DestinationRefused):
                raise RemoteImageError(self.fetching.prefix + error.message)
            if self.box.get("stream") and isinstance(error, _CONNECTION_ERRORS):
                if isinstance(error, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
                    raise stalled_stream(self.url, self.watch.read_timeout, self.dispatched) from None
                raise cut_stream(self.url, self.dispatched, _reason(error)) from None
            if isinstance(error, requests.exceptions.RequestException):
                raise _unanswered(error) from None
            raise error
        if "too_large" in self.box:
            raise too_large(self.max_bytes)
        return self.box["reply"]

    def _abandon(self) -> None:
        self.cancelled.set()
        # the provider sees the hang-up, the worker's read returns at once and it ends on its own
        connections.drop(self.worker.ident, self.box.get("response"))


_CONNECTION_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


def _is_event_stream(response) -> bool:
    return 200 <= response.status_code < 300 and content_type(response.headers) == "text/event-stream"


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

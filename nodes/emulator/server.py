"""A small HTTP server (``EmulatorServer``) that hosts emulated provider APIs (``EmulatedAPI``,
one per provider, each mounted at a path prefix) on loopback.

Each emulated API answers in its provider's exact shapes (see docs/providers.md), records every request
and the most requests it held at once, and can be told to misbehave: a status with the provider's
own error envelope, a delay before the headers, a status line and headers trickling in byte by
byte, a slow, truncated or never-ending body, a dropped connection, any raw body, its own JSON
answer rewritten (e.g. a damaged base64 field), or a reply held until several requests are in
flight together. A reply that is an event stream goes out event by event (chunked, as providers
send them) and can be slowed between events, stalled, filled with keep-alive comments, cut off
mid-event, or ended by the provider's error event. Tests drive apps in process; the
``/__emulator/<app>/…`` control routes do the same for a separate process.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..core.journal import EMULATOR_HEADER


@dataclass
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str = ""

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass
class Request:
    method: str
    path: str  # below the app's prefix, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    parts: list[Part] | None = None  # multipart/form-data
    time: float = field(default_factory=time.time)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """Text parts by name (the last one wins)."""
        return {p.name: p.text for p in self.parts or [] if p.filename is None}

    def files(self, name: str) -> list[Part]:
        return [p for p in self.parts or [] if p.name == name and p.filename is not None]

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None

    def summary(self) -> dict:
        """What the control route shows: never the Authorization header's value."""
        return {
            "method": self.method,
            "path": self.path,
            "authorization": "present" if "authorization" in self.headers else "absent",
            "content_type": self.headers.get("content-type", ""),
            "json": self.json() if "json" in self.headers.get("content-type", "") else None,
            "form": {k: (v if len(v) < 200 else v[:60] + "…") for k, v in self.form().items()} if self.parts else None,
            "files": [p.name for p in self.parts or [] if p.filename is not None],
        }


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    events: list[bytes] | None = None  # an event stream: each item one whole event, sent in turn

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict | None = None) -> Response:
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def stream(cls, events: list[bytes], headers: dict | None = None) -> Response:
        return cls(
            200, b"", {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **(headers or {})}, events
        )


def sse_event(name: str, payload: Any) -> bytes:
    """One server-sent event: its name and its JSON data, ended by a blank line."""
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


@dataclass
class Fault:
    """One injected misbehaviour, used for the next ``times`` matching requests."""

    status: int | None = None  # answer with this status and the app's error envelope
    message: str = "injected fault"
    body: bytes | None = None  # raw body instead (with ``content_type``); status defaults to 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before anything is sent
    gather: int = 0  # hold the reply until this many requests are in flight at once (at most GATHER_SECONDS)
    drop: bool = False  # close the connection without answering
    drop_mid_body: bool = False  # send the headers and half the body, then close
    slow_headers: float = 0.0  # seconds to spread the status line and headers over, a byte at a time
    slow_body: float = 0.0  # seconds to spread the body over
    truncate: bool = False  # announce the full length, send half
    endless: bool = False  # send the headers and half the body, then a byte now and then, never finishing
    rewrite: Callable[[Any], Any] | None = None  # the app answers, then this rewrites its JSON body
    # an event stream the app answers with:
    event_gap: float = 0.0  # seconds between its events
    keep_alive: float = 0.0  # a ": keep-alive" comment this often (and a blank line) while it waits
    stall_after: int | None = None  # after this many events, wait ``stall`` seconds more
    stall: float = 0.0
    cut_after: int | None = None  # after this many events, send half of the next one and close the connection
    error_after: int | None = None  # after this many events, the app's error event (``message``) ends the stream
    path: str | None = None  # only requests whose path contains this
    method: str | None = None  # only requests of this method (e.g. "POST": a node's paid call, not its model list)
    times: int = 1

    @classmethod
    def from_dict(cls, data: dict) -> Fault:
        data = dict(data)
        if isinstance(data.get("body"), str):
            data["body"] = data["body"].encode()
        data.pop("rewrite", None)  # a function: only tests in the same process can give one
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class EmulatedAPI:
    """One provider's API as the emulator plays it. Subclasses fill ``routes`` and ``error``."""

    name = "app"  # the id of the provider it plays (its descriptor's), also its mount prefix
    emulator = None  # the ``Emulator`` that declared it, once made by it (its variables, its base path)

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.disconnects: list[str] = []  # paths whose client hung up before the reply was complete (delay, endless)
        self.lock = threading.Lock()
        self.in_flight = 0  # requests received and not yet answered
        self.max_in_flight = 0  # the most at once since the last reset: concurrency, counted not timed
        self._in_flight_changed = threading.Condition(self.lock)
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {}
        self.base_url = ""  # set when mounted on a running server
        # every reply says it is the emulator's, so the spend journal never counts these calls; a
        # test that plays a real provider's spend turns it off
        self.announces = True

    def error(self, status: int, message: str) -> Response:
        return Response.json({"error": {"message": message}}, status)

    def environment(self, server_url: str) -> dict[str, str]:
        """The variables that point the pack at this API as served by the server at ``server_url``."""
        return self.emulator.environment(f"{server_url}{self.emulator.prefix}")

    def error_event(self, message: str) -> bytes:
        """The event a stream of this provider ends with when it fails on the way: its error envelope."""
        return sse_event("error", json.loads(self.error(500, message).body))

    def inject(self, **fault) -> Fault:
        item = Fault(**fault)
        with self.lock:
            self.faults.append(item)
        return item

    def take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (fault.path is None or fault.path in request.path) and fault.method in (None, request.method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def handle(self, request: Request) -> Response:
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self.routes):
                return self.error(405, f"method {request.method} not allowed on {request.path}")
            return self.error(404, f"no route {request.method} {request.path}")
        return handler(request)

    def finalize(self, response: Response) -> Response:
        """Last touch on every reply, injected faults included (e.g. a trace id header)."""
        return response

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.disconnects.clear()
            self.max_in_flight = self.in_flight

    def arrived(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._in_flight_changed.notify_all()

    def answered(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def hung_up(self, path: str) -> None:
        """The client hung up before the reply was out."""
        with self.lock:
            self.disconnects.append(path)

    def wait_for_in_flight(self, count: int, seconds: float) -> bool:
        """Block until ``count`` requests are in flight at once (True) or ``seconds`` pass (False)."""
        with self.lock:
            return self._in_flight_changed.wait_for(lambda: self.in_flight >= count, timeout=seconds)

    def calls(self, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if path is None or r.path == path]


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_DISPOSITION = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_multipart(body: bytes, content_type: str) -> list[Part] | None:
    match = _BOUNDARY.search(content_type)
    if not match:
        return None
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for section in body.split(delimiter)[1:]:
        if section.startswith(b"--"):
            break
        section = section[2:] if section.startswith(b"\r\n") else section
        head, _, data = section.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = dict(_DISPOSITION.findall(headers.get("content-disposition", "")))
        parts.append(Part(params.get("name", ""), data, params.get("filename"), headers.get("content-type", "")))
    return parts


ENDLESS_SECONDS = 30.0  # how long an ``endless`` reply trickles before the emulator gives up
GATHER_SECONDS = 10.0  # how long a ``gather`` fault holds a reply for the others (a client calling one by one)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def log_message(self, *args) -> None:  # quiet: tests and the CLI print what matters
        pass

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        app, sub_path = self.server.route(split.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if app is None:
            return self._send(Response.json({"error": "unknown emulator path"}, 404))
        if sub_path.startswith("/__emulator/"):
            return self._send(self.server.control(app, self.command, sub_path, body))
        parts = None
        if headers.get("content-type", "").startswith("multipart/form-data"):
            parts = parse_multipart(body, headers["content-type"])
        request = Request(self.command, sub_path, parse_qs(split.query), headers, body, parts)
        app.arrived(request)
        try:
            fault = app.take_fault(request)
            if fault is not None:
                return self._fault(app, fault, request)
            try:
                response = app.handle(request)
            except Exception as exc:  # noqa: BLE001 -- an emulator bug must still answer
                response = app.error(500, f"emulator error: {type(exc).__name__}: {exc}")
            response = _marked(app, app.finalize(response))
            if response.events is not None:
                return self._send_stream(app, request, response, Fault())
            self._send(response)
        finally:
            app.answered()

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def _fault(self, app: EmulatedAPI, fault: Fault, request: Request) -> None:
        if fault.gather:
            app.wait_for_in_flight(fault.gather, GATHER_SECONDS)
        if fault.delay and not self._wait_for_client(fault.delay):
            app.hung_up(request.path)
            self.close_connection = True
            return
        if fault.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.body is not None:
            response = Response(fault.status or 200, fault.body, {"Content-Type": fault.content_type})
        elif fault.status is not None:
            response = app.error(fault.status, fault.message)
        else:
            response = app.handle(request)
            if fault.rewrite is not None:
                response = _rewritten(response, fault.rewrite)
        response.headers.update(fault.headers)
        response = _marked(app, app.finalize(response))
        if response.events is not None:
            return self._send_stream(app, request, response, fault)
        if fault.endless:
            return self._send_endless(app, request, response)
        if fault.drop_mid_body or fault.truncate:
            self._send(response, cut=len(response.body) // 2)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response, slow=fault.slow_body, slow_head=fault.slow_headers)

    def _wait_for_client(self, seconds: float) -> bool:
        """Sleep like a slow provider, but notice (and return False) when the client hangs up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable:
                try:
                    still_there = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    still_there = b""
                if not still_there:
                    return False
                time.sleep(min(left, 0.05))
        return True

    def _send(self, response: Response, cut: int | None = None, slow: float = 0.0, slow_head: float = 0.0) -> None:
        headers = {**response.headers, "Content-Length": str(len(response.body))}
        body = response.body if cut is None else response.body[:cut]
        try:
            if slow_head:  # a byte at a time: no per-read timeout ever fires
                head = self._head(response.status, headers)
                self._trickle(head, slow_head, len(head))
            else:
                self._start(response.status, headers)
            if slow:
                self._trickle(body, slow, 20)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [
            f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, data: bytes, seconds: float, pieces: int) -> None:
        """Write ``data`` in ``pieces`` parts spread over ``seconds``."""
        step = max(1, len(data) // max(1, pieces))
        for offset in range(0, len(data), step):
            self.wfile.write(data[offset : offset + step])
            self.wfile.flush()
            time.sleep(seconds / pieces)

    def _start(self, status: int, headers: dict) -> None:
        """The status line and headers of a reply."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _send_stream(self, app: EmulatedAPI, request: Request, response: Response, fault: Fault) -> None:
        """An event stream, one chunk per event, shaped by the fault's stream fields; a client
        that hangs up is recorded in ``app.disconnects``."""
        self._start(response.status, {**response.headers, "Transfer-Encoding": "chunked"})
        self.close_connection = True
        try:
            for index, event in enumerate(response.events):
                gap = (fault.event_gap if index else 0.0) + (fault.stall if index == fault.stall_after else 0.0)
                if not self._wait_streaming(gap, fault.keep_alive):
                    raise ConnectionResetError
                if index == fault.cut_after:
                    self._chunk(event[: len(event) // 2])
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if index == fault.error_after:
                    self._chunk(app.error_event(fault.message))
                    break
                self._chunk(event)
            if fault.cut_after is not None and fault.cut_after >= len(response.events):
                self.connection.shutdown(socket.SHUT_RDWR)  # every event went out, but the stream never ends properly
                return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client hung up
            app.hung_up(request.path)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _wait_streaming(self, seconds: float, keep_alive: float) -> bool:
        """Wait between events, sending a keep-alive comment every ``keep_alive`` seconds; False
        when the client hung up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not self._wait_for_client(min(left, keep_alive) if keep_alive else left):
                return False
            if keep_alive and deadline - time.monotonic() > 0:
                self._chunk(b": keep-alive\n\n")
        return True

    def _send_endless(self, app: EmulatedAPI, request: Request, response: Response) -> None:
        """Announce a huge body and trickle it: a reply that never ends (until ENDLESS_SECONDS)."""
        self._start(response.status, {**response.headers, "Content-Length": str(10**12)})
        deadline = time.monotonic() + ENDLESS_SECONDS
        try:
            self.wfile.write(response.body[: len(response.body) // 2])
            while time.monotonic() < deadline:  # a byte at a time: no read timeout ever fires
                self.wfile.write(b"\0")
                time.sleep(0.05)
        except OSError:  # the client hung up
            app.hung_up(request.path)
        self.close_connection = True


def _marked(app: EmulatedAPI, response: Response) -> Response:
    """The reply with the emulator's mark (see ``EmulatedAPI.announces``)."""
    if app.announces:
        response.headers[EMULATOR_HEADER] = "1"
    return response


def _rewritten(response: Response, rewrite: Callable[[Any], Any]) -> Response:
    """``response`` with its JSON body passed through ``rewrite``; other bodies are left alone."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    body = json.dumps(rewrite(payload)).encode()
    return Response(response.status, body, {**response.headers, "Content-Type": "application/json"})


class EmulatorServer(ThreadingHTTPServer):
    """Serves apps under path prefixes ("" for a single app) on 127.0.0.1."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # load tests open dozens of connections at once

    def __init__(self, apps: dict[str, EmulatedAPI], host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.apps = dict(sorted(apps.items(), key=lambda item: -len(item[0])))
        self._thread: threading.Thread | None = None
        for prefix, app in self.apps.items():
            app.base_url = self.url + prefix

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str) -> tuple[EmulatedAPI | None, str]:
        for prefix, app in self.apps.items():
            if path == prefix or path.startswith(prefix + "/") or prefix == "":
                return app, path[len(prefix) :] or "/"
        return None, path

    def control(self, app: EmulatedAPI, method: str, path: str, body: bytes) -> Response:
        action = path[len("/__emulator/") :]
        if action == "faults" and method == "POST":
            payload = json.loads(body or b"{}")
            for item in payload if isinstance(payload, list) else [payload]:
                with app.lock:
                    app.faults.append(Fault.from_dict(item))
            return Response.json({"ok": True})
        if action == "requests" and method == "GET":
            return Response.json([r.summary() for r in app.requests])
        if action == "reset" and method == "POST":
            app.reset()
            return Response.json({"ok": True})
        return Response.json({"error": f"unknown control {method} {action}"}, 404)

    def start(self) -> EmulatorServer:
        # a short poll makes stop() take milliseconds instead of serve_forever's default 0.5 s
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

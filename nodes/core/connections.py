"""The connections: one ``requests.Session`` per provider (connections are reused), each
connection's address checked as it is made, and a way to cut the one a worker thread is using.

Where requests go (docs/design.md, "Keys and endpoints"): a request carrying a key goes
only to the endpoint configured outside the workflow or to a trusted host (the caller
checks that); redirects are followed here, hop by hop, and a key never follows one to another
origin; no redirect or result link may lead to a loopback, private or link-local address other
than the provider endpoint's own host and port -- checked on the address actually connected to,
so a name that resolves differently the second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from .credentials import ip_of
from .errors import RemoteImageError

USER_AGENT = "comfyui-hosted-image-apis/1.0"

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


def drop(thread_id: int | None, response=None) -> None:
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


# --- what the exchange's worker thread tells the connections ---------------------------------------


def bind(destination: Destination) -> None:
    """The calling worker thread's requests may connect only where ``destination`` allows."""
    _destination.value = destination


def release() -> None:
    """The calling worker thread is done: it uses no connection and no destination any more."""
    _connections.pop(threading.get_ident(), None)
    _sent_at.pop(threading.get_ident(), None)
    _destination.value = None


def sent_at(thread_id: int | None) -> float | None:
    """When the worker thread's request went out (time.monotonic()), or None before it has."""
    return _sent_at.get(thread_id)

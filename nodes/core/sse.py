"""Server-sent events (the ``text/event-stream`` format), read incrementally. No sockets of its own.

A provider that streams (the Images API's ``stream: true``, docs/providers.md section 5) sends
events as ``event:`` and ``data:`` lines ended by a blank line, with ``:`` comment lines as
keep-alives. Bytes are fed in as they arrive, in pieces of any size; complete events come out. The
buffer is bounded: an event (or one line) larger than ``max_event_bytes`` is refused instead of
growing without end, and a line is scanned once however many pieces it arrives in.
``read_events`` reads a reply the exchange has opened this way, handing each event on through a
short queue (a server cannot pile events up in memory).
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from dataclasses import dataclass

from .errors import RemoteImageError
from .failures import too_large
from .validation import readable_size

MAX_EVENT_BYTES = 64 * 1024 * 1024  # one event: a 4K PNG as base64 in JSON is about 30 MB


@dataclass(frozen=True)
class ServerEvent:
    event: str  # the ``event:`` field; "message" when the server named none
    data: str  # the ``data:`` lines joined by newlines


class EventStreamReader:
    """Turns the bytes of an event stream into ``ServerEvent``s (the WHATWG parsing rules: CR, LF
    or CRLF end a line; ``field: value`` with one optional space; comments and unknown fields are
    skipped; a blank line dispatches; an event without data is dropped)."""

    def __init__(self, max_event_bytes: int | None = None):
        self.max_event_bytes = max_event_bytes or MAX_EVENT_BYTES
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already known to hold no line end
        self._event = ""
        self._data: list[str] = []
        self._size = 0  # bytes of the event so far
        self._started = False  # past a leading byte-order mark

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        """The events ``chunk`` completes (often none)."""
        self._buffer += chunk
        if not self._started:
            if len(self._buffer) < 3 and b"\xef\xbb\xbf".startswith(bytes(self._buffer)):
                return []
            if self._buffer.startswith(b"\xef\xbb\xbf"):
                del self._buffer[:3]
            self._started = True
        events = []
        start = 0
        while True:
            end = self._line_end(start)
            if end is None:
                break
            line_end, next_start = end
            event = self._line(bytes(self._buffer[start:line_end]))
            if event is not None:
                events.append(event)
            start = next_start
        del self._buffer[:start]
        self._scanned -= start
        if self._size + len(self._buffer) > self.max_event_bytes:
            raise self._too_large()
        return events

    def close(self) -> list[ServerEvent]:
        """At the end of the stream: the last event, when all its lines arrived complete.

        The standard drops an event the stream ended inside of; one whose lines all ended (only
        the closing blank line is missing) is whole, and may be a result the user paid for."""
        event = self._dispatch() if not self._buffer.strip(b"\r\n") else None
        self._buffer.clear()
        self._scanned, self._event, self._data, self._size = 0, "", [], 0
        return [event] if event is not None else []

    def _line_end(self, start: int) -> tuple[int, int] | None:
        """(where the line from ``start`` ends, where the next begins), or None when incomplete."""
        scan = max(start, self._scanned)
        newline = self._buffer.find(b"\n", scan)
        carriage = self._buffer.find(b"\r", scan, newline if newline != -1 else len(self._buffer))
        if carriage != -1:
            if carriage + 1 == len(self._buffer):
                self._scanned = carriage  # a CR at the very end: look again once we know whether LF follows
                return None
            return carriage, carriage + (2 if self._buffer[carriage + 1 : carriage + 2] == b"\n" else 1)
        if newline != -1:
            return newline, newline + 1
        self._scanned = len(self._buffer)
        return None

    def _line(self, raw: bytes) -> ServerEvent | None:
        if not raw:
            return self._dispatch()
        self._size += len(raw) + 1
        if self._size > self.max_event_bytes:
            raise self._too_large()
        line = raw.decode("utf-8", "replace")
        if line.startswith(":"):
            return None  # a comment: keep-alives look like this
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # id and retry only matter to a client that reconnects; others are ignored

    def _dispatch(self) -> ServerEvent | None:
        event = ServerEvent(self._event or "message", "\n".join(self._data)) if self._data else None
        self._event, self._data, self._size = "", [], 0
        return event

    def _too_large(self) -> RemoteImageError:
        return RemoteImageError(
            f"an event of the stream is larger than {readable_size(self.max_event_bytes)}, so the stream was abandoned"
        )


# --- reading a reply's stream as it arrives (in the exchange's worker thread) --------------------

STREAM_CHUNK = 64 * 1024  # the most read at once from an event stream; less is handed on as it comes
STREAM_QUEUE = 4  # events read ahead of the caller at most: the reader waits for the rest
STREAM_DEADLINE_ENV = "HOSTED_IMAGES_STREAM_DEADLINE"
STREAM_DEADLINE_SECONDS = 1800.0  # ten images at the slowest quality take minutes, never half an hour
HAND_ON_POLL_SECONDS = 0.05  # how often a reader waiting on a full queue looks whether it was cancelled


def stream_seconds() -> float:
    """The overall deadline of a stream: HOSTED_IMAGES_STREAM_DEADLINE seconds, else 30 minutes."""
    try:
        seconds = float(os.environ.get(STREAM_DEADLINE_ENV, "") or STREAM_DEADLINE_SECONDS)
    except ValueError:
        return STREAM_DEADLINE_SECONDS
    return seconds if seconds > 0 else STREAM_DEADLINE_SECONDS


def _hand_on(arrived: queue.Queue, event: ServerEvent, cancelled: threading.Event) -> None:
    """Hand an event to the caller, waiting while it is behind (the queue is short)."""
    while not cancelled.is_set():
        try:
            arrived.put(event, timeout=HAND_ON_POLL_SECONDS)
            return
        except queue.Full:
            continue


def read_events(response, arrived: queue.Queue, cancelled: threading.Event, max_bytes: int) -> None:
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
            _hand_on(arrived, event, cancelled)
    for event in reader.close():
        _hand_on(arrived, event, cancelled)

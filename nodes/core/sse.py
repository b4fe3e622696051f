"""Server-sent events (the ``text/event-stream`` format), read incrementally. Pure: no sockets.

A provider that streams (the Images API's ``stream: true``, docs/providers.md section 5) sends events as
``event:`` and ``data:`` lines ended by a blank line, with ``:`` comment lines as keep-alives.
Bytes are fed in as they arrive, in pieces of any size; complete events come out. The buffer is
bounded: an event (or one line) larger than ``max_event_bytes`` is refused instead of growing
without end, and a line is scanned once however many pieces it arrives in.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RemoteImageError
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

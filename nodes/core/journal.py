"""The spend journal and the daily image limits (docs/design.md, "Nothing paid for is lost; spend
is visible").

Every provider call -- one request to a provider's API, with the retries the policy allows --
appends one JSON line when it ends, answered or not, to
``<ComfyUI output>/hosted_images/journal.jsonl`` (outside ComfyUI: ``HOSTED_IMAGES_JOURNAL``, else
``~/.local/share/comfyui-hosted-image-apis/journal.jsonl``)::

    {"time": "2026-11-29T10:15:02.481Z", "event": "call", "provider": "openai",
     "operation": "image generation", "model": "gpt-image-2", "host": "api.openai.com",
     "status": 200, "outcome": "ok", "images_asked": 1, "images_returned": 1,
     "usage": {"input_tokens": 12, "output_tokens": 272, "total_tokens": 284},
     "request_id": "req_…", "attempts": 1, "duration_s": 8.412, "node": "5"}

One line per call, not per attempt: retries after a 429 or 503 show in ``attempts`` (the number
of requests sent), so the line says once what was asked and what it cost. ``time`` is when the
call ended (UTC). ``status`` is the provider's last HTTP status (null when none came);
``outcome`` is ok (a 2xx answer), failed or cancelled, and ``failure`` says how: refused (an error
status), connect_failed (it never reached the provider), read_timeout, tls_error,
connection_dropped, no_reply (abandoned, too large) or error. What the node then does with the
answer -- downloading result links, decoding -- is not part of the call: its failure is the
node's error, and a node that fails after images were paid for adds
``{"event": "saved", "folder": …, "files": N}`` naming the unsaved folder. ``images_returned``
counts the images in the answer; ``usage`` keeps only the numbers of its ``usage`` (AIGNE's
aigneHubCredits, OpenRouter-style cost, token counts). Model-list reads are calls too
(images_asked 0). Never a key, a prompt or image bytes: a request's body is read only for its
``n``, texts are redacted.

Appends: one ``write(2)`` of a whole line on a descriptor opened with O_APPEND, under an advisory
lock (``fcntl.flock``; on Windows ``msvcrt.locking`` on the first byte, and an unlocked append if
the lock cannot be had within its 10 s), so threads and several ComfyUI processes sharing the
folder never interleave. A writer that finds the file not ending in a newline (a crash mid-line)
starts its line on a new one; readers skip any line that does not parse. A journal that cannot be
written never fails a node: the first failure is logged, and calls still count towards the
limits in this process.

Daily limits: ``HOSTED_IMAGES_DAILY_IMAGE_LIMIT`` (all providers together) and
``HOSTED_IMAGES_DAILY_IMAGE_LIMIT_<PROVIDER>`` (IONOS, AIGNE, AGNIC, OVH, OPENAI). "Today" is the
calendar day in this machine's local time zone. Today's count is the images asked for by today's
calls that may have been billed -- every call that was sent, except those the provider refused
with a 4xx status and those that never reached it -- or the images returned where an answer
brought more. A node is refused before anything is sent when its whole ask (every call it will
make) would take a count past a limit; the nodes running in this process count as asked until they
end.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import clock, comfy
from .envelopes import trace_id
from .errors import RemoteImageError, Unanswered
from .redaction import clip

log = logging.getLogger("hosted_images")

JOURNAL_ENV = "HOSTED_IMAGES_JOURNAL"  # the journal's path outside ComfyUI
DEFAULT_JOURNAL = Path("~/.local/share/comfyui-hosted-image-apis/journal.jsonl")
LIMIT_ENV = "HOSTED_IMAGES_DAILY_IMAGE_LIMIT"
TEXT_LIMIT = 200  # characters of any text in a line (model names, request ids)
USAGE_ENTRIES = 40
_USAGE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TIME_FIELD = re.compile(rb'"time"\s*:\s*"([^"]{10,40})"')
NOT_BILLED = ("connect_failed",)  # failures that cannot have been billed, besides 4xx refusals


def journal_path() -> Path:
    """<ComfyUI output>/hosted_images/journal.jsonl, or outside ComfyUI HOSTED_IMAGES_JOURNAL (else
    a file beside the default unsaved folder)."""
    output = comfy.output_directory()
    if output:
        return Path(output) / "hosted_images" / "journal.jsonl"
    return Path(os.environ.get(JOURNAL_ENV) or DEFAULT_JOURNAL).expanduser()


# --- one line per provider call ----------------------------------------------------------------


def _never_fails(hook):
    """The journal must never fail a node: a hook that breaks logs why and lets the call go on."""

    @functools.wraps(hook)
    def guarded(*args, **kwargs):
        try:
            return hook(*args, **kwargs)
        except Exception:  # noqa: BLE001
            log.exception("the spend journal's %s failed; the call goes on", hook.__name__)
            return None

    return guarded


def journaled(call, url: str, json_body: Any, files: list | None, send: Callable[[], Any], stream=None) -> Any:
    """Hook around one request to a provider's API (``Call.request``): ``send()`` it, then write
    its line, whether it answered, failed or was cancelled -- unless nothing was sent.

    ``stream``: the reader of the reply when the request asked for a stream; a streamed reply's
    body is gone by the time it ends, so its images and usage are the reader's."""
    attempts, started = call.attempts, time.monotonic()
    try:
        reply = send()
    except BaseException as exc:
        _write_call(call, url, json_body, files, call.attempts - attempts, started, None, exc, stream)
        raise
    _write_call(call, url, json_body, files, call.attempts - attempts, started, reply, None, stream)
    return reply


@_never_fails
def _write_call(call, url, json_body, files, attempts: int, started: float, reply, exc, stream) -> None:
    if attempts:
        append(call_line(call, url, images_in_request(json_body, files), attempts, started, reply, exc, stream))


def call_line(call, url: str, asked: int, attempts: int, started: float, reply, exc, stream=None) -> dict:
    """The journal line of one request: who, what it asked for, what came back, how it ended."""
    if reply is not None:
        status, request_id = reply.status, trace_id(reply.headers)  # as a failure's error quotes it
    else:
        status = exc.status if isinstance(exc, RemoteImageError) else None
        request_id = exc.trace_id if isinstance(exc, RemoteImageError) else ""
    outcome, failure = _outcome(exc)
    line = {
        "time": utc_now(),
        "event": "call",
        "provider": call.provider.own_id,
        "operation": call.operation,
        "model": _text(call.model),
        **({"model_chosen": "auto"} if getattr(call, "chosen", "") else {}),
        "host": _text((urlsplit(url).netloc or "").rpartition("@")[2]),
        "status": status,
        "outcome": outcome,
    }
    if failure:
        line["failure"] = failure
    if stream is not None and asked and (reply is None or reply.content_type == "text/event-stream"):
        returned, usage, body_id = _what_streamed(stream)
    else:
        returned, usage, body_id = _what_came_back(reply) if reply is not None and asked else (0, {}, "")
    line.update(images_asked=asked, images_returned=returned)
    if usage:
        line["usage"] = usage
    if request_id or body_id:
        line["request_id"] = _text(request_id or body_id)
    line.update(attempts=attempts, duration_s=round(time.monotonic() - started, 3))
    if call.node_id is not None:
        line["node"] = _text(str(call.node_id))
    return line


def _what_came_back(reply) -> tuple[int, dict, str]:
    """(images, usage figures, the body's id) of an answer to an image request. The reply's
    parsed body is cached, so this parses nothing the node would not parse anyway."""
    if reply.content_type.startswith("image/"):
        return 1, {}, ""
    body = reply.body
    if not isinstance(body, dict):
        return 0, {}, ""
    body_id = body["id"] if isinstance(body.get("id"), str) else ""  # OpenRouter's generation id
    return images_in_reply(body), numbers_only(body.get("usage")), body_id


def _what_streamed(stream) -> tuple[int, dict, str]:
    """(images, usage figures, '') of a streamed answer, from its reader (e.g.
    ``openai_wire.ImageStream``: its completed ``images`` and the usage in its ``info``), also
    when the stream failed after some images had come."""
    info = getattr(stream, "info", None) or {}
    return len(getattr(stream, "images", ())), numbers_only(info.get("usage")), ""


# how a request that got no complete reply ended, by what the exchange saw
_UNANSWERED = {
    Unanswered.NEVER_CONNECTED: "connect_failed",
    Unanswered.NOT_A_URL: "connect_failed",
    Unanswered.READ_TIMEOUT: "read_timeout",
    Unanswered.TLS: "tls_error",
    Unanswered.DROPPED: "connection_dropped",
}


def _outcome(exc: BaseException | None) -> tuple[str, str]:
    if exc is None:
        return "ok", ""
    if isinstance(exc, comfy.CANCELLATIONS):
        return "cancelled", "cancelled"
    if not isinstance(exc, RemoteImageError):
        return "failed", "error"
    if exc.status is not None:
        return "failed", "refused"
    cause = exc.__context__
    return "failed", _UNANSWERED.get(cause.how, "no_reply") if isinstance(cause, Unanswered) else "no_reply"


@_never_fails
def saved(folder: str, files: int) -> None:
    """Hook: paid results of a failed node were written to ``folder``."""
    try:
        shown = Path(folder).relative_to(journal_path().parent).as_posix()
    except ValueError:
        shown = folder
    append({"time": utc_now(), "event": "saved", "folder": _text(shown), "files": files})


# --- reading requests and replies ---------------------------------------------------------------


def images_in_request(json_body: Any, files: list | None) -> int:
    """The images one request asks for: its ``n`` (at the top, or in AIGNE's native ``input``),
    else one; a request without a body (a model list) asks for none."""
    if json_body is None and not files:
        return 0
    n = None
    if isinstance(json_body, dict):
        n = json_body.get("n")
        inner = json_body.get("input")
        if n is None and isinstance(inner, dict):
            n = inner.get("n")
    for name, part in files or []:
        if name == "n" and isinstance(part, tuple) and len(part) > 1:
            n = part[1]
    try:
        return max(int(n), 0) if n is not None and not isinstance(n, bool) else 1
    except (TypeError, ValueError):
        return 1


def images_in_reply(body: Any) -> int:
    """The images a JSON reply holds: OpenAI-style ``data``, AIGNE's ``images``, or the images of
    chat completion choices."""
    if not isinstance(body, dict):
        return 0
    for key in ("data", "images"):
        items = body.get(key)
        if isinstance(items, list) and items:
            return len(items)
    choices = body.get("choices")
    count = 0
    for choice in choices if isinstance(choices, list) else []:
        message = choice.get("message") if isinstance(choice, dict) else None
        images = message.get("images") if isinstance(message, dict) else None
        count += len(images) if isinstance(images, list) else 0
    return count


def numbers_only(usage: Any, depth: int = 0) -> dict:
    """A reply's usage with only its figures (numbers, nested a little), under plain names."""
    if not isinstance(usage, dict) or depth > 2:
        return {}
    kept: dict = {}
    for name, value in list(usage.items())[:USAGE_ENTRIES]:
        if not isinstance(name, str) or not _USAGE_NAME.match(name):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            kept[name] = value
        elif isinstance(value, dict):
            inner = numbers_only(value, depth + 1)
            if inner:
                kept[name] = inner
    return kept


def _text(value: str) -> str:
    return clip(value or "", TEXT_LIMIT)  # clip redacts before it cuts


def utc_now() -> str:
    return clock.utc_stamp()


# --- appending -----------------------------------------------------------------------------------

_failed_paths: set[str] = set()  # journals whose failure was logged already
_unwritten: dict[str, list[dict]] = {}  # journal -> its call lines that could not be written: they still count today
_UNWRITTEN_KEPT = 10_000
_state_lock = threading.Lock()


def append(line: dict) -> bool:
    """Append one line to the journal; False (logged once per journal) when it cannot be written."""
    path = journal_path()
    data = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _append_bytes(path, data)
        return True
    except OSError as exc:
        with _state_lock:
            first = str(path) not in _failed_paths
            _failed_paths.add(str(path))
            if line.get("event") == "call":
                kept = _unwritten.setdefault(str(path), [])
                kept.append(line)
                del kept[:-_UNWRITTEN_KEPT]
        if first:
            log.warning(
                "the spend journal %s cannot be written (%s); calls go on without it, and this process still "
                "counts them towards the daily limits",
                path,
                exc.strerror or exc,
            )
        return False


def _append_bytes(path: Path, data: bytes) -> None:
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o644)
    try:
        with _locked(fd):
            size = os.fstat(fd).st_size
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)
                if os.read(fd, 1) != b"\n":  # a line left unfinished (a crash, a full disk): start a new one
                    data = b"\n" + data
            written = os.write(fd, data)
            while written < len(data):  # a short write (disk nearly full): finish the line, still locked
                more = os.write(fd, data[written:])
                if more <= 0:
                    raise OSError("short write")
                written += more
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for about 10 s
        except OSError:
            yield  # an append without the lock: CRT appends still land at the end
            return
        try:
            yield
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # a file system without locks: one O_APPEND write is still one append
        yield
        return
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


# --- reading ---------------------------------------------------------------------------------------


def parse_line(raw: bytes | str) -> dict | None:
    """One journal line, or None for a damaged one. A line glued to an unfinished one before it
    is recovered from its own start."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    if not text:
        return None
    for start in (0, text.rfind('{"time"')):
        if start < 0:
            continue
        try:
            value = _decode(text[start:])
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("time"), str):
            return value
    return None


_decode = json.JSONDecoder().decode
_local_dates: dict[str, datetime.date | None] = {}  # a UTC minute -> its local day (zones differ by whole minutes)


def local_date(stamp: str) -> datetime.date | None:
    """The local calendar day of a line's UTC time."""
    minute = stamp[:16]
    if minute not in _local_dates:
        try:
            moment = datetime.datetime.fromisoformat(minute).replace(tzinfo=datetime.timezone.utc)
            _local_dates[minute] = moment.astimezone().date() if len(minute) == 16 else None
        except ValueError:
            _local_dates[minute] = None
        if len(_local_dates) > 100_000:
            _local_dates.clear()
    return _local_dates[minute]


def today() -> datetime.date:
    return clock.today()


@dataclass
class Totals:
    """What one provider's calls came to (one day)."""

    calls: int = 0  # calls that asked for images
    failed: int = 0
    images: int = 0  # counted against the daily limits (see the module's docstring)
    returned: int = 0
    other_calls: int = 0  # model lists
    credits: float | None = None  # AIGNE Hub's aigneHubCredits
    cost: float | None = None  # OpenRouter-style usage.cost
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None

    def add(self, line: dict) -> None:
        asked, returned = _count(line.get("images_asked")), _count(line.get("images_returned"))
        if not asked and not returned:
            self.other_calls += 1
            return
        self.calls += 1
        self.returned += returned
        if line.get("outcome") != "ok":
            self.failed += 1
        if billable(line):
            self.images += max(asked, returned)
        self._add_figures(usage_figures(line.get("usage")))

    def merge(self, other: Totals) -> Totals:
        """Add ``other``'s figures to these; returns self."""
        self._add_figures({name: value for name, value in other.__dict__.items() if value is not None})
        return self

    def _add_figures(self, figures: dict) -> None:
        for name, value in figures.items():
            setattr(self, name, (getattr(self, name) or 0) + value)

    def as_dict(self) -> dict:
        figures = {name: value for name, value in self.__dict__.items() if value is not None}
        for name in ("credits", "cost"):
            if name in figures:
                figures[name] = round(figures[name], 6)
        return figures


def billable(line: dict) -> bool:
    """Whether a call counts towards the limits: it may have been billed."""
    if line.get("outcome") == "ok":
        return True
    status = line.get("status")
    refused = line.get("failure") == "refused" and isinstance(status, int) and 400 <= status < 500
    return not refused and line.get("failure") not in NOT_BILLED


# usage names -> the figure they give (providers name the same figure differently)
_FIGURES = {
    "aigneHubCredits": "credits",
    "cost": "cost",
    "input_tokens": "input_tokens",
    "prompt_tokens": "input_tokens",
    "inputTokens": "input_tokens",
    "output_tokens": "output_tokens",
    "completion_tokens": "output_tokens",
    "outputTokens": "output_tokens",
    "total_tokens": "total_tokens",
    "totalTokens": "total_tokens",
}


def usage_figures(usage: Any) -> dict:
    """Credits, cost and token counts from a line's usage, under one set of names."""
    figures: dict = {}
    for name, value in usage.items() if isinstance(usage, dict) else ():
        figure = _FIGURES.get(name)
        if figure and figure not in figures and isinstance(value, (int, float)) and not isinstance(value, bool):
            figures[figure] = value
    return figures


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def lines_of(raw: bytes) -> Iterator[dict]:
    for chunk in raw.decode("utf-8", "replace").split("\n"):
        line = parse_line(chunk)
        if line is not None:
            yield line


def add_up(lines: Iterable[dict], days: set[datetime.date] | None = None) -> dict[datetime.date, dict[str, Totals]]:
    """Per local day and provider, the totals of the call lines (of ``days`` only, if given)."""
    result: dict[datetime.date, dict[str, Totals]] = {}
    for line in lines:
        if line.get("event") != "call" or not isinstance(line.get("provider"), str):
            continue
        day = local_date(line["time"])
        if day is None or (days is not None and day not in days):
            continue
        try:
            result.setdefault(day, {}).setdefault(line["provider"], Totals()).add(line)
        except (TypeError, ValueError, AttributeError):  # a line of the right shape with odd values
            continue
    return result


class _Tally:
    """Today's totals of one journal file, kept up to date by reading only what was appended.

    The first read starts shortly before local midnight, found by stepping back from the end in
    blocks (lines are appended in time order, give or take the calls of another process that
    ended at the same moment), so a journal of years costs no more than one of today."""

    BLOCK = 1 << 16
    MARGIN = datetime.timedelta(hours=1)

    def __init__(self, path: Path):
        self.path = path
        self.identity: tuple | None = None
        self.offset = 0
        self.days: dict[datetime.date, dict[str, Totals]] = {}
        self.lock = threading.Lock()

    def today(self) -> dict[str, Totals]:
        with self.lock:
            self._refresh()
            return dict(self.days.get(today(), {}))

    def _refresh(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                identity = (stat.st_dev, stat.st_ino)
                if identity != self.identity or stat.st_size < self.offset:
                    self.identity, self.days = identity, {}
                    self.offset = self._recent_start(handle, stat.st_size)
                if stat.st_size > self.offset:
                    handle.seek(self.offset)
                    raw = handle.read(stat.st_size - self.offset)
                    end = raw.rfind(b"\n") + 1  # an unfinished last line is read when it is finished
                    self._merge(add_up(lines_of(raw[:end])))
                    self.offset += end
        except FileNotFoundError:
            self.identity, self.offset, self.days = None, 0, {}
        except OSError as exc:
            _log_unreadable(self.path, exc)
        self.days = {day: totals for day, totals in self.days.items() if day >= today()}

    def _merge(self, added: dict) -> None:
        for day, providers in added.items():
            for provider, totals in providers.items():
                self.days.setdefault(day, {}).setdefault(provider, Totals()).merge(totals)

    def _recent_start(self, handle, size: int) -> int:
        """The offset of a line written before today's local midnight (less a margin), or 0."""
        midnight = datetime.datetime.combine(today(), datetime.time()).astimezone() - self.MARGIN
        since = midnight.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z").encode()
        position = size
        while position > 0:
            start = max(0, position - self.BLOCK)
            handle.seek(start)
            block = handle.read(position - start)
            first = 0 if start == 0 else block.find(b"\n") + 1
            if start > 0 and first == 0:  # one line longer than a block: keep stepping back
                position = start
                continue
            stamp = _TIME_FIELD.search(block, first, first + 200)
            if stamp and stamp.group(1) < since:  # ISO times in UTC sort as text
                return start + first
            position = start
        return 0


_tallies: dict[str, _Tally] = {}


def _tally(path: Path) -> _Tally:
    with _state_lock:
        return _tallies.setdefault(str(path), _Tally(path))


def _log_unreadable(path: Path, exc: OSError) -> None:
    with _state_lock:
        first = f"read {path}" not in _failed_paths
        _failed_paths.add(f"read {path}")
    if first:
        log.warning("the spend journal %s cannot be read (%s); today's counts leave it out", path, exc.strerror or exc)


def today_totals() -> dict[str, Totals]:
    """Today's totals per provider: the journal's, and calls this process could not write."""
    path = journal_path()
    totals = _tally(path).today()
    with _state_lock:
        unwritten = add_up(list(_unwritten.get(str(path), ())), {today()}).get(today(), {})
    for provider, extra in unwritten.items():
        totals[provider] = Totals().merge(totals[provider]).merge(extra) if provider in totals else extra
    return totals


def read_days(path: Path, days: int) -> dict[datetime.date, dict[str, Totals]]:
    """Per local day and provider for the last ``days`` days (today included); the whole file is read."""
    wanted = {today() - datetime.timedelta(days=back) for back in range(max(days, 1))}
    with open(path, "rb") as handle:
        return add_up((line for raw in handle if (line := parse_line(raw)) is not None), wanted)


# --- daily limits ------------------------------------------------------------------------------------


class DailyLimitRefusal(RemoteImageError):
    """A node was refused before sending: its images would take today's count past a limit (or a
    limit is set to something that is not a number)."""

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        text = f"{prefix}refused by the daily image limit (nothing was sent): {self.message}"
        return f"{text}\nHint: {self.hint}" if self.hint else text


def limit_variable(provider_id: str) -> str:
    return f"{LIMIT_ENV}_{provider_id.upper()}"


def limits(provider_id: str) -> list[tuple[str, int]]:
    """(variable, images) of the limits set for ``provider_id``: its own, then the global one."""
    found = []
    for variable in (limit_variable(provider_id), LIMIT_ENV):
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        try:
            value = int(text)
            if value < 0:
                raise ValueError
        except ValueError:
            raise DailyLimitRefusal(
                f"{variable} is {clip(text, 40)!r}, not a whole number of images",
                hint=f"set {variable} to the images a day allowed (0 allows none), or unset it, and restart ComfyUI",
            ) from None
        found.append((variable, value))
    return found


_reserved: dict[str, int] = {}  # provider id -> images asked by this process's nodes still running
_reserve_lock = threading.Lock()


@contextlib.contextmanager
def daily_limits(provider_id: str, label: str, asked: int) -> Iterator[None]:
    """Refuse before anything is sent when ``asked`` more images would take today's count past a
    limit set for the provider or for all; the images stay counted while the node runs."""
    set_limits = limits(provider_id) if asked > 0 else []
    if not set_limits:
        yield
        return
    with _reserve_lock:
        totals = today_totals()
        for variable, limit in set_limits:
            if variable == LIMIT_ENV:
                used = sum(t.images for t in totals.values()) + sum(_reserved.values())
                scope = "all providers together"
            else:
                used = (totals[provider_id].images if provider_id in totals else 0) + _reserved.get(provider_id, 0)
                scope = label
            if used + asked > limit:
                raise DailyLimitRefusal(
                    f"{variable} allows {limit} image{'' if limit == 1 else 's'} a day for {scope}; {used} "
                    f"{'was' if used == 1 else 'were'} asked for today and this node asks for {asked} more",
                    provider=label,
                    hint="today is the local calendar day, counted from the spend journal; raise or unset "
                    f"{variable} and restart ComfyUI, or wait until midnight",
                )
        _reserved[provider_id] = _reserved.get(provider_id, 0) + asked
    try:
        yield
    finally:
        with _reserve_lock:
            _reserved[provider_id] -= asked


# --- what the sidebar and the command show -----------------------------------------------------------


def spend_today(providers: dict) -> dict:
    """Today's calls, images and reported usage per provider (``providers``: id -> Provider), and
    the limits set -- no key, no prompt, no path."""
    totals = today_totals()
    shown = {}
    for provider_id in [*providers, *sorted(set(totals) - set(providers))]:
        provider = providers.get(provider_id)
        entry = {
            "label": provider.label if provider else provider_id,
            **(totals.get(provider_id) or Totals()).as_dict(),
        }
        try:
            entry["limits"] = [{"variable": v, "images": n} for v, n in limits(provider_id)]
        except DailyLimitRefusal as exc:
            entry["limits"] = [{"error": exc.message}]
        shown[provider_id] = entry
    now = clock.now()
    return {"date": now.date().isoformat(), "utc_offset": now.strftime("%z"), "providers": shown}

"""The spend journal's lines: where the file lives, what one line says, appending and reading
them (docs/design.md, "Nothing paid for is lost; spend is visible"). What the lines add up to --
today's counts, the daily limits -- is ``limits``; the summaries for the sidebar and the command
are ``spend``.

Every provider call -- one request to a provider's API, with the retries the policy allows --
appends one JSON line when it ends, answered or not::

    {"time": "2026-12-06T10:15:02.481Z", "event": "call", "provider": "<its id>",
     "operation": "image generation", "model": "<model id>", "model_chosen": "auto",
     "host": "api.example.com", "status": 200, "outcome": "ok", "images_asked": 1,
     "images_returned": 1, "usage": {"input_tokens": 12, "output_tokens": 272},
     "request_id": "req_…", "attempts": 1, "duration_s": 8.412, "node": "5"}

One line per call, not per attempt: retries show in ``attempts``. ``time`` is when the call ended
(UTC, from the pack's clock). ``status`` is the provider's last HTTP status (null when none came);
``outcome`` is ok, failed or cancelled, and ``failure`` says how: refused (an error status),
connect_failed, read_timeout, tls_error, connection_dropped, stream_incomplete (a stream that
ended before every image asked for), no_reply or error. ``images_returned`` counts at most the
images asked for; more are ``images_ignored`` (and never counted). ``usage`` keeps only the
figures under the journal's own names (the provider's descriptor maps its fields onto them);
``estimate_usd`` (the run's estimate for this call's images) and ``tokens_usd`` (the reported
tokens at the catalogue's prices) are estimates, ``usage.cost`` a reported figure; ``emulator:
true`` marks a call to the bundled emulator, which never counts. A node that saved paid results
adds ``{"event": "saved", "folder": …, "files": N}``; the daily limits add ``reserve`` and
``release`` lines (see ``limits``). Never a key, a prompt or image bytes.

Where: ``HOSTED_IMAGES_JOURNAL``, else ``~/.local/share/comfyui-hosted-image-apis/journal.jsonl``,
never inside a folder ComfyUI serves (any client could read or rewrite it there; an old journal
there is moved out). No symlink is followed, at the file or its folder. Appends: one ``write(2)``
of a whole ASCII JSON line with O_APPEND under an advisory lock, so threads and processes never
interleave; a line after an unfinished one starts on a new line; readers skip damaged lines.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import clock, comfy
from .errors import RemoteImageError, Unanswered
from .payloads import trace_id, url_host
from .provider import registered_provider
from .redaction import clip, shown_path

log = logging.getLogger("hosted_images")

JOURNAL_ENV = "HOSTED_IMAGES_JOURNAL"
DEFAULT_JOURNAL = Path("~/.local/share/comfyui-hosted-image-apis/journal.jsonl")
TEXT_LIMIT = 200  # characters of any text in a line (model names, request ids)
FIGURES = (  # the journal's usage names
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "input_text_tokens",
    "input_image_tokens",
    "credits",
    "cost",
)
EMULATOR_HEADER = "X-Hosted-Images-Emulator"  # the bundled emulator marks each reply with it
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


# --- where the file lives ----------------------------------------------------------------------


def journal_path() -> Path:
    """HOSTED_IMAGES_JOURNAL, else the default -- never a place ComfyUI serves (refused, with a warning)."""
    chosen = os.environ.get(JOURNAL_ENV, "").strip()
    if chosen:
        path = Path(chosen).expanduser()
        if not _served_by_comfyui(path):
            return path
        _warn_once(
            f"served {path}",
            f"{JOURNAL_ENV} names {shown_path(path)}, inside a folder ComfyUI serves to any client; "
            f"the journal is kept at {DEFAULT_JOURNAL} instead",
        )
    path = DEFAULT_JOURNAL.expanduser()
    _move_old_journal(path)
    return path


def _served_by_comfyui(path: Path) -> bool:
    places = {path.absolute(), path.resolve()}
    for folder in comfy.served_directories():
        roots = {Path(folder).absolute(), Path(folder).resolve()}
        if any(place == root or root in place.parents for place in places for root in roots):
            return True
    return False


@functools.lru_cache(maxsize=4)
def _move_old_journal(path: Path) -> None:
    """Once per process: an old journal in ComfyUI's output folder moves here, unless one is here."""
    output = comfy.output_directory()
    old = Path(output) / "hosted_images" / "journal.jsonl" if output else None
    if old is None or not old.is_file() or old.is_symlink() or path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, path)
    except OSError:
        try:  # another file system: copy, then remove
            path.write_bytes(old.read_bytes())
            old.unlink()
        except OSError as exc:
            log.warning("the old spend journal %s could not be moved to %s: %s", old, path, exc)
            return
    log.warning(
        "moved the spend journal out of ComfyUI's output folder, where any client could read it, to %s",
        shown_path(path),
    )


_warned: set[str] = set()


def _warn_once(key: str, text: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", text)


# --- one line per provider call ----------------------------------------------------------------

Counted = Callable[[dict], None]  # what limits does with a line that could not be written
_unwritten_sink: list[Counted] = []


def on_unwritten(sink: Counted) -> None:
    """``sink(line)`` is called with every call line that could not be written (it still counts)."""
    _unwritten_sink.append(sink)


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


def _write_call(call, url, json_body, files, attempts: int, started: float, reply, exc, stream) -> None:
    """Write the line; whatever goes wrong, the call still counts (a minimal line in memory)."""
    if not attempts:
        return
    try:
        line = call_line(call, url, _asked(call.provider, json_body, files), attempts, started, reply, exc, stream)
    except Exception:  # noqa: BLE001 -- the journal never fails a node
        log.exception("the spend journal could not describe a call; it is counted as asked")
        line = {"time": clock.utc_stamp(), "event": "call", "provider": call.provider.own_id, "outcome": "failed"}
        line["failure"] = "error"
        line["images_asked"] = _asked(call.provider, json_body, files)
    append(line)


def _asked(provider, json_body: Any, files: list | None) -> int:
    if json_body is None and not files:
        return 0  # a model list
    try:
        return provider.count_asked(json_body, files) if provider.count_asked else 1
    except Exception:  # noqa: BLE001 -- a hook that breaks counts one image
        return 1


def call_line(call, url: str, asked: int, attempts: int, started: float, reply, exc, stream=None) -> dict:
    """The journal line of one request: who, what it asked for, what came back, how it ended."""
    if reply is not None:
        status, request_id = reply.status, trace_id(reply.headers)  # as a failure's error quotes it
    else:
        status = exc.status if isinstance(exc, RemoteImageError) else None
        request_id = exc.trace_id if isinstance(exc, RemoteImageError) else ""
    outcome, failure = _outcome(exc)
    host = url_host(url)
    line = {
        "time": clock.utc_stamp(),
        "event": "call",
        "provider": call.provider.own_id,
        "operation": call.words,
        "model": _text(call.model),
        **({"model_chosen": "auto"} if getattr(call, "chosen", "") else {}),
        "host": _text(host),
        "status": status,
        "outcome": outcome,
    }
    streamed = stream is not None and asked and (reply is None or reply.content_type == "text/event-stream")
    if streamed:
        returned, usage, body_id = len(stream.images), stream.usage, ""
        if outcome == "ok" and not stream.all_came:
            outcome, failure = "failed", "stream_incomplete"  # it ended cleanly, without every image
            line["outcome"] = outcome
    else:
        returned, usage, body_id = (
            _what_came_back(call.provider, reply) if reply is not None and asked else (0, None, "")
        )
    if failure:
        line["failure"] = failure
    line.update(images_asked=asked, images_returned=min(returned, asked) if asked else returned)
    if asked and returned > asked:
        line["images_ignored"] = returned - asked
    figures = usage_figures(call.provider, usage)
    if figures:
        line["usage"] = figures
    line.update(call.money(asked, figures) if hasattr(call, "money") else {})
    if request_id or body_id:
        line["request_id"] = _text(request_id or body_id)
    line.update(attempts=attempts, duration_s=round(time.monotonic() - started, 3))
    if call.node_id is not None:
        line["node"] = _text(str(call.node_id))
    if getattr(call, "emulated", False):
        line["emulator"] = True
    return line


def _what_came_back(provider, reply) -> tuple[int, Any, str]:
    """(images, usage object, the body's id) of an answer to an image request (its cached body)."""
    if reply.content_type.startswith("image/"):
        return 1, None, ""
    body = reply.readable_body
    if provider.read_reply is None or body is None:
        return 0, None, ""
    return provider.read_reply(body)


def usage_figures(provider, usage: Any) -> dict:
    """A reply's usage as the journal keeps it: only the figures the provider's descriptor names,
    under the journal's names -- no other name, however a server spells its fields."""
    figures: dict = {}
    for source, figure in (provider.usage_names or {}).items():
        value: Any = usage
        for part in source.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if figure in FIGURES and figure not in figures and is_number(value):
            figures[figure] = value
    return figures


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) < 1e15


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


def saved(folder: str, files: int) -> None:
    """Hook: paid results of a failed node were written to ``folder`` (named relative to the
    journal's folder when it lies beside it, else from the home folder as ``~``)."""
    path = Path(folder)
    for base, prefix in ((journal_path().parent, ""), (Path.home(), "~/")):
        try:
            shown = prefix + path.relative_to(base).as_posix()
            break
        except ValueError:
            continue
    else:
        shown = folder
    append({"time": clock.utc_stamp(), "event": "saved", "folder": _text(shown), "files": files})


def _text(value: str) -> str:
    return clip(value or "", TEXT_LIMIT)  # clip redacts before it cuts


# --- appending -----------------------------------------------------------------------------------


def encode(line: dict) -> bytes:
    """One line as written: ASCII JSON (a lone surrogate in a provider's id is escaped, not an error)."""
    return json.dumps(line, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def append(line: dict) -> bool:
    """Append one line; False when it cannot be written (logged once per journal). A call line
    that cannot be written is handed to ``on_unwritten``'s sinks: it still counts."""
    path = journal_path()
    try:
        data = encode(line)
        with open_journal(path) as fd, locked(fd):
            append_locked(fd, data)
        return True
    except Exception as exc:  # noqa: BLE001 -- never fails a node, whatever it was
        if line.get("event") == "call":
            for sink in _unwritten_sink:
                sink(line)
        reason = getattr(exc, "strerror", None) or exc
        _warn_once(
            f"write {path}",
            f"the spend journal {shown_path(path)} cannot be written ({reason}); calls go on without it, and "
            "this process still counts them towards the daily limits",
        )
        return False


@contextlib.contextmanager
def open_journal(path: Path, *, create: bool = True) -> Iterator[int]:
    """A descriptor on the journal for appending (and reading), never through a symlink -- at the
    file (O_NOFOLLOW) or its folder."""
    folder = path.parent
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{folder} is a symbolic link or not a folder; the journal is not written through it")
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0) | _NOFOLLOW
    fd = os.open(path, flags | (os.O_CREAT if create else 0), 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        yield fd
    finally:
        os.close(fd)


def append_locked(fd: int, data: bytes) -> None:
    """Write ``data`` at the end of the (locked) journal, on a line of its own."""
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


@contextlib.contextmanager
def locked(fd: int) -> Iterator[None]:
    """The journal's lock, held by one writer (or one check of the limits) at a time, across processes."""
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

_TIME_FIELD = re.compile(rb'"time"\s*:\s*"([^"]{10,40})"')


def open_for_reading(path: Path):
    """The journal opened for reading, never through a symlink."""
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | _NOFOLLOW), "rb")


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


def lines_of(raw: bytes) -> Iterator[dict]:
    for chunk in raw.decode("utf-8", "replace").split("\n"):
        line = parse_line(chunk)
        if line is not None:
            yield line


def time_of(block: bytes, start: int) -> bytes | None:
    """The ``time`` of the line starting at ``start`` of ``block``, as bytes, or None."""
    found = _TIME_FIELD.search(block, start, start + 200)
    return found.group(1) if found else None


def descriptor(provider_id: str):
    """The registered descriptor of a provider a line names, or None (an unknown id)."""
    try:
        return registered_provider(provider_id)
    except KeyError:
        return None

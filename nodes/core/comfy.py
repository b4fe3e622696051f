"""The only module that imports ComfyUI. Every import is guarded, so the pack runs without it.

Outside ComfyUI (tests, the command-line demo) interrupts come from ``request_interrupt`` and
progress goes to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading

log = logging.getLogger("hosted_images")

try:  # ComfyUI's interrupt flag and the exception its executor shows as "interrupted"
    import comfy.model_management as _mm

    InterruptProcessingException = _mm.InterruptProcessingException
except Exception:  # noqa: BLE001 -- anything wrong with ComfyUI's import means "no ComfyUI"
    _mm = None

    class InterruptProcessingException(BaseException):  # type: ignore[no-redef]
        """Stands in for ComfyUI's exception of the same name (a BaseException in newer ComfyUI, so
        that ``except Exception`` never turns a Cancel into an error)."""


# what a run that was cancelled raises: ComfyUI's interrupt, or the event loop's or the user's stop
CANCELLATIONS = (InterruptProcessingException, asyncio.CancelledError, KeyboardInterrupt)


try:
    import comfy.utils as _comfy_utils
except Exception:  # noqa: BLE001
    _comfy_utils = None

try:
    import folder_paths as _folder_paths
except Exception:  # noqa: BLE001
    _folder_paths = None

try:  # --preview-size: the largest side of a sampler's live preview
    from comfy.cli_args import args as _comfy_args
except Exception:  # noqa: BLE001
    _comfy_args = None

DEFAULT_PREVIEW_SIZE = 512  # ComfyUI's default --preview-size

_local_interrupt = threading.Event()
# Calls made outside a prompt (the model-list route) must ignore the prompt's interrupt flag,
# which ComfyUI leaves set until the next prompt starts.
_outside_prompt = contextvars.ContextVar("hosted_images_outside_prompt", default=False)
# The event loop a node's coroutine runs on; worker threads (which inherit it through
# asyncio.to_thread) hand their progress-bar updates to it, because ComfyUI's progress hook and
# its progress registry are not thread-safe.
_node_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "hosted_images_node_loop", default=None
)


@contextlib.contextmanager
def outside_prompt():
    token = _outside_prompt.set(True)
    try:
        yield
    finally:
        _outside_prompt.reset(token)


def remember_event_loop() -> None:
    """Called from a node's coroutine: progress updates of its worker threads then run on its loop."""
    try:
        _node_loop.set(asyncio.get_running_loop())
    except RuntimeError:  # not in a coroutine: updates run in the calling thread, under a lock
        pass


def request_interrupt() -> None:
    """Interrupt running calls when not inside ComfyUI (Ctrl-C in the demo, tests)."""
    _local_interrupt.set()


def clear_interrupt() -> None:
    _local_interrupt.clear()


def interrupted() -> bool:
    """Non-destructive check: ComfyUI's flag is only cleared by the raise below."""
    if _outside_prompt.get():
        return False
    if _mm is not None and _mm.processing_interrupted():
        return True
    return _local_interrupt.is_set()


def raise_if_interrupted() -> None:
    """Raise ComfyUI's interrupt exception without clearing the flag.

    Several of our worker threads may be waiting at once; all of them must see the interrupt.
    ComfyUI clears the flag itself when the next prompt starts.
    """
    if interrupted():
        raise InterruptProcessingException()


def _prompt_server():
    try:
        from server import PromptServer

        return PromptServer.instance
    except Exception:  # noqa: BLE001
        return None


# What a node's last progress line repeats (what auto became, where paid results were saved): a
# list per node run, shared by its calls (they run in worker threads with a copy of the context).
_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("hosted_images_notes", default=None)


def start_notes() -> list[str]:
    """A new node run: its notes start empty; returns the list the run's last line reads."""
    notes: list[str] = []
    _notes.set(notes)
    return notes


def note_for_last_line(text: str) -> None:
    """Say ``text`` again in the node's last progress line (done, failed or cancelled)."""
    notes = _notes.get()
    if notes is not None and text not in notes:
        notes.append(text)


def progress_text(node_id: str | None, text: str, *, private: bool = False) -> None:
    """Show a line of text on the node in ComfyUI's UI -- to the client that queued the prompt
    when ComfyUI knows it; a ``private`` text (it names a folder) never to every client; log it
    elsewhere."""
    server = _prompt_server() if node_id else None
    if server is not None and hasattr(server, "send_progress_text"):
        client = getattr(server, "client_id", None)
        if client is None and private:
            log.info("%s", text)
            return
        try:
            if client is None:
                server.send_progress_text(text, node_id)
            else:
                server.send_progress_text(text, node_id, client)
            return
        except Exception:  # noqa: BLE001 -- progress must never break a call
            pass
    log.debug("%s", text)


def preview_size() -> int:
    """The largest side of a live preview: ComfyUI's --preview-size, as its samplers use it."""
    size = getattr(_comfy_args, "preview_size", None)
    return size if isinstance(size, int) and size > 0 else DEFAULT_PREVIEW_SIZE


class ProgressBar:
    """ComfyUI's progress bar across several images or stream events, or nothing outside ComfyUI.

    ``update`` and ``show`` may be called from any thread: they run on the node's event loop when
    there is one (see ``remember_event_loop``), else under a lock.
    """

    _lock = threading.Lock()

    def __init__(self, total: int, node_id: str | None = None):
        self._bar = None
        self.total = total
        self._loop = _node_loop.get()
        if _comfy_utils is not None and total > 1:
            try:
                self._bar = _comfy_utils.ProgressBar(total, node_id=node_id)
            except TypeError:  # older ComfyUI without node_id
                self._bar = _comfy_utils.ProgressBar(total)
            except Exception:  # noqa: BLE001
                self._bar = None

    def update(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._run(self._bar.update, steps)

    def show(self, value: int, picture=None) -> None:
        """Move the bar to ``value`` of ``total`` and, with ``picture`` (a PIL image), show it as
        the node's live preview: the channel KSampler's previews take (``update_absolute`` with
        ("JPEG", picture, --preview-size))."""
        if self._bar is not None:
            preview = ("JPEG", picture, preview_size()) if picture is not None else None
            self._run(self._bar.update_absolute, value, self.total, preview)

    def _run(self, *update) -> None:
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._apply, *update)
                return
            except RuntimeError:  # the loop has closed: the node is over, but count the step here
                pass
        with self._lock:
            self._apply(*update)

    def _apply(self, update, *args) -> None:
        # ComfyUI's progress hook raises on interrupt *and clears the flag*, which would hide the
        # interrupt from the calls still running: skip it then.
        if interrupted():
            return
        try:
            update(*args)
        except InterruptProcessingException:
            if _mm is not None:
                _mm.interrupt_current_processing(True)  # put the flag back for the other calls
        except Exception:  # noqa: BLE001 -- progress must never break a call
            pass


def output_directory() -> str | None:
    if _folder_paths is None:
        return None
    return _folder_paths.get_output_directory()


def served_directories() -> list[str]:
    """The folders ComfyUI hands to any client: user (/userdata, /settings), input, output and
    temp (/view). Empty outside ComfyUI."""
    folders = []
    for name in ("get_user_directory", "get_input_directory", "get_output_directory", "get_temp_directory"):
        getter = getattr(_folder_paths, name, None)
        try:
            folder = getter() if getter is not None else None
        except Exception:  # noqa: BLE001 -- an odd ComfyUI build: that folder is simply unknown
            folder = None
        if folder:
            folders.append(folder)
    return folders


def prompt_server_routes():
    """aiohttp route table of the running ComfyUI server, or None outside ComfyUI."""
    server = _prompt_server()
    return getattr(server, "routes", None) if server is not None else None

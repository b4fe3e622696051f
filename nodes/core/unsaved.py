"""Nothing paid for is lost (docs/design.md): when a node fails or is cancelled after results
were paid for, they are written to a folder of their own -- in ComfyUI's output folder, or
outside ComfyUI ``HOSTED_IMAGES_UNSAVED_DIR`` -- and the node's last progress line says where.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

from . import comfy, journal
from .payloads import sniff_format
from .redaction import shown_path

log = logging.getLogger("hosted_images")

UNSAVED_DIR_ENV = "HOSTED_IMAGES_UNSAVED_DIR"  # where paid results go when a node fails, outside ComfyUI
DEFAULT_UNSAVED_DIR = Path("~/.local/share/comfyui-hosted-image-apis/unsaved")


def unsaved_root() -> Path:
    """<ComfyUI output>/hosted_images/unsaved, or outside ComfyUI HOSTED_IMAGES_UNSAVED_DIR (else a
    folder in the user's data directory)."""
    output = comfy.output_directory()
    if output:
        return Path(output) / "hosted_images" / "unsaved"
    return Path(os.environ.get(UNSAVED_DIR_ENV) or DEFAULT_UNSAVED_DIR).expanduser()


def save_unsaved(numbered: list[tuple[int, bytes]], partial: tuple[int, bytes] | None = None) -> str:
    """Write result files (number, bytes) -- and ``partial``, the last partial image of an image
    that never completed, as ``partial_NNN`` -- into a new folder of their own; return it, or ''.
    The node's last progress line says where.

    The folder's name is the time plus a random part, created exclusively: two failures in the
    same second, or in two processes, never share (or overwrite) a folder."""
    if not numbered and partial is None:
        return ""
    root = unsaved_root()
    root.mkdir(parents=True, exist_ok=True)
    while True:
        folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
    files = [(f"result_{number:03d}", blob) for number, blob in numbered]
    if partial is not None:
        files.append((f"partial_{partial[0]:03d}", partial[1]))
    for name, blob in files:
        extension = (sniff_format(blob) or "bin").lower().replace("jpeg", "jpg")
        (folder / f"{name}.{extension}").write_bytes(blob)
    journal.saved(str(folder), len(files))  # spend journal hook: where paid results went
    comfy.note_for_last_line(f"saved to {shown_path(str(folder))}")
    return str(folder)


def recent_unsaved(limit: int = 10) -> list[dict]:
    """The newest folders of paid results a failed or cancelled node saved (newest first): name,
    files, when, and where -- with ``~`` for the home folder, and ``subfolder`` for ComfyUI's /view
    when they lie in its output folder."""
    root = unsaved_root()
    try:
        folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True)[:limit]
    except OSError:
        return []
    output = comfy.output_directory()
    found = []
    for folder in folders:
        files = sorted(f.name for f in folder.iterdir() if f.is_file())
        entry = {"name": folder.name, "files": files, "where": shown_path(str(folder))}
        if output:
            try:
                entry["subfolder"] = folder.relative_to(output).as_posix()
            except ValueError:
                pass
        found.append(entry)
    return found


def keep_paid_results(node_id: str | None, blobs: list[bytes], partial: tuple[int, bytes] | None = None) -> str:
    """On Cancel: save the results already paid for and say where, in the log and on the node --
    only to the client that queued the prompt, since it names a folder."""
    folder = save_unsaved(list(enumerate(blobs, 1)), partial)
    if folder:
        text = f"cancelled; the {len(blobs)} image(s) already returned were saved to {shown_path(folder)}"
        log.warning("%s", text)
        comfy.progress_text(node_id, text, private=True)
    return folder

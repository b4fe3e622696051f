"""A paid result is not paid for twice (docs/design.md, "Nothing paid for is lost"): ComfyUI's cache
may drop a node's outputs (newer releases evict under memory pressure) and run the node again with
the same inputs. The images of each call batch are kept on disk for a while, keyed by everything
that shaped the request; an identical request within the time gets them back instead of a new,
billed call.

``HOSTED_IMAGES_REUSE_MINUTES`` (default 60; 0 switches it off) is the time. The record lives
outside ComfyUI's folders (``HOSTED_IMAGES_REUSE_DIR``, else
``~/.local/share/comfyui-hosted-image-apis/reuse/``), holds at most 100 entries and 1 GiB (the
oldest go first), and follows no symlink.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import clock

REUSE_ENV = "HOSTED_IMAGES_REUSE_MINUTES"
REUSE_DIR_ENV = "HOSTED_IMAGES_REUSE_DIR"
DEFAULT_DIR = Path("~/.local/share/comfyui-hosted-image-apis/reuse")
DEFAULT_MINUTES = 60.0
MAX_ENTRIES = 100
MAX_BYTES = 1 << 30


def minutes() -> float:
    """How long a result is reused (0: never)."""
    try:
        value = float(os.environ.get(REUSE_ENV, "") or DEFAULT_MINUTES)
    except ValueError:
        return DEFAULT_MINUTES
    return max(value, 0.0)


def folder() -> Path:
    return Path(os.environ.get(REUSE_DIR_ENV) or DEFAULT_DIR).expanduser()


# The fingerprint of the inputs of the node run in progress (set by the node base before its calls;
# they run in worker threads with a copy of the context): '' outside a node's run.
_inputs: contextvars.ContextVar[str] = contextvars.ContextVar("hosted_images_inputs", default="")


def remember_inputs(inputs: dict) -> None:
    """The node run starting now has these inputs (tensors are fingerprinted by their bytes)."""
    parts = []
    for name in sorted(inputs):
        value = inputs[name]
        if hasattr(value, "detach") and hasattr(value, "shape"):  # a tensor: IMAGE or MASK
            array = value.detach().cpu().contiguous().numpy()
            parts += [name, list(array.shape), str(array.dtype), array.tobytes()]
        else:
            parts += [name, value if isinstance(value, (str, int, float, bool, type(None))) else repr(type(value))]
    _inputs.set(key(parts))


def inputs_of_run() -> str:
    """The fingerprint of the running node's inputs, or '' outside a node's run."""
    return _inputs.get()


def key(parts: Iterable[Any]) -> str:
    """A fingerprint of what shaped a request (JSON-able parts; bytes are hashed)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, (bytes, bytearray, memoryview)):
            digest.update(b"b" + hashlib.sha256(part).digest())
        else:
            digest.update(b"j" + json.dumps(part, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


@dataclass
class Kept:
    blobs: list[bytes]
    details: dict  # what the calls said besides their images (see ``store``)
    when: str  # the pack's UTC stamp of the original calls


def find(fingerprint: str) -> Kept | None:
    """The results kept for ``fingerprint`` within the time, or None."""
    window = minutes()
    if not window:
        return None
    entry = folder() / fingerprint
    try:
        if _unsafe(entry):
            return None
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        if time.time() - float(meta["created"]) > window * 60:
            return None
        blobs = [(entry / name).read_bytes() for name in meta["files"] if "/" not in name and name != "meta.json"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Kept(blobs, meta.get("details") or {}, str(meta.get("time") or ""))


def store(fingerprint: str, blobs: list[bytes], details: dict) -> None:
    """Keep ``blobs`` (and ``details``) for ``fingerprint``; never fails the node."""
    if not minutes() or not blobs:
        return
    root = folder()
    entry = root / fingerprint
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _unsafe(root) or _unsafe(entry):
            return
        staging = root / f".{fingerprint}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        names = []
        for index, blob in enumerate(blobs, 1):
            name = f"result_{index:03d}"
            (staging / name).write_bytes(blob)
            names.append(name)
        meta = {"created": time.time(), "time": clock.utc_stamp(), "files": names, "details": details}
        (staging / "meta.json").write_text(json.dumps(meta, default=repr), encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(staging, entry)
        _prune(root)
    except OSError:
        with contextlib.suppress(OSError):
            shutil.rmtree(root / f".{fingerprint}.{os.getpid()}", ignore_errors=True)


def _unsafe(path: Path) -> bool:
    """A symlink (or not a folder) where a record's folder should be."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode)


def _prune(root: Path) -> None:
    """Oldest first, until at most MAX_ENTRIES entries and MAX_BYTES bytes are kept."""
    entries = []
    for entry in root.iterdir():
        if entry.name.startswith(".") or _unsafe(entry):
            continue
        size = sum(f.stat().st_size for f in entry.iterdir() if f.is_file())
        entries.append((entry.stat().st_mtime, size, entry))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    while entries and (len(entries) > MAX_ENTRIES or total > MAX_BYTES):
        _, size, entry = entries.pop(0)
        shutil.rmtree(entry, ignore_errors=True)
        total -= size

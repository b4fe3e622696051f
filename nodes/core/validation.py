"""Checks made before any request; each message names the allowed values.

What a provider limits -- number ranges, sizes -- is checked against its catalogue's rules
(``nodes/providers/rules.py``); here are the checks every request shares: text, model ids, choices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import InputError

# What a model id from a server (or a shared workflow) may look like before it reaches the page,
# where frontend 1.27 draws combo entries as HTML: letters, digits and ._~:/@+- only, 256 at most.
MODEL_ID = re.compile(r"^[A-Za-z0-9._~:/@+-]{1,256}$")
MAX_LISTED_MODELS = 2000


def listable_model_ids(ids: Iterable[Any]) -> tuple[list[str], int]:
    """(the ids fit to show -- valid, each once, at most MAX_LISTED_MODELS --, how many were dropped)."""
    kept: list[str] = []
    seen: set[str] = set()
    dropped = 0
    for item in ids:
        if not isinstance(item, str) or not MODEL_ID.match(item) or len(kept) >= MAX_LISTED_MODELS:
            dropped += 1
        elif item not in seen:
            seen.add(item)
            kept.append(item)
    return kept, dropped


def prompt(text, *, max_chars: int | None = None, what: str = "prompt") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{what} is empty; write what the image should show")
    if max_chars is not None and len(text) > max_chars:
        raise InputError(f"{what} has {len(text)} characters; the limit is {max_chars}")
    valid_text(text, what=what)
    return text


def valid_text(text: str, *, what: str) -> str:
    """Refuse a lone surrogate (half of an emoji, e.g. from a broken copy and paste): it is not
    text and cannot be sent."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{what} contains an unpaired surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start + 1}, "
                "which is not valid text; delete that character or type it again"
            ) from None
    return text


def model_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError("model is empty; pick a model from the list or type its id")
    return name.strip()


def choice(value, allowed: Iterable[str], *, what: str) -> str:
    allowed = list(allowed)
    if value not in allowed:
        raise InputError(f"{what} {value!r} is not allowed; use one of: {', '.join(allowed)}")
    return value


def _text_leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _text_leaves(item, f"{path}.{name}" if path else str(name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _text_leaves(item, f"{path}[{index}]")


def sendable(json_body: Any, files: list | None) -> None:
    """Text that cannot be encoded (a lone surrogate) is refused before sending, naming the field,
    whichever node built the request -- never a UnicodeEncodeError from deep inside requests."""
    fields = _text_leaves(json_body) if json_body is not None else ((name, part[1]) for name, part in files or [])
    for name, text in fields:
        if isinstance(text, str):
            valid_text(text, what=name or "a text field")


MIB = 1024 * 1024


def readable_size(size: int) -> str:
    """A byte count as messages say it: "100,000 bytes" below 1 MB, else "2 MB" or "4.2 MB"."""
    if size < MIB:
        return f"{size:,} bytes"
    return f"{size // MIB} MB" if size % MIB == 0 else f"{size / MIB:.1f} MB"

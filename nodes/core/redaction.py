"""Keeping keys and terminal controls out of every message and log line.

A key is redacted when it is one the pack has read (``remember_secret``) or when it has the shape
of a key: an ``Authorization: Bearer`` value, or a shape a registered provider declares
(``Provider.key_patterns``) -- even a key the pack never issued.
"""

from __future__ import annotations

import functools
import logging
import re
import threading

from . import provider

log = logging.getLogger("hosted_images")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

BEARER = re.compile(r"(?i)(bearer\s+)[^\s,;\"']+")  # whatever follows "Bearer", whoever issued it


@functools.lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(pattern) for pattern in dict.fromkeys(patterns))


def _key_shapes() -> tuple[re.Pattern, ...]:
    """The bearer pattern, then every registered provider's key shapes."""
    return (BEARER, *_compiled(tuple(provider.KEY_PATTERNS)))


def shown_path(path) -> str:
    """A file's path as messages show it: ``~`` for the home folder, never the absolute home path
    (a message may reach a browser, a log shared for help, a screenshot)."""
    import os
    from pathlib import Path

    text, home = str(path), str(Path.home())
    if len(home) > 1 and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


def remember_secret(value: str) -> None:
    if len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


MIN_KEY_PIECE = 8  # a piece of a known key this long, left at the end of a cut text, is redacted too


def redact(text: str) -> str:
    """Return ``text`` with every known key, and anything shaped like one, replaced by ***.

    A text that was cut short may end in the first part of a key: that part goes as well.
    """
    if not text:
        return text
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern in _key_shapes():
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return _without_cut_key(text, known)


def _without_cut_key(text: str, known: list[str]) -> str:
    for secret in known:
        if len(secret) < MIN_KEY_PIECE:
            continue
        start = text.find(secret[:MIN_KEY_PIECE], max(0, len(text) - len(secret)))
        while start != -1:
            if secret.startswith(text[start:]):
                return text[:start] + "***"
            start = text.find(secret[:MIN_KEY_PIECE], start + 1)
    return text


# Terminal escape sequences and control characters (all but tab and newline), and the Unicode
# controls that reorder text: a provider's text must not repaint a user's terminal or log viewer.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text)) if text else text


def clip(text: str, limit: int) -> str:
    """Provider text fit to show: controls stripped and keys redacted *before* it is cut to
    ``limit`` characters, so a cut can never leave a long piece of a key behind."""
    if not text:
        return text
    with _secrets_lock:
        reach = max(map(len, _secrets), default=0)
    # enough beyond the cut for any known key that crosses it; keys of a known shape are
    # recognised even when cut, by their shape
    head = redact(strip_controls(text[: limit + reach + 64]))
    if len(head) <= limit and len(text) <= limit + reach + 64:
        return head
    return redact(head[:limit]) + "…"


class RedactingFilter(logging.Filter):
    """Scrubs keys and terminal controls from every record that passes through the pack's logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(strip_controls(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


log.addFilter(RedactingFilter())
logging.getLogger("urllib3").addFilter(RedactingFilter())

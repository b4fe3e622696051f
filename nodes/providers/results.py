"""What a provider's reply comes down to: image payloads plus whatever else it said."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core.credentials import redact


@dataclass
class ResultImage:
    """One result: the file bytes, or a link to download them from at once."""

    data: bytes | None = None
    url: str | None = None


@dataclass
class ImageResult:
    images: list[ResultImage]
    info: dict[str, Any] = field(default_factory=dict)  # usage, model, revised prompts, ...
    text: str = ""  # a model's words next to its images (chat-style providers)

    # Both become STRING outputs, which can end up in saved workflows and PNG metadata: a key a
    # provider echoes back (debug fields, a model quoting its input) must not travel with them.
    def __post_init__(self) -> None:
        self.text = redact(self.text)

    def describe(self) -> str:
        """The STRING output: the reply without its image payloads, as readable JSON."""
        details = dict(self.info)
        if self.text:
            details["text"] = self.text
        return redact(json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True)) if details else ""

"""What a provider's reply comes down to: image payloads plus whatever else it said."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


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

    def describe(self) -> str:
        """The STRING output: the reply without its image payloads, as readable JSON."""
        details = dict(self.info)
        if self.text:
            details["text"] = self.text
        return json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True) if details else ""

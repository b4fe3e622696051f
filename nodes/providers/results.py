"""What a provider's reply comes down to: image payloads plus whatever else it said."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.credentials import clip
from ..core.envelopes import INFO_LIMIT, bounded_json


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

    # Both become STRING outputs, which can end up in saved workflows, PNG metadata and /history:
    # a key a provider echoes back (debug fields, a model quoting its input) must not travel with
    # them, nor terminal controls, nor a reply field of any size.
    def __post_init__(self) -> None:
        self.text = clip(self.text, INFO_LIMIT)

    def describe(self) -> str:
        """The STRING output: the reply without its image payloads, as readable JSON."""
        details = dict(self.info)
        if self.text:
            details["text"] = self.text
        return bounded_json(details) if details else ""

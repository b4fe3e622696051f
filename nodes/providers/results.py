"""What a provider's reply comes down to: image payloads plus whatever else it said."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.envelopes import INFO_LIMIT, bounded_json
from ..core.redaction import clip


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


def describe_calls(results: list[ImageResult], notice: str = "", warning: str = "", chosen: str = "") -> str:
    """The info output of one or more calls: the first reply's fields, usage figures added up over
    the calls, what ``auto`` became (``chosen``), the notice (e.g. a shutdown date) and a warning
    (fewer images than asked)."""
    merged = dict(results[0].info)
    if chosen:
        merged["model_chosen"] = chosen
    if len(results) > 1:
        merged["usage"] = added_up([result.info.get("usage") or {} for result in results])
        merged["calls"] = len(results)
    if notice:
        merged["notice"] = notice
    if warning:
        merged["warning"] = warning
    return ImageResult(images=[], info=merged).describe()


def added_up(usages: list[dict]) -> dict:
    """Usage figures: numbers added up per key (a missing or null figure counts as none); anything else: the first."""
    total: dict = {}
    for usage in usages:
        for key, value in usage.items():
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and isinstance(total.get(key), (int, float, type(None)))
            ):
                total[key] = (total.get(key) or 0) + value
            else:
                total.setdefault(key, value)
    return total

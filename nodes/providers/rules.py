"""What one model accepts for one operation: the rules a catalogue entry holds, and their checks.

``Catalogue.rules`` hands a provider module one ``Operation`` per model and operation (generate or
edit); the provider checks a node's inputs against it before anything is sent, naming what is
allowed when it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..core import validation as check
from ..core.errors import InputError, OptionRefused

AUTO = "auto"  # as a size: the model picks one


@dataclass(frozen=True)
class SizeRule:
    """Any WIDTHxHEIGHT within these limits (besides the presets), e.g. OpenAI's gpt-image-2."""

    multiple: int
    max_edge: int
    min_edge: int = 1
    max_ratio: float | None = None
    min_pixels: int = 0
    max_pixels: int | None = None

    def problem(self, width: int, height: int) -> str:
        """'' when the size is allowed, else which limit it breaks."""
        if width % self.multiple or height % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if max(width, height) > self.max_edge or min(width, height) < self.min_edge:
            return (
                f"each side must be from {self.min_edge} to {self.max_edge}"
                if self.min_edge > 1
                else f"the longest side may be at most {self.max_edge}"
            )
        if self.max_ratio is not None and max(width, height) > self.max_ratio * min(width, height):
            return f"the aspect ratio may be at most {self.max_ratio:g}:1"
        pixels = width * height
        if pixels < self.min_pixels or (self.max_pixels is not None and pixels > self.max_pixels):
            return f"the size must have {self.min_pixels:,} to {self.max_pixels:,} pixels, not {pixels:,}"
        return ""

    def describe(self) -> str:
        parts = [f"both sides multiples of {self.multiple}"]
        parts.append(
            f"each from {self.min_edge} to {self.max_edge}"
            if self.min_edge > 1
            else f"the longest at most {self.max_edge}"
        )
        if self.max_ratio is not None:
            parts.append(f"an aspect ratio up to {self.max_ratio:g}:1")
        if self.max_pixels is not None:
            parts.append(f"{self.min_pixels:,} to {self.max_pixels:,} pixels")
        return "any WIDTHxHEIGHT with " + ", ".join(parts)


@dataclass(frozen=True)
class Operation:
    """What one model accepts for one operation (generate or edit)."""

    sizes: tuple[str, ...] = ()  # the presets, "auto" included when the model picks sizes itself
    size_rule: SizeRule | None = None  # other sizes it takes; None: only the presets
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> allowed values (() = any)
    max_n: int = 1  # images one call returns
    prompt_limit: int | None = None  # characters

    def check_size(self, model: str, size: str) -> str:
        """The size as the provider wants it, or InputError naming what is allowed."""
        if size in self.sizes:
            return size
        if size == AUTO:
            raise InputError(f"size auto is not allowed for {model}; use one of: {', '.join(self.sizes)}")
        width, height = check.parse_size(size)
        size = f"{width}x{height}"
        if size in self.sizes:
            return size
        if self.size_rule is None:
            raise InputError(f"size {size} is not allowed for {model}; use one of: {', '.join(self.sizes)}")
        problem = self.size_rule.problem(width, height)
        if problem:
            raise InputError(
                f"size {size} is not allowed for {model}: {problem} ({self.size_rule.describe()}, or a preset)"
            )
        return size

    def check_option(self, model: str, name: str, value, unset) -> None:
        """Refuse an option the model does not take, or a value it does not allow."""
        if name not in self.options:
            raise OptionRefused(f"{model} does not accept {name} (set it to {unset!r})")
        allowed = self.options[name]
        if allowed and value not in allowed:
            raise OptionRefused(
                f"{name} {value!r} is not allowed for {model}; use one of: {', '.join(map(str, [unset, *allowed]))}"
            )

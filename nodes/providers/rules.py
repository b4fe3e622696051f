"""What one model accepts for one operation: the rules a catalogue entry holds, and their checks.

``Catalogue.rules`` hands a provider module one ``Operation`` per model and operation (generate or
edit); the provider checks a node's inputs against it before anything is sent, naming what is
allowed when it refuses. Sizes are numbers here -- ``(1024, 1024)`` -- so a node with width and
height inputs is checked without making a string of them; messages, combos and request bodies
show them as ``1024x1024``. Every number a model limits (``n``, ``output_compression``, ``steps``,
...) is a ``Range`` under the node input's name, checked by one method for every provider.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..core.errors import InputError, OptionRefused

AUTO = "auto"  # as a size: the model picks one
Size = tuple[int, int] | str  # (width, height), or AUTO

_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


def parse_size(text, *, what: str = "size") -> tuple[int, int]:
    """WIDTHxHEIGHT as typed (``1024x1024``, ``1024 x 1024``, ``1024×1024``) as numbers."""
    match = _SIZE.match(text) if isinstance(text, str) else None
    if not match:
        raise InputError(f"{what} {text!r} must look like WIDTHxHEIGHT, e.g. 1024x1024")
    return int(match.group(1)), int(match.group(2))


def size_text(size: Size) -> str:
    """A size as messages, combos and request bodies show it: ``1024x1024``, or ``auto``."""
    return size if isinstance(size, str) else f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class Range:
    """The whole numbers from ``low`` to ``high`` (both included) a model takes for one input."""

    low: int
    high: int

    def check(self, value, *, what: str) -> int:
        # True is an int to Python, but no count to a user
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            raise InputError(f"{what} is {value!r}; it must be a whole number from {self.low} to {self.high}")
        return value


ONE = Range(1, 1)  # n of a model that makes one image per call


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

    def check_sides(self, width: int, height: int, *, what: str = "size") -> tuple[int, int]:
        """The size, or InputError in one short sentence about the sides (for a rule that is all
        sides, with no presets beside it: IONOS's edits)."""
        size = f"{width}x{height}"
        for side in (width, height):
            if not self.min_edge <= side <= self.max_edge or side % self.multiple:
                raise InputError(
                    f"{what} {size} is not allowed; both sides must be multiples of {self.multiple} "
                    f"from {self.min_edge} to {self.max_edge}"
                )
        problem = self.problem(width, height)
        if problem:
            raise InputError(f"{what} {size} is not allowed; {problem}")
        return width, height

    def fit(self, width: int, height: int) -> tuple[int, int]:
        """The nearest size with the same aspect whose sides are multiples in range: an input
        image's own size as the rule allows it (an edit's ``auto``)."""
        low, high = self.min_edge, self.max_edge
        scale = 1.0
        if max(width, height) > high:
            scale = high / max(width, height)
        if min(width, height) * scale < low:
            scale = low / min(width, height)

        def snap(side: float) -> int:
            side = int(round(side / self.multiple)) * self.multiple
            return max(low, min(high, side))

        return snap(width * scale), snap(height * scale)


@dataclass(frozen=True)
class Operation:
    """What one model accepts for one operation (generate or edit). A provider module checks a
    node's inputs against the model's Operation, or the endpoint's (``Catalogue.endpoint``) for a
    model the catalogue does not know: one path for both, and no limit written in code."""

    sizes: tuple[Size, ...] = ()  # the presets as (width, height), AUTO included when the model picks sizes itself
    size_rule: SizeRule | None = None  # other sizes it takes; None: only the presets
    options: Mapping[str, tuple] = field(default_factory=dict)  # name -> allowed values (() = any)
    # node input -> the whole numbers it may be: n (images one call returns; one when not given)
    # and every other number the model limits (output_compression, partial_images, steps, ...)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    prompt_limit: int | None = None  # characters

    @property
    def max_n(self) -> int:
        """Images one call returns."""
        return self.ranges.get("n", ONE).high

    def check_number(self, model: str, name: str, value) -> int:
        """The value, or InputError when it is not a whole number in the range these rules give
        ``name`` (``n``: one unless they say more). A number they do not limit is left to the
        server: the endpoint's rules may leave an option of a model the catalogue does not know
        unchecked, sent as the user set it (docs/providers.md section 0)."""
        limit = self.ranges.get(name, ONE if name == "n" else None)
        if limit is None:
            return value
        if name == "n" and limit == ONE and value != 1:
            raise InputError(f"{model} makes one image per call; set n to 1")
        return limit.check(value, what=name)

    def check_numbers(self, model: str, values: Mapping) -> None:
        """``check_number`` for each of ``values`` these rules limit, in the order the rules list
        them (so which of two bad numbers is named first does not hang on how a node passed them)."""
        for name in self.ranges:
            if name in values:
                self.check_number(model, name, values[name])

    @property
    def size_names(self) -> str:
        """The presets as a message lists them."""
        return ", ".join(map(size_text, self.sizes))

    def check_size(self, model: str, size: str) -> str:
        """The size as the provider wants it (``WIDTHxHEIGHT`` or ``auto``), or InputError naming
        what is allowed."""
        if size == AUTO:
            if AUTO in self.sizes:
                return AUTO
            raise InputError(f"size auto is not allowed for {model}; use one of: {self.size_names}")
        return size_text(self.check_dimensions(model, *parse_size(size)))

    def check_dimensions(self, model: str, width: int, height: int) -> tuple[int, int]:
        """A width and height the model takes (a preset, or within its size rule), or InputError
        naming what is allowed: the check for a node with width and height inputs."""
        for what, side in (("width", width), ("height", height)):
            if isinstance(side, bool) or not isinstance(side, int):
                raise InputError(f"{what} is {side!r}; it must be a whole number")
        size = f"{width}x{height}"
        if (width, height) in self.sizes:
            return width, height
        if self.size_rule is None:
            raise InputError(f"size {size} is not allowed for {model}; use one of: {self.size_names}")
        problem = self.size_rule.problem(width, height)
        if problem:
            raise InputError(
                f"size {size} is not allowed for {model}: {problem} ({self.size_rule.describe()}, or a preset)"
            )
        return width, height

    def check_option(self, model: str, name: str, value, unset) -> None:
        """Refuse an option the model does not take, or a value it does not allow."""
        if name not in self.options:
            raise OptionRefused(f"{model} does not accept {name} (set it to {unset!r})")
        allowed = self.options[name]
        if allowed and value not in allowed:
            raise OptionRefused(
                f"{name} {value!r} is not allowed for {model}; use one of: {', '.join(map(str, [unset, *allowed]))}"
            )


# --- prices ---------------------------------------------------------------------------------------

ANY = "*"  # a price row that holds for every size or every quality


@dataclass(frozen=True)
class Price:
    """A model's public price as its provider publishes it, in US dollars, with where it was read
    and when. Per image by size and quality, and/or per million tokens of each kind the journal
    names (``input_text_tokens``, ``input_image_tokens``, ``input_tokens``, ``output_tokens``)."""

    source: str
    checked: datetime.date
    per_image: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (size, quality) -> USD; ANY matches
    per_million_tokens: Mapping[str, float] = field(default_factory=dict)

    def image(self, size: str, quality: str) -> float | None:
        """USD per image at this size and quality, or None when the table has no row for them."""
        for key in ((size, quality), (size, ANY), (ANY, quality), (ANY, ANY)):
            if key in self.per_image:
                return self.per_image[key]
        return None

    def tokens(self, usage: Mapping) -> float | None:
        """The reported token usage priced (None when it names no priced kind). Input tokens split
        into text and image are priced apart; without the split, all as the input kind given."""
        rates, total, priced = self.per_million_tokens, 0.0, False
        kinds = ["output_tokens"]
        split = "input_text_tokens" in usage or "input_image_tokens" in usage
        kinds += ["input_text_tokens", "input_image_tokens"] if split else ["input_tokens"]
        for kind in kinds:
            rate = rates.get(kind, rates.get("input_text_tokens") if kind == "input_tokens" else None)
            if rate is not None and isinstance(usage.get(kind), (int, float)):
                total += usage[kind] * rate / 1_000_000
                priced = True
        return total if priced else None

    @property
    def dated(self) -> str:
        return f"checked {self.checked.isoformat()}, {self.source}"


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to cost before it is sent: ``usd`` for the whole run (None when no
    per-image price applies), ``per_image``, the progress text's words, and the model's ``price``
    to price the tokens a reply reports."""

    text: str
    usd: float | None = None
    per_image: float | None = None
    price: Price | None = None

    def tokens_usd(self, usage: Mapping) -> float | None:
        return self.price.tokens(usage) if self.price is not None and usage else None

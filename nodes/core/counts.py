"""What journal lines add up to, per local day and provider (or model): calls, images counted
against the daily limits, what came back, the usage providers reported, and money -- the cost a
provider reported, else the estimate the pack made (docs/design.md, "Nothing paid for is lost;
spend is visible")."""

from __future__ import annotations

import datetime
import json
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import journal

NOT_BILLED = ("connect_failed",)  # failures that cannot have been billed, besides 4xx refusals


@dataclass
class Totals:
    """What one provider's calls came to (one day)."""

    calls: int = 0  # calls that asked for images
    failed: int = 0
    images: int = 0  # counted against the daily limits (see the module's docstring)
    returned: int = 0
    other_calls: int = 0  # model lists
    credits: float | None = None  # a hub's own credits, as it reports them
    cost: float | None = None  # the cost a provider reported (USD), e.g. a gateway's usage.cost
    usd_estimated: float | None = None  # the pack's estimate (USD) of the billable calls without a reported cost
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None

    def add(self, line: dict) -> None:
        asked, returned = count(line.get("images_asked")), count(line.get("images_returned"))
        if not asked and not returned:
            self.other_calls += 1
            return
        self.calls += 1
        self.returned += min(returned, asked) if asked else returned
        if line.get("outcome") != "ok":
            self.failed += 1
        figures = _figures(line)
        if billable(line):
            self.images += asked
            estimate = line.get("tokens_usd", line.get("estimate_usd"))
            if "cost" not in figures and journal.is_number(estimate):
                self.usd_estimated = (self.usd_estimated or 0) + estimate
        self._add_figures(figures)

    def merge(self, other: Totals) -> Totals:
        """Add ``other``'s figures to these; returns self."""
        self._add_figures({name: value for name, value in other.__dict__.items() if value is not None})
        return self

    def _add_figures(self, figures: dict) -> None:
        for name, value in figures.items():
            if hasattr(self, name):
                setattr(self, name, (getattr(self, name) or 0) + value)

    @property
    def usd(self) -> float:
        """Money spent (USD): what providers reported, and the pack's estimate where none was reported."""
        return (self.cost or 0) + (self.usd_estimated or 0)

    def as_dict(self) -> dict:
        figures = {name: value for name, value in self.__dict__.items() if value is not None}
        for name in ("credits", "cost", "usd_estimated"):
            if name in figures:
                figures[name] = round(figures[name], 6)
        return figures


def billable(line: dict) -> bool:
    """Whether a call counts towards the limits: it may have been billed (not the emulator's)."""
    if line.get("emulator") is True:
        return False
    if line.get("outcome") == "ok":
        return True
    status = line.get("status")
    refused = line.get("failure") == "refused" and isinstance(status, int) and 400 <= status < 500
    return not refused and line.get("failure") not in NOT_BILLED


def _figures(line: dict) -> dict:
    """A line's usage under the journal's names -- and for a line of an earlier version of the
    pack, which kept the provider's own names, through the provider's descriptor."""
    usage = line.get("usage")
    if not isinstance(usage, dict):
        return {}
    provider = journal.descriptor(str(line.get("provider")))
    figures = journal.usage_figures(provider, usage) if provider is not None else {}
    own = {name: value for name, value in usage.items() if name in journal.FIGURES and journal.is_number(value)}
    return {**figures, **own}


def count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def add_up(
    lines: Iterable[dict], days: set[datetime.date] | None = None, key: Callable[[dict], str] | None = None
) -> dict[datetime.date, dict[str, Totals]]:
    """Per local day and provider (or ``key(line)``, e.g. provider and model), the totals of the
    call lines (of ``days`` only, if given); calls to the emulator are left out."""
    result: dict[datetime.date, dict[str, Totals]] = {}
    for line in lines:
        if line.get("event") != "call" or not isinstance(line.get("provider"), str) or line.get("emulator") is True:
            continue
        day = local_date(line["time"]) if isinstance(line.get("time"), str) else None
        if day is None or (days is not None and day not in days):
            continue
        try:
            result.setdefault(day, {}).setdefault(key(line) if key else line["provider"], Totals()).add(line)
        except (TypeError, ValueError, AttributeError):  # a line of the right shape with odd values
            continue
    return result


_local_dates: dict[str, datetime.date | None] = {}  # a UTC minute -> its local day (zones differ by whole minutes)


def local_date(stamp: str) -> datetime.date | None:
    """The local calendar day of a line's UTC time."""
    minute = stamp[:16]
    if minute not in _local_dates:
        try:
            moment = datetime.datetime.fromisoformat(minute).replace(tzinfo=datetime.timezone.utc)
            _local_dates[minute] = moment.astimezone().date() if len(minute) == 16 else None
        except ValueError:
            _local_dates[minute] = None
        if len(_local_dates) > 100_000:
            _local_dates.clear()
    return _local_dates[minute]


HISTORY_BYTES = 1 << 20  # the end of the journal read for past durations: thousands of calls
HISTORY_CALLS = 10  # the most recent matching calls a duration is expected from


def expected_seconds(provider: str, model: str, host: str, images: int) -> float | None:
    """How long one call is expected to take: the median duration of the last answered calls of
    the same provider, model, host and images asked for, from the end of the journal; None with
    no such history (or no journal to read). Lines are read newest first and parsed only when
    they name the model, so a long journal costs little."""
    try:
        with journal.open_for_reading(journal.journal_path()) as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - HISTORY_BYTES))
            raw = handle.read(HISTORY_BYTES)
    except OSError:
        return None
    needle = json.dumps(model).encode()  # the model id as a line spells it (ASCII JSON)
    durations: list[float] = []
    for chunk in reversed(raw.split(b"\n")):
        if needle not in chunk:
            continue
        line = journal.parse_line(chunk)
        if (
            line is not None
            and line.get("event") == "call"
            and line.get("outcome") == "ok"
            and (line.get("provider"), line.get("model"), line.get("host"), line.get("images_asked"))
            == (provider, model, host, images)
            and journal.is_number(line.get("duration_s"))
        ):
            durations.append(line["duration_s"])
            if len(durations) == HISTORY_CALLS:
                break
    return statistics.median(durations) if durations else None

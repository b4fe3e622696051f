"""Today's counts from the spend journal, and the daily image limits (docs/design.md, "Nothing
paid for is lost; spend is visible").

``HOSTED_IMAGES_DAILY_IMAGE_LIMIT`` (all providers together) and
``HOSTED_IMAGES_DAILY_IMAGE_LIMIT_<PROVIDER>`` (the provider's id in capitals). "Today" is the
local calendar day of the pack's clock. Today's count is the images asked for by today's calls
that may have been billed -- every call that was sent, except those the provider refused with a
4xx status, those that never reached it and those to the bundled emulator -- plus the images
reserved by nodes still running, in any process that shares the journal.

A node is refused before anything is sent when its whole ask would take a count past a limit.
Check and reservation are one step across processes: under the journal's lock, today's lines are
read and a ``reserve`` line appended; the node's ``release`` line hands the count to its call
lines. A reservation whose process is gone, or older than six hours, no longer counts. Today's
count never goes down within the day in a process that has seen it, whatever the file does.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import os
import platform
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import clock, journal
from .counts import Totals, add_up, billable, count, local_date  # noqa: F401 -- what today's lines add up to
from .errors import RemoteImageError
from .redaction import clip, shown_path

LIMIT_ENV = "HOSTED_IMAGES_DAILY_IMAGE_LIMIT"
BUDGET_ENV = "HOSTED_IMAGES_DAILY_BUDGET_USD"
ALLOW_UNPRICED_ENV = "HOSTED_IMAGES_ALLOW_UNPRICED"  # "1": a run without a price passes a budget
STALE_RESERVATION = datetime.timedelta(hours=6)


# --- today's totals, kept up to date ----------------------------------------------------------------


@dataclass
class Reservation:
    provider: str
    images: int
    pid: int
    host: str
    since: datetime.datetime
    usd: float = 0.0  # the run's estimate, held against the daily budgets

    def live(self, now: datetime.datetime) -> bool:
        if now - self.since > STALE_RESERVATION:
            return False
        if self.host == _HOST and self.pid != os.getpid():
            return _process_alive(self.pid)
        return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


_HOST = platform.node()


@dataclass
class _Tally:
    """Today's totals and open reservations of one journal file, kept up to date by reading only
    what was appended. The first read starts shortly before local midnight, found by stepping back
    from the end in blocks, so a journal of years costs no more than one of today."""

    path: Path
    identity: tuple | None = None
    offset: int = 0
    day: datetime.date | None = None
    totals: dict[str, Totals] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    BLOCK = 1 << 16
    MARGIN = datetime.timedelta(hours=1)

    def refresh(self) -> None:
        """Read what was appended since the last time (from the start of today on a new file)."""
        today = clock.today()
        if self.day != today:
            self.identity, self.offset, self.day, self.totals, self.reservations = None, 0, today, {}, {}
        try:
            with journal.open_for_reading(self.path) as handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_dev, info.st_ino)
                if identity != self.identity or info.st_size < self.offset:  # a new or shortened file
                    self.identity, self.totals, self.reservations = identity, {}, {}
                    self.offset = self._recent_start(handle, info.st_size)
                if info.st_size > self.offset:
                    handle.seek(self.offset)
                    raw = handle.read(info.st_size - self.offset)
                    end = raw.rfind(b"\n") + 1  # an unfinished last line is read when it is finished
                    self._take(journal.lines_of(raw[:end]), today)
                    self.offset += end
        except FileNotFoundError:
            self.identity, self.offset, self.totals, self.reservations = None, 0, {}, {}
        except OSError as exc:
            journal._warn_once(f"read {self.path}", f"the spend journal {shown_path(self.path)} cannot be read ({exc})")

    def _take(self, lines: Iterable[dict], today: datetime.date) -> None:
        calls = []
        for line in lines:
            stamp = line.get("time")
            if not isinstance(stamp, str) or local_date(stamp) != today:
                continue
            event = line.get("event")
            if event == "call":
                calls.append(line)
            elif event == "reserve" and isinstance(line.get("id"), str) and (moment := _moment(stamp)) is not None:
                self.reservations[line["id"]] = Reservation(
                    str(line.get("provider")),
                    count(line.get("images")),
                    count(line.get("pid")),
                    str(line.get("host")),
                    moment,
                    line["usd"] if journal.is_number(line.get("usd")) and line["usd"] > 0 else 0.0,
                )
            elif event == "release":
                self.reservations.pop(str(line.get("id")), None)
        for provider, totals in add_up(calls, {today}).get(today, {}).items():
            self.totals.setdefault(provider, Totals()).merge(totals)

    def _recent_start(self, handle, size: int) -> int:
        """The offset of a line written before today's local midnight (less a margin), or 0."""
        midnight = datetime.datetime.combine(clock.today(), datetime.time()).astimezone() - self.MARGIN
        since = midnight.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z").encode()
        position = size
        while position > 0:
            start = max(0, position - self.BLOCK)
            handle.seek(start)
            block = handle.read(position - start)
            first = 0 if start == 0 else block.find(b"\n") + 1
            if start > 0 and first == 0:  # one line longer than a block: keep stepping back
                position = start
                continue
            stamp = journal.time_of(block, first)
            if stamp and stamp < since:  # ISO times in UTC sort as text
                return start + first
            position = start
        return 0


def _moment(stamp: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


_tallies: dict[str, _Tally] = {}
_state_lock = threading.Lock()
_unwritten: dict[str, list[dict]] = {}  # journal -> call lines that could not be written: they still count
_highest: dict[tuple[str, datetime.date], dict[str, int]] = {}  # (journal, day) -> the most images seen per provider
_own: dict[str, tuple[str, int, float]] = {}  # this process's open reservations: id -> (provider, images, usd)


def _tally(path: Path) -> _Tally:
    with _state_lock:
        return _tallies.setdefault(str(path), _Tally(path))


def _keep_unwritten(line: dict) -> None:
    with _state_lock:
        kept = _unwritten.setdefault(str(journal.journal_path()), [])
        kept.append({**line, "time": line.get("time") or clock.utc_stamp()})
        del kept[:-10_000]


journal.on_unwritten(_keep_unwritten)


@dataclass
class Today:
    """Today's counts: billable images per provider, and images reserved by running nodes."""

    totals: dict[str, Totals]
    reserved: dict[str, int]
    reserved_usd: dict[str, float] = field(default_factory=dict)

    def used(self, provider: str | None) -> int:
        """Images counted today for ``provider`` (None: all providers together)."""
        if provider is None:
            return sum(t.images for t in self.totals.values()) + sum(self.reserved.values())
        return (self.totals[provider].images if provider in self.totals else 0) + self.reserved.get(provider, 0)

    def spent(self, provider: str | None) -> float:
        """Money (USD) spent today -- reported, else estimated -- and held by running nodes."""
        if provider is None:
            return sum(t.usd for t in self.totals.values()) + sum(self.reserved_usd.values())
        return (self.totals[provider].usd if provider in self.totals else 0) + self.reserved_usd.get(provider, 0)


def today_counts() -> Today:
    """Today's totals and reservations: the journal's (every process's), and the calls this
    process could not write; counts never below what this process has seen today."""
    path = journal.journal_path()
    tally = _tally(path)
    with tally.lock:
        tally.refresh()
        totals = {provider: Totals().merge(t) for provider, t in tally.totals.items()}
        now = clock.now()
        reserved: dict[str, int] = {}
        reserved_usd: dict[str, float] = {}
        for reservation in tally.reservations.values():
            if reservation.live(now):
                reserved[reservation.provider] = reserved.get(reservation.provider, 0) + reservation.images
                reserved_usd[reservation.provider] = reserved_usd.get(reservation.provider, 0) + reservation.usd
    today = clock.today()
    with _state_lock:
        for provider, extra in add_up(list(_unwritten.get(str(path), ())), {today}).get(today, {}).items():
            totals.setdefault(provider, Totals()).merge(extra)
        highest = _highest.setdefault((str(path), today), {})
        for provider, seen in highest.items():
            if provider in totals and totals[provider].images < seen:
                totals[provider].images = seen
            elif provider not in totals:
                totals[provider] = Totals(images=seen)
        for provider, counted in totals.items():
            highest[provider] = max(highest.get(provider, 0), counted.images)
        for provider, images, usd in _own.values():  # reservations a journal that cannot be written does not hold
            reserved[provider] = reserved.get(provider, 0) + images
            reserved_usd[provider] = reserved_usd.get(provider, 0) + usd
    return Today(totals, reserved, reserved_usd)


def today_totals() -> dict[str, Totals]:
    """Today's totals per provider (without reservations)."""
    return today_counts().totals


# --- daily limits ------------------------------------------------------------------------------------


class DailyLimitRefusal(RemoteImageError):
    """A node was refused before sending: its images would take today's count past a limit (or a
    limit is set to something that is not a number)."""

    kind = "daily image limit"

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        text = f"{prefix}refused by the {self.kind} (nothing was sent): {self.message}"
        return f"{text}\nHint: {self.hint}" if self.hint else text


def limit_variable(provider_id: str) -> str:
    return f"{LIMIT_ENV}_{provider_id.upper()}"


class DailyBudgetRefusal(DailyLimitRefusal):
    """A node was refused before sending: its estimate would take today's spend past a budget."""

    kind = "daily budget"


def _amounts(base: str, provider_id: str, parse, what: str, error) -> list[tuple[str, float]]:
    """(variable, amount) of ``base`` set for the provider (``base_<PROVIDER>``), then for all."""
    found = []
    for variable in (f"{base}_{provider_id.upper()}", base):
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        try:
            value = parse(text)
            if not value >= 0 or value == float("inf"):
                raise ValueError
        except ValueError:
            raise error(
                f"{variable} is {clip(text, 40)!r}, not {what}",
                hint=f"set {variable} to {what} (0 allows none), or unset it, and restart ComfyUI",
            ) from None
        found.append((variable, value))
    return found


def limits(provider_id: str) -> list[tuple[str, int]]:
    """(variable, images) of the limits set for ``provider_id``: its own, then the global one."""
    return _amounts(LIMIT_ENV, provider_id, int, "a whole number of images", DailyLimitRefusal)


def budgets(provider_id: str) -> list[tuple[str, float]]:
    """(variable, USD) of the daily budgets set for ``provider_id``: its own, then the global one."""
    return _amounts(BUDGET_ENV, provider_id, float, "an amount of US dollars, e.g. 2.50", DailyBudgetRefusal)


_reserve_lock = threading.Lock()
# The node run's stack of reservations (set by the node before its calls run; a worker thread
# sees it): a budget checked once the model and the estimate are known stays held until the end.
RUN_HOLD: contextvars.ContextVar[contextlib.ExitStack | None] = contextvars.ContextVar(
    "hosted_images_run", default=None
)


@contextlib.contextmanager
def daily_limits(provider_id: str, label: str, asked: int) -> Iterator[None]:
    """Refuse before anything is sent when ``asked`` more images would take today's count past a
    limit set for the provider or for all; the images stay reserved -- for every process sharing
    the journal -- while the node runs."""
    set_limits = limits(provider_id) if asked > 0 else []

    def check(counts: Today) -> None:
        for variable, limit in set_limits:
            everyone = variable == LIMIT_ENV
            used = counts.used(None if everyone else provider_id)
            if used + asked > limit:
                raise DailyLimitRefusal(
                    f"{variable} allows {limit} image{'' if limit == 1 else 's'} a day for "
                    f"{'all providers together' if everyone else label}; {used} "
                    f"{'was' if used == 1 else 'were'} asked for today and this node asks for {asked} more",
                    provider=label,
                    hint="today is the local calendar day, counted from the spend journal; raise or unset "
                    f"{variable} and restart ComfyUI, or wait until midnight",
                )

    with _reserved(provider_id, check, images=asked) if set_limits else contextlib.nullcontext():
        yield


@contextlib.contextmanager
def daily_budget(provider_id: str, label: str, usd: float | None, estimate: str) -> Iterator[None]:
    """Refuse before anything is sent when the run's estimate (``usd``; None: no price known)
    would take today's spend past a budget set for the provider or for all; the estimate stays
    reserved while the node runs, as ``daily_limits`` reserves images."""
    set_budgets = budgets(provider_id)
    if not set_budgets or (usd is None and os.environ.get(ALLOW_UNPRICED_ENV, "").strip() == "1"):
        yield
        return
    if usd is None:
        variables = " and ".join(variable for variable, _ in set_budgets)
        raise DailyBudgetRefusal(
            f"{variables} set a daily budget, and this run has no price to check against it ({estimate})",
            provider=label,
            hint=f"set {ALLOW_UNPRICED_ENV}=1 to let runs without a price through under a budget, or unset the budget",
        )

    def check(counts: Today) -> None:
        for variable, budget in set_budgets:
            everyone = variable == BUDGET_ENV
            spent = counts.spent(None if everyone else provider_id)
            if spent + usd > budget + 1e-9:
                raise DailyBudgetRefusal(
                    f"{variable} is ${budget:.2f} a day for {'all providers together' if everyone else label}; "
                    f"${spent:.2f} was spent today (reported, else estimated) and this run is estimated at "
                    f"${usd:.2f} ({estimate})",
                    provider=label,
                    hint=f"raise or unset {variable} and restart ComfyUI, or wait until midnight (local time)",
                )

    with _reserved(provider_id, check, usd=usd):
        yield


@contextlib.contextmanager
def _reserved(provider_id: str, check, *, images: int = 0, usd: float = 0.0) -> Iterator[None]:
    """``check(today's counts)`` and, when it passes, a reservation of ``images`` and ``usd`` --
    one step under the journal's lock, so no other process checks in between -- held until the
    block ends (the node's call lines then count instead)."""
    reservation = uuid.uuid4().hex
    with _reserve_lock, _journal_locked() as fd:
        check(today_counts())
        line = {
            "time": clock.utc_stamp(),
            "event": "reserve",
            "id": reservation,
            "provider": provider_id,
            "images": images,
            **({"usd": round(usd, 6)} if usd else {}),
            "pid": os.getpid(),
            "host": _HOST,
        }
        written = _write_locked(fd, line)
        if not written:
            with _state_lock:
                _own[reservation] = (provider_id, images, usd)
    try:
        yield
    finally:
        with _state_lock:
            _own.pop(reservation, None)
        if written:
            journal.append({"time": clock.utc_stamp(), "event": "release", "id": reservation})
        today_counts()  # what the node's calls came to is now this process's floor for today


@contextlib.contextmanager
def _journal_locked() -> Iterator[int | None]:
    """The journal's lock for one check-and-reserve (None when the journal cannot be opened: the
    check then counts what this process knows)."""
    try:
        opened = journal.open_journal(journal.journal_path())
        fd = opened.__enter__()
    except OSError:
        yield None
        return
    try:
        with journal.locked(fd):
            yield fd
    finally:
        opened.__exit__(None, None, None)


def _write_locked(fd: int | None, line: dict) -> bool:
    if fd is None:
        return False
    try:
        journal.append_locked(fd, journal.encode(line))
        return True
    except OSError:
        return False

"""What day it is, for every rule that depends on the date (docs/design.md, "No dependence on the
day it runs"): retirements and shutdown notices, what ``auto`` resolves to, the spend journal's
line times and "today", the daily limits.

``HOSTED_IMAGES_TODAY`` (``YYYY-MM-DD``) sets the date and keeps the time of day: the tests set it
(so no test depends on the machine's clock), and ``python -m nodes.cli.doctor --on DATE`` asks
what a given day would bring. Unset, it is this machine's local date. Durations and timeouts
never read it: they use ``time.monotonic``.
"""

from __future__ import annotations

import datetime
import functools
import os

TODAY_ENV = "HOSTED_IMAGES_TODAY"


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None


def set_date() -> datetime.date | None:
    """The date ``HOSTED_IMAGES_TODAY`` sets, or None (unset, or not a date)."""
    text = os.environ.get(TODAY_ENV, "")
    return _parse(text) if text else None


def now() -> datetime.datetime:
    """This moment in local time (aware), on the set date when there is one."""
    real = datetime.datetime.now().astimezone()
    day = set_date()
    if day is None:
        return real
    return real.replace(year=day.year, month=day.month, day=day.day)


def today() -> datetime.date:
    return now().date()


def utc_stamp() -> str:
    """This moment in UTC as the journal writes it, e.g. ``2026-12-06T10:15:02.481Z``."""
    moment = now().astimezone(datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

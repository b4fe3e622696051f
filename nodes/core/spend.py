"""What the spend journal comes to, for people: today's spend per provider (the sidebar,
``GET /hosted_images/spend``) and the last days' (``python -m nodes.cli.journal``). No key, no
prompt, no path."""

from __future__ import annotations

import datetime
from pathlib import Path

from . import clock, journal
from .counts import Totals, add_up
from .limits import DailyLimitRefusal, budgets, limits, today_counts


def spend_today(providers: dict) -> dict:
    """Today's calls, images and reported usage per provider (``providers``: id -> Provider), the
    images reserved by nodes still running, and the limits set."""
    counts = today_counts()
    shown = {}
    for provider_id in [*providers, *sorted(set(counts.totals) - set(providers))]:
        provider = providers.get(provider_id)
        entry = {
            "label": provider.label if provider else provider_id,
            **(counts.totals.get(provider_id) or Totals()).as_dict(),
        }
        if counts.reserved.get(provider_id):
            entry["reserved"] = counts.reserved[provider_id]
        if counts.reserved_usd.get(provider_id):
            entry["reserved_usd"] = round(counts.reserved_usd[provider_id], 6)
        try:
            entry["limits"] = [{"variable": v, "images": n} for v, n in limits(provider_id)]
        except DailyLimitRefusal as exc:
            entry["limits"] = [{"error": exc.message}]
        try:
            entry["budgets"] = [{"variable": v, "usd": usd} for v, usd in budgets(provider_id)]
        except DailyLimitRefusal as exc:
            entry["budgets"] = [{"error": exc.message}]
        shown[provider_id] = entry
    now = clock.now()
    return {"date": now.date().isoformat(), "utc_offset": now.strftime("%z"), "providers": shown}


def read_days(path: Path, days: int, *, by_model: bool = False) -> dict[datetime.date, dict[str, Totals]]:
    """Per local day and provider (``by_model``: provider and model, as "provider model") for the
    last ``days`` days (today included); the whole file is read (never through a symlink); calls
    to the emulator are left out."""
    wanted = {clock.today() - datetime.timedelta(days=back) for back in range(max(days, 1))}
    key = (lambda line: f"{line['provider']} {line.get('model') or '?'}") if by_model else None
    with journal.open_for_reading(path) as handle:
        return add_up((line for raw in handle if (line := journal.parse_line(raw)) is not None), wanted, key)

"""What the pack's provider calls came to, per day and provider, from the spend journal.

    python -m nodes.cli.journal [--days 7] [--by-model] [--json] [--path FILE]

Money: "$ reported" is what providers reported (e.g. a gateway's cost), "$ estimated" the pack's
estimate from the catalogue's prices for calls without a reported cost; credits are a hub's own.

Days are calendar days in this machine's local time. Without --path: HOSTED_IMAGES_JOURNAL, else
~/.local/share/comfyui-hosted-image-apis/journal.jsonl (where the pack writes, inside ComfyUI too).
Damaged lines are skipped; calls to the bundled emulator are left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core import journal, spend
from ..core.counts import Totals
from ..core.redaction import shown_path

COLUMNS = (  # (heading, Totals field)
    ("calls", "calls"),
    ("failed", "failed"),
    ("images", "images"),
    ("returned", "returned"),
    ("credits", "credits"),
    ("$ reported", "cost"),
    ("$ estim.", "usd_estimated"),
    ("tokens in", "input_tokens"),
    ("tokens out", "output_tokens"),
)


def summary(path: Path, days: int, *, by_model: bool = False) -> dict:
    """{"days": {date: {provider: totals}}, "total": {provider: totals}} for the last ``days`` days
    (``by_model``: keyed "provider model"). Money: ``cost`` as providers reported it (USD),
    ``usd_estimated`` the pack's estimate for calls without a reported cost, ``usd`` both."""
    per_day = spend.read_days(path, days, by_model=by_model)
    total: dict[str, Totals] = {}
    for providers in per_day.values():
        for provider, totals in providers.items():
            total.setdefault(provider, Totals()).merge(totals)

    def shown(totals: Totals) -> dict:
        money = totals.cost is not None or totals.usd_estimated is not None
        return {**totals.as_dict(), **({"usd": round(totals.usd, 6)} if money else {})}

    return {
        "days": {
            day.isoformat(): {p: shown(t) for p, t in sorted(providers.items())}
            for day, providers in sorted(per_day.items())
        },
        "total": {p: shown(t) for p, t in sorted(total.items())},
    }


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def table(report: dict) -> str:
    """The report as text: a block per day, a row per provider, and the total."""
    width = max([len("provider"), *(len(p) for day in report["days"].values() for p in day)])
    head = f"  {'provider':<{width}}" + "".join(f"  {title:>10}" for title, _ in COLUMNS)
    lines = []
    for title, providers in [*report["days"].items(), ("total", report["total"])]:
        lines += [title, head]
        for provider, totals in providers.items():
            lines.append(f"  {provider:<{width}}" + "".join(f"  {_cell(totals.get(name)):>10}" for _, name in COLUMNS))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7, help="the last N days, today included (default 7)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--by-model", action="store_true", help="a row per provider and model")
    parser.add_argument("--path", type=Path, help="the journal file (default: where the pack writes outside ComfyUI)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be 1 or more")
    path = (args.path or journal.journal_path()).expanduser()
    try:
        report = summary(path, args.days, by_model=args.by_model)
    except FileNotFoundError:
        print(
            f"no journal at {shown_path(path)}: no provider call was made there yet (or give --path)", file=sys.stderr
        )
        return 1
    except OSError as exc:
        print(f"cannot read {shown_path(path)}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    elif not report["days"]:
        print(f"{shown_path(path)}: no calls in the last {args.days} day(s)")
    else:
        print(
            f"{shown_path(path)} -- the last {args.days} day(s), local time; "
            "images: asked for by calls that may have been billed; $: US dollars, reported or estimated"
        )
        print(table(report), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

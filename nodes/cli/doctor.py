"""What went stale, told without paying: endpoints, keys, what ``auto`` becomes, the models the
example workflows rely on, the catalogues' age.

    python -m nodes.cli.doctor [--emulator] [--on YYYY-MM-DD] [--json]

It checks every provider with a key (``--emulator``: every provider, against the bundled local
emulator), with free calls only -- model lists -- and never shows a key. Exit codes: 0 nothing a
workflow relies on is broken (warnings may be printed), 1 something is (a "problem" line), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import MODEL_LISTS, NODE_CLASS_MAPPINGS, PROVIDERS
from ..core import clock
from ..doctor import check

MARKS = {"ok": "ok", "note": "--", "warning": "!!", "problem": "XX"}


def render(report: dict) -> str:
    lines = [f"Hosted Images doctor, {report['date']}", ""]
    for provider in report["providers"]:
        where = f" · {provider['endpoint']}" if provider["endpoint"] else ""
        lines.append(f"{provider['label']} (key: {provider['key']}{where})")
        for finding in provider["findings"]:
            lines.append(f"  [{MARKS[finding['level']]}] {finding['topic']}: {finding['text']}")
        lines.append("")
    problems, warnings = report["problems"], report["warnings"]
    if problems:
        lines.append(f"{problems} problem(s): something a workflow relies on is broken (XX lines above).")
    else:
        lines.append(
            "Nothing a workflow relies on is broken." + (f" {warnings} warning(s) (!! lines)." if warnings else "")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emulator", action="store_true", help="check every provider against the bundled emulator")
    parser.add_argument("--on", metavar="YYYY-MM-DD", help="judge retirements and shutdowns as on that day")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.on:
        if clock._parse(args.on) is None:
            parser.error(f"--on {args.on!r} is not a date like 2027-01-31")
        os.environ[clock.TODAY_ENV] = args.on
    server = None
    if args.emulator:
        from ..emulator import start_all

        server, emulated = start_all()
        os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        for item in emulated.values():
            os.environ.update(item.environment(server.url))
    try:
        report = check(PROVIDERS, MODEL_LISTS, NODE_CLASS_MAPPINGS)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

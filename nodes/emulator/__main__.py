"""Serve every provider emulator on loopback: ``python -m nodes.emulator [--port 8199] [--env-file F]``.

It prints the variables that point ComfyUI (or the demo) at it; ``--env-file`` also writes them
to a file, so a second terminal only needs ``source F`` before starting ComfyUI.
"""

from __future__ import annotations

import argparse
import errno
import shlex
import sys
import time
from pathlib import Path

from . import start_all


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=8199, help="port (default 8199; 0 picks a free one)")
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="also write the export lines to FILE (e.g. emulator.env); `source FILE` in another terminal",
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    try:
        server, emulated = start_all(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"emulator: port {args.port} is in use (another emulator or ComfyUI?); "
                "pass --port 0 to pick a free one",
                file=sys.stderr,
            )
            return 2
        print(f"emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    lines = [
        f"export {name}={shlex.quote(value)}"
        for item in emulated.values()
        for name, value in item.environment(server.url).items()
    ]
    print(f"Provider emulators on {server.url}: {', '.join(p.strip('/') for p in emulated)}")
    print("Point ComfyUI at them (these keys are fake and work only here):\n")
    print("\n".join(lines))
    if args.env_file:
        path = Path(args.env_file).expanduser()
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"\nWrote them to {path}: in another terminal, `source {path}`, then start ComfyUI there.")
    print(
        f"\nFault injection: POST {server.url}/<provider>/__emulator/faults with e.g. "
        + '{"status": 500} (503 is retried: {"status": 503, "times": 3} to see it fail). Ctrl-C stops.'
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

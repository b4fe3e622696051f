"""Serve every provider emulator on loopback: ``python -m nodes.emulator [--port 8199]``."""

from __future__ import annotations

import argparse
import sys
import time

from . import start_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=8199, help="port (0 picks a free one)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    server, emulated = start_all(args.host, args.port)
    print(f"Provider emulators on {server.url}: {', '.join(p.strip('/') for p in emulated)}")
    print("Point ComfyUI at them (these keys are fake and work only here):\n")
    for item in emulated.values():
        for name, value in item.environment(server.url).items():
            print(f"export {name}={value}")
    print(
        f"\nFault injection: POST {server.url}/<provider>/__emulator/faults with e.g. "
        + '{"status": 500} (503 is retried: {"status": 503, "times": 3} to see it fail). Ctrl-C stops.'
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

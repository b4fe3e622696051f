"""How far one call reaches into the pack: runs IONOS Image Generate against the local emulator
(twice: the second call, with everything imported and cached, is the one counted) and lists the
pack's modules and functions it entered, traced with sys.setprofile.

    python tests/trace_call.py [--list]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import ROOT, mod, run_node  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every module and function entered")
    args = parser.parse_args()
    emulator = mod("nodes.emulator")
    server, emulated = emulator.start_all()
    for item in emulated.values():
        os.environ.update(item.environment(server.url))
    os.environ["HOSTED_IMAGES_REUSE_MINUTES"] = "0"
    generate = mod("nodes.ionos").IonosImageGenerate
    inputs = {**mod("nodes.common").input_defaults(generate), "prompt": "a red fox in snow"}
    try:
        run_node(generate, **inputs)  # imports, caches
        package = str(ROOT / "nodes")
        entered: dict[str, set[str]] = defaultdict(set)

        def profile(frame, event, _arg):
            if event == "call":
                code = frame.f_code
                if code.co_filename.startswith(package):
                    entered[code.co_filename].add(f"{code.co_qualname}:{code.co_firstlineno}")

        threading.setprofile(profile)  # the node's work runs in worker threads
        sys.setprofile(profile)
        try:
            run_node(generate, **inputs)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
    finally:
        server.stop()
    # the emulator runs in this process: its own modules are not the pack's call
    served = {name: functions for name, functions in entered.items() if "/emulator/" not in name}
    print(f"{len(served)} modules, {sum(map(len, served.values()))} functions")
    if args.list:
        for name in sorted(served):
            print(f"  {Path(name).relative_to(ROOT)}: {len(served[name])}")
            for function in sorted(served[name]):
                print(f"      {function}")


if __name__ == "__main__":
    main()

"""Writes example_workflows/*.json (UI format) and example_workflows/api/*.json (API format).

Each provider describes its examples in a ``tests/example_specs_<provider>.py`` module with a
function ``examples() -> dict[name, Workflow]``. Run: ``python tests/make_examples.py``.
A test checks that the committed files are what this script writes.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "example_workflows"


def all_examples() -> dict:
    sys.path.insert(0, str(HERE))
    examples = {}
    for path in sorted(HERE.glob("example_specs_*.py")):
        module = importlib.import_module(path.stem)
        for name, workflow in module.examples().items():
            if name in examples:
                raise ValueError(f"two examples are called {name}")
            examples[name] = workflow
    return examples


def render(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    (OUT / "api").mkdir(parents=True, exist_ok=True)
    for name, workflow in all_examples().items():
        (OUT / f"{name}.json").write_text(render(workflow.ui()))
        (OUT / "api" / f"{name}.json").write_text(render(workflow.api()))
        print("wrote", name)


if __name__ == "__main__":
    main()

"""Writes example_workflows/<title>.json (UI format) and example_workflows/api/<name>.json (API format).

Each provider describes its examples in a ``tests/example_specs_<provider>.py`` module with a
function ``examples() -> dict[name, Workflow]``. Run: ``python tests/make_examples.py``.
A test checks that the committed files are what this script writes.

ComfyUI's template browser (frontends 1.2x to 1.5x) titles a pack's template with its file name
and reads no title from the file, so the UI copies are named after the workflow's title; the
API copies, typed on command lines, keep the short name.
"""

from __future__ import annotations

import importlib
import json
import re
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


def template_name(workflow) -> str:
    """The UI file's name (without .json), which the template browser shows as the title."""
    name = re.sub(r"(?<=\d):(?=\d)", "x", workflow.title.replace(": ", " - "))  # 16:9 -> 16x9
    if re.search(r'[\\/:*?"<>|]', name) or name != name.strip():
        raise ValueError(f"{workflow.title!r} cannot be a file name on every system")
    return name


def render(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    (OUT / "api").mkdir(parents=True, exist_ok=True)
    for name, workflow in all_examples().items():
        (OUT / f"{template_name(workflow)}.json").write_text(render(workflow.ui()))
        (OUT / "api" / f"{name}.json").write_text(render(workflow.api()))
        print("wrote", name)


if __name__ == "__main__":
    main()

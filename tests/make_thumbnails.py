"""Writes example_workflows/<title>.jpg, the template browser's thumbnails: what each example
makes when run in a real ComfyUI against the local emulator (so they show emulator pictures).

    COMFYUI_DIR=... COMFYUI_PYTHON=... python tests/make_thumbnails.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_examples import all_examples, template_name  # noqa: E402
from test_comfyui_integration import ComfyUI  # noqa: E402

from conftest import ROOT, mod  # noqa: E402

SIZE = 512


def text_card(title: str, text: str) -> Image.Image:
    card = Image.new("RGB", (SIZE, SIZE), (30, 34, 42))
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default(size=22)
    draw.text((24, 20), title, fill=(255, 210, 120), font=font)
    y = 64
    for line in text.splitlines()[:16]:
        for piece in textwrap.wrap(line, 44)[:1]:
            draw.text((24, y), piece, fill=(220, 220, 220), font=ImageFont.load_default(size=17))
            y += 26
    return card


def main() -> None:
    headless = mod("nodes.cli.headless")
    emulator = mod("nodes.emulator")
    server, emulated = emulator.start_all()
    import os

    environment = dict(os.environ)
    for item in emulated.values():
        environment.update(item.environment(server.url))
    titles = {name: template_name(workflow) for name, workflow in all_examples().items()}
    with tempfile.TemporaryDirectory() as base:
        comfy = ComfyUI(Path(base) / "comfyui", environment)
        try:
            for path in sorted((ROOT / "example_workflows" / "api").glob("*.json")):
                prompt = json.loads(path.read_text())
                out = Path(base) / path.stem
                headless.upload_inputs(comfy.url, prompt, ROOT / "example_workflows" / "inputs")
                if headless.run(comfy.url, prompt, out, timeout=300, quiet=True) != 0:
                    raise SystemExit(f"{path.stem} failed")
                saved = sorted(out.glob("*.png"))
                if saved:
                    picture = Image.open(saved[0]).convert("RGB")
                    picture.thumbnail((SIZE, SIZE))
                else:  # a model list: show the ids it printed
                    node = next(n for n in prompt.values() if n["class_type"].endswith("ListModels"))
                    picture = text_card(node["class_type"].replace("HostedImages_", ""), listing(comfy, prompt))
                target = ROOT / "example_workflows" / f"{titles[path.stem]}.jpg"
                picture.save(target, "JPEG", quality=82)
                print("wrote", target.name)
        finally:
            comfy.stop()
            server.stop()


def listing(comfy: ComfyUI, prompt: dict) -> str:
    """The text the PreviewAny node showed in the last run."""
    import requests

    history = requests.get(f"{comfy.url}/history?max_items=1", timeout=30).json()
    for entry in history.values():
        for output in entry.get("outputs", {}).values():
            for text in output.get("text", []):
                return str(text)
    return ""


if __name__ == "__main__":
    main()

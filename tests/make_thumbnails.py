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


def on_checkerboard(picture: Image.Image) -> Image.Image:
    """A picture with alpha over the grey squares image editors show transparency with."""
    if "A" not in picture.getbands():
        return picture.convert("RGB")
    board = Image.new("RGB", picture.size, (204, 204, 204))
    draw = ImageDraw.Draw(board)
    square = 32
    for y in range(0, picture.height, square):
        for x in range((y // square) % 2 * square, picture.width, 2 * square):
            draw.rectangle((x, y, x + square - 1, y + square - 1), fill=(255, 255, 255))
    board.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
    return board


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
                    picture = on_checkerboard(Image.open(saved[0]))
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

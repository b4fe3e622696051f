"""The main job: run the pack's nodes end to end -- generate with every provider, then edit a
result with a mask -- and write the images.

Providers whose key is not set run against the bundled local emulator (no keys, no network);
providers whose key is set are called for real, with the same nodes and inputs.

    python -m nodes.cli.demo [--out out/demo] [--emulator-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

import torch

from .. import NODE_CLASS_MAPPINGS
from ..common import input_defaults, input_kinds
from ..core import comfy, images
from ..emulator import start_all

# What the demo asks each node for; every other widget stays at the node's default (model auto:
# today's preferred model of each provider). The steps are the registered nodes themselves: a new
# provider's nodes join the demo without a list to edit.
GENERATE_PROMPT = "A lighthouse on a cliff at dawn, watercolour"
EDIT_PROMPT = "A red hot-air balloon in the sky"


def generate_steps() -> list[str]:
    """Every node that makes images from a prompt alone (no IMAGE input), in ComfyUI's order."""
    return [
        node_id
        for node_id, node_class in NODE_CLASS_MAPPINGS.items()
        if "IMAGE" in node_class.RETURN_TYPES and "IMAGE" not in input_kinds(node_class).values()
    ]


def edit_steps() -> list[str]:
    """Every node that edits where a MASK is painted."""
    return [
        node_id for node_id, node_class in NODE_CLASS_MAPPINGS.items() if input_kinds(node_class).get("mask") == "MASK"
    ]


def centre_mask(image: torch.Tensor) -> torch.Tensor:
    """A disc in the middle of the picture: the area the edit may change (1 = edit)."""
    height, width = image.shape[1:3]
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    radius = min(width, height) / 4
    return (((x - width / 2) ** 2 + (y - height / 2) ** 2) <= radius**2).float()[None]


def _provider(node_id: str, keyed: set[str]) -> tuple[str, str]:
    """The node's provider as messages name it, and whether it is called for real or emulated."""
    provider = NODE_CLASS_MAPPINGS[node_id].PROVIDER
    return provider.label, "real API" if provider.key_env in keyed else "emulator"


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def run(node_id: str, **inputs):
    """Run a node as ComfyUI does: its widgets at their defaults but those given, and seed 1."""
    node_class = NODE_CLASS_MAPPINGS[node_id]
    node = node_class()
    values = {**input_defaults(node_class, ("required",)), "seed": 1, **inputs}
    return asyncio.run(getattr(node, node.FUNCTION)(**values))


def save(image: torch.Tensor, folder: Path, name: str) -> list[Path]:
    paths = []
    for index, pixels in enumerate(images.to_uint8(image)):
        path = folder / f"{name}_{index + 1}.png"
        path.write_bytes(images.encode_array(pixels, "png", png_level=6))
        paths.append(path)
    return paths


def main(argv=None) -> int:
    try:
        return run_demo(argv)
    except (comfy.InterruptProcessingException, KeyboardInterrupt):  # not an Exception: never a "FAILED" step
        print("\nInterrupted; the images written so far are kept.")
        return 130


def run_demo(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out/demo", help="folder for the images (default: out/demo)")
    parser.add_argument("--emulator-only", action="store_true", help="use the emulator even where a key is set")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    server, emulated = start_all()
    # the emulator is on loopback: never send its traffic through a proxy from the environment
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    keyed = set()
    for item in emulated.values():
        key_env = item.emulator.provider.key_env
        if os.environ.get(key_env) and not args.emulator_only:
            keyed.add(key_env)  # a key is set: this provider is called for real
        else:
            os.environ.update(item.environment(server.url))
    print(f"Local emulator on {server.url}; real providers: {', '.join(sorted(keyed)) or 'none (no keys set)'}")

    written: list[Path] = []
    failures = 0
    started = time.monotonic()

    def step(node_id: str, verb: str, name: str, **inputs) -> torch.Tensor | None:
        """Run one node and save its images as <provider>_<name>_<n>.png; None when it failed
        (every provider is reported, then the demo fails at the end)."""
        nonlocal failures
        label, where = _provider(node_id, keyed)
        try:
            image = run(node_id, **inputs)[0]
        except Exception as exc:  # noqa: BLE001 -- reported, and counted
            failures += 1
            print(f"[{label}] {verb} ({where}) FAILED: {exc}")
            return None
        paths = save(image, out, f"{slug(label)}_{name}")
        written.extend(paths)
        shape = f"{tuple(image.shape[1:3][::-1])} " if name == "generate" else ""
        print(f"[{label}] {verb} ({where}): {shape}-> {paths[0]}")
        return image

    generated = [
        (node_id, step(node_id, "generate", "generate", prompt=GENERATE_PROMPT)) for node_id in generate_steps()
    ]
    source = next(((node_id, image) for node_id, image in generated if image is not None), None)
    if source is None:
        print("No image was generated, so nothing can be edited.")
        return 1
    label, first_image = NODE_CLASS_MAPPINGS[source[0]].PROVIDER.label, source[1]
    mask = centre_mask(first_image)
    save(mask[..., None].expand(-1, -1, -1, 3), out, "edit_mask")
    print(f"The masked edits change the middle of {slug(label)}_generate_1.png")
    for node_id in edit_steps():
        step(node_id, "masked edit", "edit", image=first_image, mask=mask, prompt=EDIT_PROMPT)
    server.stop()
    print(
        f"\nWrote {len(written)} images to {out} in {time.monotonic() - started:.1f}s"
        + (f"; {failures} step(s) failed" if failures else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

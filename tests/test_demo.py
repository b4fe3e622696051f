"""The README's main-job command (`make demo`): every provider end to end against the emulator, no keys."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from conftest import journal_lines, mod

demo = mod("nodes.cli.demo")


@pytest.fixture
def restored_environment():
    """The demo points the process's environment at its emulator; put it back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_demo_generates_with_every_provider_and_edits_with_a_mask(tmp_path, capsys, restored_environment):
    assert demo.main(["--out", str(tmp_path), "--emulator-only"]) == 0
    printed = capsys.readouterr().out
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    nodes = mod("nodes").NODE_CLASS_MAPPINGS
    generating, editing = demo.generate_steps(), demo.edit_steps()
    # every registered node that makes an image from a prompt, and every one that edits with a mask
    assert {nodes[n].PROVIDER.id for n in generating} == {cls.PROVIDER.id for cls in nodes.values()}
    assert editing and all("mask" in nodes[n].INPUT_TYPES().get("optional", {}) for n in editing)
    files = {n: demo.slug(nodes[n].PROVIDER.label) for n in generating + editing}
    assert {f"{files[n]}_generate_1.png" for n in generating} <= set(written)
    assert {f"{files[n]}_edit_1.png" for n in editing} <= set(written)
    assert f"Wrote {len(written) - 1} images to {tmp_path}" in printed  # the mask preview is not counted
    # the masked edit changed the disc in the middle of the first generated image and left the corners alone
    source_name = f"{files[generating[0]]}_generate_1.png"
    assert f"The masked edits change the middle of {source_name}" in printed
    source = np.asarray(Image.open(tmp_path / source_name), dtype=int)
    for node_id in editing:
        edited = np.asarray(Image.open(tmp_path / f"{files[node_id]}_edit_1.png"), dtype=int)
        assert np.abs(edited[:100, :100] - source[:100, :100]).max() <= 2, node_id
        assert np.abs(edited[480:540, 480:540] - source[480:540, 480:540]).mean() > 10, node_id
    # the spend journal: one line for each call the demo made, each answered, with what it reported
    lines = [line for line in journal_lines() if line["event"] == "call"]
    # each model input is auto: the provider's model list (free, read once) says what it became;
    # a provider without a model list (OVH) has one model
    listed = {cls.PROVIDER.id for cls in nodes.values() if cls.PROVIDER.id in mod("nodes").MODEL_LISTS}
    expected = []
    for node_id in generating:
        provider = nodes[node_id].PROVIDER.id
        expected += [(provider, "model list")] * (provider in listed) + [(provider, "image generation")]
    expected += [(nodes[n].PROVIDER.id, "image edit") for n in editing]
    assert [(line["provider"], line["operation"]) for line in lines] == expected
    for line in lines:
        assert line["outcome"] == "ok" and line["status"] == 200 and line["attempts"] == 1
        assert line["host"].startswith("127.0.0.1:") and line["emulator"] is True  # never counted as spend
        wanted = 0 if line["operation"] == "model list" else 1
        assert line["images_asked"] == line["images_returned"] == wanted, line
    by_call = {(line["provider"], line["operation"]): line for line in lines}
    assert by_call["aigne", "image generation"]["usage"]["credits"] > 0
    assert by_call["openai", "image generation"]["usage"]["output_tokens"] > 0
    assert mod("nodes.core.limits").today_totals() == {}  # the emulator's calls count against no limit

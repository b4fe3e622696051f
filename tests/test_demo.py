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
    for name in ("ionos", "aigne_hub", "agnic", "openai_compatible", "ovh_ai_endpoints"):
        assert f"{name}_generate_1.png" in written
    assert {"ionos_edit_1.png", "openai_compatible_edit_1.png"} <= set(written)
    assert f"Wrote {len(written) - 1} images to {tmp_path}" in printed  # the mask preview is not counted
    # the masked edit changed the disc in the middle and left the corners alone
    source = np.asarray(Image.open(tmp_path / "ionos_generate_1.png"), dtype=int)
    edited = np.asarray(Image.open(tmp_path / "ionos_edit_1.png"), dtype=int)
    assert np.abs(edited[:100, :100] - source[:100, :100]).max() <= 2
    assert np.abs(edited[480:540, 480:540] - source[480:540, 480:540]).mean() > 10
    # the spend journal: one line for each call the demo made, each answered, with what it reported
    lines = [line for line in journal_lines() if line["event"] == "call"]
    # each model input is auto: the provider's model list (free, read once) says what it became
    assert [(line["provider"], line["operation"]) for line in lines] == [
        ("ionos", "model list"),
        ("ionos", "image generation"),
        ("aigne", "model list"),
        ("aigne", "image generation"),
        ("agnic", "model list"),
        ("agnic", "image generation"),
        ("openai", "model list"),
        ("openai", "image generation"),
        ("ovh", "image generation"),
        ("ionos", "image edit"),
        ("openai", "image edit"),
    ]
    for line in lines:
        assert line["outcome"] == "ok" and line["status"] == 200 and line["attempts"] == 1
        assert line["host"].startswith("127.0.0.1:") and line["emulator"] is True  # never counted as spend
        expected = 0 if line["operation"] == "model list" else 1
        assert line["images_asked"] == line["images_returned"] == expected, line
    by_call = {(line["provider"], line["operation"]): line for line in lines}
    assert by_call["aigne", "image generation"]["usage"]["credits"] > 0
    assert by_call["openai", "image generation"]["usage"]["output_tokens"] > 0
    assert mod("nodes.core.limits").today_totals() == {}  # the emulator's calls count against no limit

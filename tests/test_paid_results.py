"""Results are bounded, and nothing paid for is lost (the security review's findings 6 and 8).

A reply is decoded only up to the images asked for and within a pixel budget, refused from its
headers before anything is allocated; Cancel is honoured between images; and whenever a provider
returned images but the node fails anyway (a failed call of several, a result that does not
decode, Cancel), the raw files go to a folder of their own that the error (or the log and the
node's progress text) names.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import hang_ups, mod
from provider_table import BY_NAME, ionos_generate, mount, slot_server  # noqa: F401 -- slot_server and mount are fixtures

errors = mod("nodes.core.errors")
images = mod("nodes.core.images")
comfy = mod("nodes.core.comfy")
unsaved_module = mod("nodes.core.unsaved")
synth = mod("nodes.emulator.synth")

TESTS = Path(__file__).resolve().parent
IONOS = BY_NAME["ionos"]


def with_data(files: list[bytes]):
    """A rewrite giving an OpenAI-style reply these files as its b64_json items."""
    return lambda reply: {**reply, "data": [{"b64_json": base64.b64encode(f).decode()} for f in files]}


def folders(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*") if p.is_dir()) if root.exists() else []


@pytest.fixture
def unsaved(tmp_path) -> Path:
    return tmp_path / "unsaved"  # HOSTED_IMAGES_UNSAVED_DIR (conftest)


def solid_webp(size: int) -> bytes:
    """A real, valid lossless WebP of size x size pixels in one colour: a few kB on the wire."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


# --- 6. results are bounded ----------------------------------------------------------------------------


MEASURE = """
import json, resource, sys
sys.path.insert(0, {tests!r})
from conftest import mod, run_node
errors = mod("nodes.core.errors")
try:
    run_node(mod("nodes.ionos").IonosImageGenerate, model="black-forest-labs/FLUX.1-schnell", prompt="a fox",
             size="1024x1024", n={n}, seed=0)
    outcome = "images"
except errors.RemoteImageError as exc:
    outcome = str(exc)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({{"outcome": outcome, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "vm_hwm_mb": int(status["VmHWM"].split()[0]) / 1024}}))
"""
# Linux keeps a process's peak RSS across exec (the high-water mark of the memory it replaced), so
# a child started straight from pytest would report pytest's own peak: a tiny launcher in between
# makes ru_maxrss the measured process's own.
LAUNCH = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', sys.argv[1]]).returncode)"


@pytest.fixture(scope="module")
def huge_webp(tmp_path_factory) -> bytes:
    """A genuine 8192x8192 WebP of 2-3 kB, made in a child process (encoding it takes ~700 MB)."""
    path = tmp_path_factory.mktemp("webp") / "huge.webp"
    code = (
        f"import io, sys; sys.path.insert(0, {str(TESTS)!r}); from test_paid_results import solid_webp; "
        f"open({str(path)!r}, 'wb').write(solid_webp(8192))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=TESTS, timeout=120)
    return path.read_bytes()


@pytest.mark.parametrize("n", [1, 10])
def test_a_small_reply_of_huge_claimed_images_is_refused_in_little_memory(n, huge_webp, mount, monkeypatch, tmp_path):
    """~100 kB: 24 tiny WebPs, each a genuine 8192x8192 picture. Decoding them would take 19 GB."""
    assert len(huge_webp) < 5000
    app = mount(IONOS)
    app.inject(rewrite=with_data([huge_webp] * 24), path="/images/generations")
    env = dict(os.environ)  # mount() pointed IONOS_BASE_URL and IONOS_API_TOKEN at the emulator
    child = subprocess.run(
        [sys.executable, "-c", LAUNCH, MEASURE.format(tests=str(TESTS), n=n)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"n={n}: peak RSS {result['peak_mb']:.0f} MB (VmHWM {result['vm_hwm_mb']:.0f} MB); {result['outcome'][:200]}")
    assert "8192x8192 pixels" in result["outcome"] and "decompression bomb" in result["outcome"]
    assert result["peak_mb"] < 1024 and result["vm_hwm_mb"] < 1024, result
    assert len(app.calls("/v1/images/generations")) == 1


def test_more_images_than_asked_for_are_dropped_with_a_note(mount):
    app = mount(IONOS)
    picture = synth.generate("extra", 64, 64)
    app.inject(rewrite=with_data([picture] * 5), path="/images/generations")
    image, info = ionos_generate(n=2)
    assert image.shape[0] == 2
    assert "the provider returned 5 images for 2 asked for; the 3 extra were dropped" in info


def test_results_over_the_pixel_budget_are_refused_unread_and_kept(mount, unsaved):
    app = mount(IONOS)
    big = solid_webp(4096)  # 16.8 megapixels each: 10 of them are 168, over the budget of 100
    app.inject(rewrite=with_data([big] * 10), path="/images/generations")
    with pytest.raises(errors.RemoteImageError) as caught:
        ionos_generate(n=10)
    text = str(caught.value)
    assert "the 10 results come to 168 megapixels, more than the 100 megapixel budget" in text
    (folder,) = folders(unsaved)
    assert f"they were saved to {folder}" in text
    assert len(list(folder.glob("result_*.webp"))) == 10


def test_cancel_during_the_decoding_of_many_results_stops_quickly():
    noise = np.random.default_rng(1).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", compress_level=1)
    blobs = [buffer.getvalue()] * 60  # about a second of decoding
    threading.Timer(0.15, comfy.request_interrupt).start()
    started = time.monotonic()
    with pytest.raises(comfy.InterruptProcessingException):
        images.decode_images(blobs)
    assert time.monotonic() - started < 0.45


# --- 8. nothing paid for is lost -----------------------------------------------------------------------


def test_a_result_that_does_not_decode_is_named_and_the_others_are_saved(mount, unsaved):
    app = mount(IONOS)
    good = synth.generate("good", 64, 64)
    app.inject(rewrite=with_data([good, good[: len(good) // 2], good]), path="/images/generations")
    with pytest.raises(errors.RemoteImageError) as caught:
        ionos_generate(n=3)
    text = str(caught.value)
    (folder,) = folders(unsaved)
    assert "result 2 of 3: the result image is damaged or truncated" in text
    assert f"the other 2 result(s) were saved to {folder}" in text
    assert sorted(p.name for p in folder.iterdir()) == ["result_001.png", "result_003.png"]
    assert (folder / "result_001.png").read_bytes() == good


def test_two_failed_batches_in_the_same_second_keep_separate_folders(mount, unsaved, monkeypatch):
    ovh = BY_NAME["ovh"]
    app = mount(ovh)
    monkeypatch.setattr(
        unsaved_module.time, "strftime", lambda fmt, *when: "20261129-120000"
    )  # the same second, for sure
    outcomes = []
    for _ in range(2):
        app.inject(status=500, message="boom")
        with pytest.raises(errors.RemoteImageError) as caught:
            ovh.run(count=2)
        outcomes.append(str(caught.value))
    assert all("1 of 2 calls failed" in text for text in outcomes)
    saved = folders(unsaved)
    assert len(saved) == 2 and all(len(list(folder.iterdir())) == 1 for folder in saved)
    assert {text.rsplit("were saved to ", 1)[1] for text in outcomes} == {str(folder) for folder in saved}


def test_unsaved_folders_are_unique_and_made_exclusively(unsaved):
    made = [unsaved_module.save_unsaved([(1, b"\x89PNG\r\n\x1a\n")]) for _ in range(50)]
    assert len(set(made)) == 50 and len(folders(unsaved)) == 50


def test_cancel_after_some_calls_finished_saves_their_images_and_says_where(mount, unsaved, progress, pack_logs):
    agnic = BY_NAME["agnic"]
    app = mount(agnic)
    app.inject(delay=10, times=2, path=agnic.api_path)  # two of the three calls hang; one answers at once
    threading.Timer(0.6, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        agnic.run(count=3, unique_id="7")
    assert len(hang_ups(app, 2)) == 2, "the two hanging calls ran on after the interrupt"
    (folder,) = folders(unsaved)
    assert [p.name for p in folder.iterdir()] == ["result_001.png"]
    assert any(node == "7" and str(folder) in text and "cancelled" in text for node, text in progress)
    assert str(folder) in pack_logs.text


def test_cancel_while_a_reply_is_decoded_saves_every_result(mount, unsaved, progress, monkeypatch):
    app = mount(IONOS)
    picture = synth.generate("paid", 64, 64)
    app.inject(rewrite=with_data([picture] * 4), path="/images/generations")
    decode_one, decoded = images._to_rgb_and_alpha, []

    def decode_then_cancel(image):  # the user presses Cancel while the first result is decoded
        decoded.append(image)
        comfy.request_interrupt()
        return decode_one(image)

    monkeypatch.setattr(images, "_to_rgb_and_alpha", decode_then_cancel)
    with pytest.raises(comfy.InterruptProcessingException):
        ionos_generate(n=4, unique_id="9")
    assert len(decoded) == 1
    (folder,) = folders(unsaved)
    assert len(list(folder.glob("result_*.png"))) == 4
    assert any(node == "9" and str(folder) in text for node, text in progress)


def test_inside_comfyui_the_folder_is_under_the_output_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(comfy, "output_directory", lambda: str(tmp_path / "output"))
    folder = Path(unsaved_module.save_unsaved([(1, b"\x89PNG\r\n\x1a\n")]))
    assert folder.parent == tmp_path / "output" / "hosted_images" / "unsaved"

"""Benchmark: the pack against the bare PIL/numpy/requests work it replaces (docs/design.md, "Performance").

    python -m nodes.cli.bench [--quick] [--only TEXT]

Every figure is measured in this run for the pack and for its reference, pack and reference runs
alternating, and reported as medians and their ratio. The table ends with PASS/FAIL per target;
the exit status is 1 when any target fails. Everything runs on 127.0.0.1 (the bundled emulators);
nothing touches the network.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import torch
from PIL import Image

from ..common import input_defaults
from ..core import comfy, images, payloads
from ..emulator import fake_key, serve
from ..emulator import ionos as ionos_emulator
from ..emulator import openai_compat as openai_emulator
from ..emulator import ovh as ovh_emulator
from ..ionos import IonosImageGenerate
from ..openai_compat import OpenAICompatImageGenerate
from ..ovh import OvhSdxlTextToImage
from ..providers import ionos

ROOT = Path(__file__).resolve().parents[2]  # the pack's folder (what ComfyUI loads)
IONOS_TOKEN = fake_key(ionos_emulator.IonosAPI.name)
MB = 1024 * 1024


# --- the table ---------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    pack: float
    reference: float
    unit: str  # "ms", "s" or "MB"; values are stored in seconds or bytes
    limit: float  # the target, on ``ratio`` or (absolute=True) on ``pack``
    absolute: bool = False
    target: str = ""
    paired_ratio: float | None = None  # the median of per-round ratios, when runs were paired

    @property
    def ratio(self) -> float:
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.pack / self.reference if self.reference else float("nan")

    @property
    def passed(self) -> bool:
        return (self.pack if self.absolute else self.ratio) <= self.limit

    def show(self, value: float) -> str:
        if self.unit == "MB":
            return f"{value / MB:,.0f} MB"
        if self.unit == "s":
            return f"{value:.3f} s"
        return f"{value * 1000:,.1f} ms"


def print_table(figures: list[Figure]) -> None:
    rows = [("figure", "pack", "reference", "ratio", "target", "")]
    for f in figures:
        rows.append(
            (f.name, f.show(f.pack), f.show(f.reference), f"{f.ratio:.2f}", f.target, "PASS" if f.passed else "FAIL")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:4], widths[1:4], strict=True)
        ]
        cells += [row[4].ljust(widths[4]), row[5]]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


# --- timing --------------------------------------------------------------------------------------


BUDGET_SECONDS = 2.0  # cheap figures run more rounds, up to about this long (--quick: a quarter)


def paired(pack: Callable[[], object], reference: Callable[[], object], repeats: int, warmup: int = 1) -> dict:
    """Rounds of one pack run and one reference run back to back (who goes first alternates).

    At least ``repeats`` rounds, more for cheap figures (up to BUDGET_SECONDS, at most 60).
    Returns the median seconds of each and the median of the per-round ratios: on a shared,
    noisy machine a slow spell tends to hit both runs of a round, so the ratio of a round is
    steadier than either time.
    """
    started = time.perf_counter()
    for _ in range(warmup):
        pack()
        reference()
    if warmup:
        per_round = (time.perf_counter() - started) / warmup
        repeats = max(repeats, min(60, int(BUDGET_SECONDS / max(per_round, 1e-6))))
    pack_times, ref_times = [], []
    for round_ in range(repeats):
        order = [(pack, pack_times), (reference, ref_times)]
        for function, times in order if round_ % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
    ratios = [p / r for p, r in zip(pack_times, ref_times, strict=True)]
    return {
        "pack": statistics.median(pack_times),
        "reference": statistics.median(ref_times),
        "paired_ratio": statistics.median(ratios),
    }


# --- test pictures -------------------------------------------------------------------------------


def sample_image(size: int, seed: int = 0, batch: int = 1) -> torch.Tensor:
    """IMAGE [batch,size,size,3] that compresses like a render: smooth shading, shapes and fine grain.

    A flat gradient would flatter PNG (and noise would defeat it); renders from image models
    compress about 2:1 as PNG, and so does this.
    """
    rng = np.random.default_rng(seed)
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    y, x = axis[:, None], axis[None, :]
    out = np.empty((batch, size, size, 3), dtype=np.float32)
    for item in range(batch):
        phase = rng.uniform(0, 6.3, 6).astype(np.float32)
        picture = np.stack(
            [
                0.5 + 0.3 * np.sin(6 * x + 2 * y + phase[0]) + 0.1 * np.cos(17 * x * y + phase[1]),
                0.5 + 0.3 * np.sin(4 * y - 3 * x + phase[2]) + 0.05 * np.sin(40 * x + phase[3]),
                0.5 + 0.25 * np.cos(9 * x * y + phase[4]) + 0.1 * np.sin(3 * y + phase[5]),
            ],
            axis=-1,
        )
        for _ in range(6):  # soft-edged discs: objects in the scene
            cx, cy, radius = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
            inside = np.clip((radius - np.sqrt((x - cx) ** 2 + (y - cy) ** 2)) * size / 4, 0, 1)
            picture += inside[..., None] * (rng.uniform(-0.3, 0.3, 3).astype(np.float32))
        picture += rng.normal(0.0, 0.01, picture.shape).astype(np.float32)  # grain, ~2.5 levels
        out[item] = np.clip(picture, 0.0, 1.0)
    return torch.from_numpy(out)


# --- figures: image conversion ----------------------------------------------------------------------


def _bare_uint8(image: torch.Tensor) -> np.ndarray:
    return image.mul(255.0).clamp_(0.0, 255.0).round_().to(torch.uint8).numpy()


def _bare_encode(pixels: np.ndarray, fmt: str, level: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=level)
    elif fmt == "jpeg":
        Image.fromarray(pixels).save(buffer, "JPEG", quality=images.JPEG_QUALITY)
    else:
        Image.fromarray(pixels).save(buffer, "WEBP", quality=images.WEBP_QUALITY, method=4)
    return buffer.getvalue()


def _bare_decode(data: bytes) -> torch.Tensor:
    pixels = np.asarray(Image.open(io.BytesIO(data)))
    return torch.from_numpy(pixels).to(torch.float32).div_(255.0).unsqueeze(0)


def conversion(size: int, fmt: str, repeats: int) -> Figure:
    """Encode one IMAGE to a base64 payload and decode it back to an IMAGE."""
    image = sample_image(size, seed=size)

    def pack():
        text = payloads.b64encode(images.encode_images(image, fmt)[0])
        return images.decode_images([payloads.b64decode(text)])

    def reference():
        text = base64.b64encode(_bare_encode(_bare_uint8(image[0]), fmt, images.UPLOAD_PNG_LEVEL)).decode("ascii")
        return _bare_decode(base64.b64decode(text))

    name = f"{fmt.upper()} {size}² encode+base64+decode"
    return Figure(name, unit="ms", limit=1.15, target="ratio <= 1.15", **paired(pack, reference, repeats, warmup=2))


def batch_upload(repeats: int) -> Figure:
    """Four 1024² inputs encoded for upload: the pack's batch encoder against a one-by-one loop."""
    batch = sample_image(1024, seed=4, batch=4)
    level = images.UPLOAD_PNG_LEVEL

    def pack():
        return images.encode_images(batch, "png")

    def reference():
        return [_bare_encode(_bare_uint8(item), "png", level) for item in batch]

    return Figure(
        "PNG upload, batch of 4 1024² vs one by one",
        unit="ms",
        limit=1 / 1.6,
        target="ratio <= 0.625 (1.6× faster)",
        **paired(pack, reference, repeats),
    )


def png_levels(repeats: int) -> list[tuple[int, float, int]]:
    """(level, encode seconds, bytes) for one 1024² render-like input."""
    pixels = images.to_uint8(sample_image(1024, seed=7))[0]
    rows = []
    for level in range(10):
        times = []
        for _ in range(max(3, repeats)):
            started = time.perf_counter()
            blob = images.encode_array(pixels, "png", png_level=level)
            times.append(time.perf_counter() - started)
        rows.append((level, statistics.median(times), len(blob)))
    return rows


LINKS = (1000, 100, 20, 5)  # Mbit/s upstream: LAN or data centre, office fibre, home fibre, slow DSL


def png_level_choice(rows: list[tuple[int, float, int]]) -> tuple[int, dict[int, float]]:
    """The level whose worst slowdown against the best level at each link speed is smallest.

    Time to get one input to the provider = encode + upload of the base64 data URL (4/3 of the
    file). No single level is best at every speed, so pick the one that is never far off.
    """

    def total(row, mbit):
        return row[1] + row[2] * 4 / 3 * 8 / (mbit * 1e6)

    best = {mbit: min(total(row, mbit) for row in rows) for mbit in LINKS}
    worst = {row[0]: max(total(row, mbit) / best[mbit] for mbit in LINKS) for row in rows}
    return min(worst, key=worst.get), worst


def print_png_levels(rows: list[tuple[int, float, int]]) -> None:
    print("\nPNG level for uploads: one 1024² render-like input, encode + upload as a base64 data URL")
    print("level  encode      size  " + "".join(f"{f'@{mbit} Mbit/s':>14}" for mbit in LINKS) + "  worst vs best")
    choice, worst = png_level_choice(rows)
    for level, seconds, size in rows:
        cells = "".join(f"{(seconds + size * 4 / 3 * 8 / (mbit * 1e6)) * 1000:>11,.0f} ms" for mbit in LINKS)
        mark = "  <- UPLOAD_PNG_LEVEL" if level == images.UPLOAD_PNG_LEVEL else ""
        print(
            f"{level:>5}  {seconds * 1000:>6.0f} ms  {size / 1024:>5,.0f} KB{cells}  "
            f"{(worst[level] - 1) * 100:>+11.0f} %{mark}"
        )
    print(
        f"Least worst case: level {choice} (at most {(worst[choice] - 1) * 100:.0f} % slower than the best level "
        f"at any of these speeds); UPLOAD_PNG_LEVEL is {images.UPLOAD_PNG_LEVEL} "
        f"(at most {(worst[images.UPLOAD_PNG_LEVEL] - 1) * 100:.0f} % slower)."
    )


# --- figures: calls against local servers -----------------------------------------------------------


class Servers:
    """IONOS, OVH and OpenAI emulators on 127.0.0.1, with the environment pointing the pack at them."""

    def __init__(self) -> None:
        self.ionos = ionos_emulator.IonosAPI(images_per_minute=1e9, burst=1e9)
        self.ovh = ovh_emulator.OvhAPI(token_per_minute=1e9)
        self.openai = openai_emulator.OpenAIAPI()
        served = [
            ionos_emulator.EMULATOR.make(self.ionos),
            ovh_emulator.EMULATOR.make(self.ovh),
            openai_emulator.EMULATOR.make(self.openai),
        ]
        self.server = serve(served)
        for item in served:
            os.environ.update(item.environment(self.server.url))
        self.ionos_url = os.environ[ionos_emulator.EMULATOR.provider.base_url_env]
        self.openai_url = os.environ[openai_emulator.EMULATOR.provider.base_url_env]

    def stop(self) -> None:
        self.server.stop()


GENERATE = {  # the IONOS node at its defaults (FLUX.1-schnell, 1024x1024, n 1)
    **input_defaults(IonosImageGenerate, ("required",)),
    "prompt": "A lighthouse on a cliff at dawn",
}


def node_call(servers: Servers, loop: asyncio.AbstractEventLoop, repeats: int) -> Figure:
    """The IONOS generate node, awaited as ComfyUI's executor does, against the snippet of IONOS's doc page."""
    node = IonosImageGenerate()
    endpoint = f"{servers.ionos_url}/images/generations"
    header = {"Authorization": f"Bearer {IONOS_TOKEN}", "Content-Type": "application/json"}
    # the model the node's auto becomes against the emulator (its first preferred), as the doc's snippet names one
    model = ionos.CATALOGUE.preferred[ionos.GENERATE][0] if GENERATE["model"] == "auto" else GENERATE["model"]
    body = {"model": model, "prompt": GENERATE["prompt"], "size": GENERATE["size"]}

    def pack():
        return loop.run_until_complete(node.run(**GENERATE))

    def reference():  # the snippet of the IONOS docs, plus the decoding every node needs
        response = requests.post(endpoint, json=body, headers=header)
        data = base64.b64decode(response.json()["data"][0]["b64_json"])
        return _bare_decode(data)

    return Figure(
        "node call, zero-latency IONOS emulator",
        unit="ms",
        limit=1.2,
        target="ratio <= 1.2",
        **paired(pack, reference, repeats, warmup=2),
    )


def count_four(servers: Servers, repeats: int) -> Figure:
    """count=4 on OVH (one image per call) against one call, every request answered after 1 s."""
    node = OvhSdxlTextToImage()
    inputs = {"prompt": "A hippopotamus in a suit", "negative_prompt": "", "seed": 0}

    def run(count: int):
        servers.ovh.inject(delay=1.0, times=count)
        return node.call(count=count, **inputs)

    return Figure(
        "count=4 on OVH (no n), 1 s latency, vs one call",
        unit="s",
        limit=1.3,
        target="ratio <= 1.3",
        **paired(lambda: run(4), lambda: run(1), repeats, warmup=0),
    )


def _interrupt_latency(work: Callable[[], object], signal: Callable[[], None], expected: str, after: float) -> float:
    """Seconds from ``signal()`` (sent ``after`` seconds into ``work``) to ``work`` ending as
    ``expected``: "interrupted" (ComfyUI's interrupt exception) or "returned"."""
    ended = {}

    def target():
        try:
            work()
            ended["outcome"] = "returned"
        except comfy.InterruptProcessingException:
            ended["outcome"] = "interrupted"
        except Exception as exc:  # noqa: BLE001 -- reported below
            ended["outcome"] = f"{type(exc).__name__}: {exc}"
        finally:
            ended["at"] = time.perf_counter()

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    time.sleep(after)
    signalled = time.perf_counter()
    signal()
    worker.join(30)
    comfy.clear_interrupt()
    if ended.get("outcome") != expected:
        raise RuntimeError(f"expected the call to have {expected}, got: {ended.get('outcome', 'still running')}")
    return ended["at"] - signalled


def interrupt(servers: Servers, repeats: int) -> Figure:
    """Seconds from an interrupt to the node raising, during a request the server holds for 2 s.

    The reference is the bare ``requests.post`` of IONOS's doc page in the same situation: it cannot be
    interrupted, so the caller gets control back only when the reply comes.
    """
    hold, after = 2.0, 0.3
    node = IonosImageGenerate()
    endpoint = f"{servers.ionos_url}/images/generations"
    header = {"Authorization": f"Bearer {IONOS_TOKEN}"}
    # the model the node's auto becomes against the emulator (its first preferred), as the doc's snippet names one
    model = ionos.CATALOGUE.preferred[ionos.GENERATE][0] if GENERATE["model"] == "auto" else GENERATE["model"]
    body = {"model": model, "prompt": GENERATE["prompt"], "size": GENERATE["size"]}

    def measure(pack: bool) -> float:
        servers.ionos.inject(delay=hold, times=1)
        if pack:
            return _interrupt_latency(lambda: node.call(**GENERATE), comfy.request_interrupt, "interrupted", after)
        return _interrupt_latency(
            lambda: requests.post(endpoint, json=body, headers=header), lambda: None, "returned", after
        )

    figure = _interrupt_figure("interrupt -> node raises (bare requests: blocked)", measure, repeats)
    time.sleep(hold)  # let the server's held replies go out before the next figure
    return figure


def _interrupt_figure(name: str, measure: Callable[[bool], float], repeats: int) -> Figure:
    """Seconds from an interrupt to control coming back: ``measure(True)`` for the pack,
    ``measure(False)`` for its reference (half as many runs: it waits for the server)."""
    pack_times = [measure(True) for _ in range(repeats)]
    ref_times = [measure(False) for _ in range(max(1, repeats // 2))]
    return Figure(
        name,
        statistics.median(pack_times),
        statistics.median(ref_times),
        "s",
        0.5,
        absolute=True,
        target="pack <= 0.5 s",
    )


STREAM_GENERATE = {  # the OpenAI-compatible node at its defaults (gpt-image-2) but these
    **input_defaults(OpenAICompatImageGenerate, ("required",)),
    "prompt": "A lighthouse on a cliff at dawn",
    "size": "1024x1024",
    "quality": "low",
    "partial_images": 3,
}


def interrupt_stream(servers: Servers, repeats: int) -> Figure:
    """Seconds from an interrupt to the node raising while it reads a stream (partial_images=3),
    between two events the server sends 2 s apart; the server must see the connection dropped.

    The reference is a bare ``requests.post(..., stream=True)`` reading the events with
    ``iter_lines`` and checking a stop flag between lines: it can stop only when the next event
    arrives."""
    gap, after = 2.0, 0.8  # the first partial image is out within ~0.3 s of the request
    node = OpenAICompatImageGenerate()
    endpoint = f"{servers.openai_url}/images/generations"
    header = {"Authorization": f"Bearer {fake_key(servers.openai.name)}"}
    body = {
        **{name: STREAM_GENERATE[name] for name in ("prompt", "size", "partial_images")},
        "model": "gpt-image-2",  # what the node's auto becomes against the emulator
        "stream": True,
    }

    def bare(stop: threading.Event):
        with requests.post(endpoint, json=body, headers=header, stream=True) as reply:
            for _ in reply.iter_lines():
                if stop.is_set():
                    return

    def measure(pack: bool) -> float:
        servers.openai.reset()
        servers.openai.inject(event_gap=gap, times=1, method="POST")  # the image call, not the model list
        if pack:
            seconds = _interrupt_latency(
                lambda: node.call(**STREAM_GENERATE), comfy.request_interrupt, "interrupted", after
            )
        else:
            stop = threading.Event()
            seconds = _interrupt_latency(lambda: bare(stop), stop.set, "returned", after)
        deadline = time.monotonic() + 5
        while not servers.openai.disconnects and time.monotonic() < deadline:
            time.sleep(0.01)
        if not servers.openai.disconnects:
            raise RuntimeError("the server never saw the client hang up")
        return seconds

    return _interrupt_figure("interrupt mid-stream -> node raises (bare: next event)", measure, repeats)


# --- figures: fresh processes -----------------------------------------------------------------------

_IMPORT_CHILD = r"""
import gc, importlib.util, json, socket, sys, time
started = time.perf_counter()
import numpy, PIL.Image, PIL.ImageOps, requests, torch  # what ComfyUI has imported before any pack
# Importing torch leaves a full garbage collection pending (millions of new objects); it runs at
# whatever allocates next -- here the pack, in ComfyUI any of its many later imports -- and costs
# 70-80 ms on its own. Run it first, so the figure is what the pack itself adds.
gc.collect()
deps = time.perf_counter()

def refuse(*args, **kwargs):
    raise OSError("the pack touched the network at import")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
root = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "hosted_images_pack", root + "/__init__.py", submodule_search_locations=[root]
)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)  # as ComfyUI's load_custom_node does
done = time.perf_counter()
print(json.dumps({"deps": deps - started, "pack": done - deps, "nodes": len(module.NODE_CLASS_MAPPINGS),
                  "emulator": sorted(m for m in sys.modules if ".emulator" in m)}))
"""


# ComfyUI imports packs with Python's bytecode cache (the first start writes it); a shell that
# sets PYTHONDONTWRITEBYTECODE would make every run compile the pack's sources instead.
_BYTECODE_CACHED = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def import_time(repeats: int) -> Figure:
    """What loading the pack adds to a process that already imported torch, numpy, PIL and requests."""
    runs = []
    for index in range(repeats + 1):  # the first run warms the file cache and is dropped
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_CHILD, str(ROOT)],
            capture_output=True,
            text=True,
            cwd="/",
            env=_BYTECODE_CACHED,
        )
        if done.returncode != 0:
            raise RuntimeError(f"importing the pack failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result["emulator"]:
            raise RuntimeError(f"importing the pack imported the emulator: {result['emulator']}")
        if index:
            runs.append(result)
    return Figure(
        "import time (ref: torch+numpy+PIL+requests)",
        statistics.median(r["pack"] for r in runs),
        statistics.median(r["deps"] for r in runs),
        "ms",
        0.100,
        absolute=True,
        target="pack < 100 ms, no network",
    )


def _status_bytes(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def memory_child() -> None:
    """In a fresh process: peak RSS while four 2048² PNG results (base64, as in a JSON reply) become tensors."""
    texts = [
        payloads.b64encode(images.encode_array(images.to_uint8(sample_image(2048, seed=i))[0], "png", png_level=6))
        for i in range(4)
    ]
    images.decode_images([images.encode_array(np.zeros((64, 64, 3), np.uint8))])  # warm torch and PIL up
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as handle:  # reset VmHWM (the peak) to the current RSS
            handle.write("5")
    except OSError as exc:
        print(json.dumps({"skip": f"the peak RSS cannot be reset here ({exc}); this figure needs Linux"}))
        return
    before = _status_bytes("VmRSS")
    image, mask = images.decode_images([payloads.b64decode(text) for text in texts])
    peak = _status_bytes("VmHWM")
    print(json.dumps({"delta": peak - before, "image": image.nbytes, "mask": mask.nbytes, "shape": list(image.shape)}))


def peak_memory() -> Figure | None:
    done = subprocess.run(
        [sys.executable, "-m", "nodes.cli.bench", "--memory-child"], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory measurement failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in result:
        print(f"peak memory skipped: {result['skip']}", file=sys.stderr)
        return None
    return Figure(
        "peak RSS decoding 4 2048² PNG vs IMAGE size", result["delta"], result["image"], "MB", 2.0, target="ratio <= 2"
    )


# --- main ----------------------------------------------------------------------------------------------

METHODS = """\
How: a timed figure runs rounds of one pack run and one reference run back to back (who goes
first alternates) after warm-up rounds; the times are medians and the ratio is the median of the
rounds' ratios, which a slow spell on a shared machine mostly cancels out of. The emulators run
in threads of this process, on 127.0.0.1. Conversions use render-like pictures (smooth shading,
shapes, grain: about 2:1 as PNG) and the same PNG level / JPEG and WebP quality on both sides.
The node call is the IONOS generate node (the emulator returns a ~250 KB 1024² PNG) awaited on
an event loop as ComfyUI does; its reference is the IONOS docs' snippet, requests.post(endpoint,
json=body, headers=header), then base64 + PIL + torch. count=4 compares the OVH node's count=4
to its count=1, every request held 1 s by the server. The interrupt figure is the time from the
interrupt to the node raising while the server holds the reply 2 s; the reference is the bare
requests.post, which can only return when the reply comes. The mid-stream interrupt figure is
the same for the OpenAI-compatible node reading a stream (partial_images=3) whose events come
2 s apart, interrupted between the first and the second; the server must see the hang-up; its
reference is requests' iter_lines over the stream, which can stop only at the next event.
Import time and peak memory are measured in fresh processes: import time is what loading the
pack's __init__.py as ComfyUI does (spec_from_file_location) adds after torch, numpy, PIL and
requests are imported, with socket connects made to fail; peak memory is the rise of the peak RSS (VmHWM, reset through
/proc/self/clear_refs) while four base64 PNG results are decoded to an IMAGE and a MASK, against
the IMAGE's size -- RSS sees torch's allocations, which tracemalloc does not."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier figures)")
    parser.add_argument("--only", default="", help="run only the figures whose name contains this text")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child()
        return 0
    sys.stdout.reconfigure(line_buffering=True)
    os.environ["HOSTED_IMAGES_CREDENTIALS"] = os.devnull  # never a real credentials file
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ["HOSTED_IMAGES_REUSE_MINUTES"] = "0"  # every node call is sent: an identical one would be reused
    scratch = tempfile.mkdtemp(prefix="hosted-images-bench-")  # the journal and its history: not the user's
    os.environ["HOSTED_IMAGES_JOURNAL"] = os.path.join(scratch, "journal.jsonl")
    os.environ["HOSTED_IMAGES_REUSE_DIR"] = os.path.join(scratch, "reuse")
    repeats = 3 if args.quick else 7
    global BUDGET_SECONDS
    if args.quick:
        BUDGET_SECONDS /= 4
    slow = 1 if args.quick else 3  # figures that take a second or more each run
    wanted = args.only.lower()

    figures: list[Figure] = []
    servers = Servers()
    loop = asyncio.new_event_loop()
    jobs: list[tuple[str, Callable[[], Figure | None]]] = [
        *[
            (f"{fmt} {size}", lambda s=size, f=fmt: conversion(s, f, repeats))
            for fmt in ("png", "jpeg", "webp")
            for size in (1024, 2048)
        ],
        ("batch upload", lambda: batch_upload(max(repeats, 7))),  # cheap, and the noisiest ratio
        ("node call", lambda: node_call(servers, loop, repeats * 3)),
        ("count=4", lambda: count_four(servers, slow)),
        ("interrupt", lambda: interrupt(servers, max(3, slow))),
        ("interrupt mid-stream", lambda: interrupt_stream(servers, max(3, slow))),
        ("import", lambda: import_time(repeats)),
        ("peak memory", peak_memory),
    ]
    try:
        for name, job in jobs:
            if wanted and wanted not in name.lower():
                continue
            print(f"measuring {name} ...", file=sys.stderr)
            figure = job()
            if figure is not None:
                figures.append(figure)
        levels = png_levels(repeats) if not wanted or wanted in "png levels" else []
    finally:
        servers.stop()
        loop.close()
    print()
    print_table(figures)
    if levels:
        print_png_levels(levels)
    print()
    print(METHODS)
    failed = [f.name for f in figures if not f.passed]
    print(
        f"\n{len(figures) - len(failed)} of {len(figures)} targets met"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

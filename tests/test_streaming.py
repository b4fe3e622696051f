"""Live previews: OpenAI-compatible Generate and Edit with partial_images, over real HTTP against
the local OpenAI server streaming as OpenAI does (docs/providers.md section 5).

Previews are captured through the ComfyUI glue (core/comfy.py) with a stand-in for
comfy.utils.ProgressBar, whose ``update_absolute(value, total, preview)`` is the channel
ComfyUI's samplers send their previews through. Every request is checked against
CreateImageRequest / CreateImageEditRequest of OpenAI's published spec when the test ends (the
``openai`` fixture of test_openai_compat.py), and the server's events against
ImageGenStreamEvent / ImageEditStreamEvent.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import requests
import torch
from PIL import Image

import openai_spec
from conftest import FAKE_KEYS, defaults, hang_ups, journal_lines, load_pack, mod, run_node
from test_openai_compat import openai, openai_server  # noqa: F401 -- fixtures: requests checked against the spec

KEY = FAKE_KEYS["OPENAI_API_KEY"]
NODES = load_pack().NODE_CLASS_MAPPINGS
GENERATE = NODES["HostedImages_OpenAICompatImageGenerate"]
EDIT = NODES["HostedImages_OpenAICompatImageEdit"]
RemoteImageError = mod("nodes.core.errors").RemoteImageError
comfy = mod("nodes.core.comfy")
sse = mod("nodes.core.sse")
api = mod("nodes.providers.openai_compat")
catalogue = mod("nodes.providers.catalogue")
IMAGES_PATH = "/v1/images/generations"
EDITS_PATH = "/v1/images/edits"


class PreviewBar:
    """comfy.utils.ProgressBar as main.py hooks it: each update_absolute (value, total, preview)
    is recorded with the time it ran."""

    updates: list = []

    def __init__(self, total, node_id=None):
        self.total, self.node_id = total, node_id

    def update_absolute(self, value, total=None, preview=None):
        PreviewBar.updates.append(
            SimpleNamespace(at=time.monotonic(), node=self.node_id, value=value, total=total, preview=preview)
        )

    def update(self, steps):
        pass


@pytest.fixture
def previews(monkeypatch):
    PreviewBar.updates = []
    monkeypatch.setattr(comfy, "_comfy_utils", SimpleNamespace(ProgressBar=PreviewBar))
    return PreviewBar.updates


def generate(**inputs):
    return run_node(GENERATE, **defaults(GENERATE, **{"prompt": "a red fox", "size": "1024x1024", **inputs}))


def edit(**inputs):
    return run_node(
        EDIT,
        **defaults(EDIT, **{"prompt": "add a hat", "image": torch.rand(1, 64, 64, 3), "size": "1024x1024", **inputs}),
    )


def shown(updates) -> list:
    return [u.preview for u in updates if u.preview is not None]


def difference(picture: Image.Image, image: torch.Tensor) -> float:
    """Mean absolute difference (0-255) between a preview and a result image scaled to its size."""
    final = Image.fromarray((image.numpy() * 255).round().astype(np.uint8)).resize(
        picture.size, Image.Resampling.BILINEAR
    )
    return float(np.abs(np.asarray(picture, np.float32) - np.asarray(final, np.float32)).mean())


# --- previews -------------------------------------------------------------------------------------


def test_partial_images_are_previewed_in_order_while_the_stream_runs(openai, previews):
    openai.inject(event_gap=0.3, path=IMAGES_PATH)
    image, mask, info = generate(partial_images=3, unique_id="9")
    returned = time.monotonic()
    (request,) = openai.calls(IMAGES_PATH)
    assert request.json() == {
        "model": "gpt-image-2",
        "prompt": "a red fox",
        "size": "1024x1024",
        "partial_images": 3,
        "stream": True,
    }
    assert request.headers["accept"].startswith("text/event-stream")
    assert [(u.node, u.value, u.total) for u in previews] == [("9", 1, 4), ("9", 2, 4), ("9", 3, 4), ("9", 4, 4)]
    assert [u.preview is not None for u in previews] == [True, True, True, False]
    for kind, picture, max_size in shown(previews):  # what latent_preview hands to the hook
        assert (kind, max_size, picture.mode, picture.size) == ("JPEG", comfy.DEFAULT_PREVIEW_SIZE, "RGB", (512, 512))
    # the first preview was on the node while the model still worked: two gaps before the result
    assert previews[0].at < returned - 0.5
    # each partial image is closer to the result than the one before
    distances = [difference(picture, image[0]) for _, picture, _ in shown(previews)]
    assert distances == sorted(distances, reverse=True) and distances[0] > 2 * distances[-1], distances
    assert image.shape == (1, 1024, 1024, 3) and not mask.any()
    details = json.loads(info)
    assert details["partial_images"] == 3 and details["usage"]["output_tokens"] == 272 + 3 * 100


def test_an_edit_streams_its_previews_too(openai, previews):
    image, _, info = edit(partial_images=1, unique_id="4")
    (request,) = openai.calls(EDITS_PATH)
    assert request.form()["stream"] == "true" and request.form()["partial_images"] == "1"
    assert [(u.value, u.total, u.preview is not None) for u in previews] == [(1, 2, True), (2, 2, False)]
    assert image.shape == (1, 1024, 1024, 3) and json.loads(info)["partial_images"] == 1


def test_several_images_stream_in_order(openai, previews, progress):
    streamed, _, info = generate(n=2, partial_images=1, unique_id="9")
    assert [(u.value, u.preview is not None) for u in previews] == [(1, True), (2, False), (3, True), (4, False)]
    stages = [text.split(" · ")[-1] for _, text in progress if "image" in text.split(" · ")[-1]]
    stages = [stage for stage in stages if not stage.startswith("auto -> ")]
    assert stages[:4] == [
        "partial image 1 of 1",
        "1 of 2 images done",
        "1 of 2 images done, partial image 1 of 1",
        "2 of 2 images done",
    ]
    plain, _, _ = generate(n=2)
    assert torch.equal(streamed, plain)  # the same two pictures in the same order as without a stream
    assert json.loads(info)["usage"]["output_tokens"] == 2 * (272 + 100)


def test_a_transparent_result_previews_over_white(openai, previews):
    image, mask, _ = generate(model="gpt-image-2.5-flare", background="transparent", partial_images=1, unique_id="9")
    ((_, picture, _),) = shown(previews)
    assert picture.mode == "RGB" and picture.getpixel((0, 0)) == (255, 255, 255)  # a transparent corner
    assert mask[0, 0, 0] == 1


def test_without_partial_images_nothing_streams(openai, previews):
    generate()
    (request,) = openai.calls(IMAGES_PATH)
    assert "stream" not in request.json() and "partial_images" not in request.json()
    assert request.headers["accept"] == "application/json" and previews == []


def test_only_the_openai_compatible_image_nodes_offer_partial_images():
    """Where a provider cannot stream, nothing changes."""
    offering = {name for name, cls in NODES.items() if "partial_images" in cls.INPUT_TYPES().get("optional", {})}
    assert offering == {"HostedImages_OpenAICompatImageGenerate", "HostedImages_OpenAICompatImageEdit"}
    for cls in (GENERATE, EDIT):
        kind, options = cls.INPUT_TYPES()["optional"]["partial_images"]
        assert (kind, options["default"], options["min"], options["max"]) == ("INT", 0, 0, 3)
        assert "billed as extra output tokens" in options["tooltip"]
        # added after the others (complexity after it), so saved workflows keep their values in place
        assert list(cls.INPUT_TYPES()["optional"])[-2:] == ["partial_images", "complexity"]


def test_a_server_that_ignores_stream_answers_as_always(openai, previews):
    image, _, info = generate(model="flux-dev", partial_images=2)
    assert openai.calls(IMAGES_PATH)[0].json()["stream"] is True
    assert image.shape == (1, 1024, 1024, 3) and previews == [] and "partial_images" not in info


def test_a_stream_framed_by_content_length_is_read_too(openai, previews):
    """Not chunked: the events arrive in a body of announced length (some servers and proxies)."""
    png = mod("nodes.emulator.synth").generate("framed", 256, 256)
    encoded = base64.b64encode(png).decode()
    body = "".join(
        f"event: {kind}\ndata: {json.dumps({'type': kind, 'b64_json': encoded, 'partial_image_index': 0})}\n\n"
        for kind in ("image_generation.partial_image", "image_generation.completed")
    )
    openai.inject(body=body.encode(), content_type="text/event-stream", path=IMAGES_PATH)
    image, _, _ = generate(partial_images=1)
    assert image.shape == (1, 256, 256, 3) and len(shown(previews)) == 1


# --- failures mid-stream ---------------------------------------------------------------------------


def test_an_error_event_mid_stream_is_quoted_and_the_completed_image_kept(openai, previews, tmp_path):
    openai.inject(
        error_after=2, message="The image model is overloaded.", path=IMAGES_PATH
    )  # after image 1's partial and result
    started = time.monotonic()
    with pytest.raises(RemoteImageError) as caught:
        generate(n=2, partial_images=1)
    text = str(caught.value)
    assert (
        "error in the stream after 1 of 2 images had completed: The image model is overloaded. (server_error)" in text
    )
    assert "model gpt-image-2" in text and time.monotonic() - started < 5
    (folder,) = (tmp_path / "unsaved").iterdir()
    assert f"were saved to {folder}" in text
    (saved,) = folder.iterdir()
    assert Image.open(saved).size == (1024, 1024)
    assert len(openai.calls(IMAGES_PATH)) == 1


def test_an_error_event_before_any_image(openai, tmp_path):
    openai.inject(error_after=0, message="Your request was rejected by the safety system.", path=IMAGES_PATH)
    with pytest.raises(
        RemoteImageError, match=r"after 0 of 1 image had completed: Your request was rejected"
    ) as caught:
        generate(partial_images=2)
    assert "saved" not in str(caught.value) and not (tmp_path / "unsaved").exists()


def test_a_stream_cut_mid_event_fails_without_a_retry(openai):
    openai.inject(cut_after=1, path=IMAGES_PATH)  # the partial image, then half of the result's event
    with pytest.raises(RemoteImageError) as caught:
        generate(partial_images=1)
    text = str(caught.value)
    assert "was cut off after 1 event" in text and "may have been billed; it was not retried" in text
    assert len(openai.calls(IMAGES_PATH)) == 1


def test_a_stream_cut_after_its_last_image_still_gives_it(openai, tmp_path):
    """Every event came, but the connection dropped instead of ending the stream: the image asked
    for is here, and the stream is left once it came, so the hang-up after it is never read."""
    openai.inject(cut_after=2, path=IMAGES_PATH)  # the partial image and the result, then a hang-up
    image, _, info = generate(partial_images=1)
    assert image.shape == (1, 1024, 1024, 3) and not (tmp_path / "unsaved").exists()
    assert "warning" not in json.loads(info) and json.loads(info)["partial_images"] == 1


def test_a_stall_longer_than_the_read_timeout_is_abandoned(openai, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", "1")
    openai.inject(stall_after=1, stall=20, path=IMAGES_PATH)
    started = time.monotonic()
    with pytest.raises(
        RemoteImageError, match=r"sent no event for 1s \(after 1 event\), so it was abandoned"
    ) as caught:
        generate(partial_images=2)
    assert time.monotonic() - started < 5 and "HOSTED_IMAGES_READ_TIMEOUT" in caught.value.hint
    assert hang_ups(openai, 1) == [IMAGES_PATH]  # the connection was dropped, not left hanging


def test_the_read_timeout_bounds_the_gaps_not_the_whole_stream(openai, monkeypatch, previews):
    monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", "1")
    openai.inject(event_gap=0.6, path=IMAGES_PATH)  # four events: about 1.8 s in all, each within 0.6 s
    started = time.monotonic()
    image, _, _ = generate(partial_images=3)
    assert time.monotonic() - started > 1.5 and image.shape[0] == 1 and len(shown(previews)) == 3


def test_keep_alive_comments_are_skipped(openai, previews):
    openai.inject(event_gap=0.3, keep_alive=0.05, path=IMAGES_PATH)
    image, _, _ = generate(partial_images=2)
    assert image.shape[0] == 1 and len(shown(previews)) == 2


def test_keep_alives_do_not_stretch_the_wait_for_an_event(openai, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", "1")
    openai.inject(stall_after=1, stall=20, keep_alive=0.1, path=IMAGES_PATH)
    with pytest.raises(RemoteImageError, match=r"sent no event for 1s \(after 1 event\)"):
        generate(partial_images=2)
    assert hang_ups(openai, 1) == [IMAGES_PATH]


def test_an_event_larger_than_the_bound_is_refused(openai, monkeypatch):
    monkeypatch.setattr(sse, "MAX_EVENT_BYTES", 100_000)
    openai.inject(body=b"data: " + b"A" * 300_000 + b"\n\n", content_type="text/event-stream", path=IMAGES_PATH)
    with pytest.raises(RemoteImageError, match="an event of the stream is larger than 100,000 bytes"):
        generate(partial_images=1)


# --- Cancel ----------------------------------------------------------------------------------------


def run_in_thread(function) -> dict:
    outcome: dict = {}

    def target():
        try:
            outcome["result"] = function()
        except BaseException as exc:  # noqa: BLE001 -- inspected by the test
            outcome["error"] = exc
        finally:
            outcome["ended"] = time.monotonic()

    outcome["thread"] = threading.Thread(target=target, daemon=True)
    outcome["thread"].start()
    return outcome


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_cancel_mid_stream_drops_the_connection_at_once(openai, previews):
    openai.inject(event_gap=5, path=IMAGES_PATH)
    outcome = run_in_thread(lambda: generate(partial_images=3, unique_id="9"))
    wait_for(lambda: len(previews) == 1)  # the first partial image is on the node; the next is 5 s away
    cancelled = time.monotonic()
    comfy.request_interrupt()
    outcome["thread"].join(10)
    assert isinstance(outcome.get("error"), comfy.InterruptProcessingException)
    assert hang_ups(openai, 1) == [IMAGES_PATH]  # the server saw the client go
    assert outcome["ended"] - cancelled < 2.5  # generous: the figure (<= 0.5 s) is nodes/cli/bench.py's


def test_cancel_after_a_completed_image_keeps_it(openai, previews, progress, tmp_path):
    openai.inject(stall_after=2, stall=20, path=IMAGES_PATH)  # image 1's partial and result, then nothing
    outcome = run_in_thread(lambda: generate(n=2, partial_images=1, unique_id="9"))
    wait_for(lambda: len(previews) == 2)
    comfy.request_interrupt()
    outcome["thread"].join(10)
    assert isinstance(outcome.get("error"), comfy.InterruptProcessingException)
    (folder,) = (tmp_path / "unsaved").iterdir()
    assert len(list(folder.iterdir())) == 1
    assert any(f"the 1 image(s) already returned were saved to {folder}" in text for _, text in progress)
    assert hang_ups(openai, 1) == [IMAGES_PATH]


# --- refused before sending --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs,words",
    [
        (dict(partial_images=4), "partial_images 4 is not allowed for gpt-image-2; use one of: 0, 1, 2, 3"),
        (dict(model="flux-dev", partial_images=-1), "partial_images is -1; it must be a whole number from 0 to 3"),
        (dict(model="flux-dev", partial_images=True), "partial_images is True"),
    ],
)
def test_partial_images_out_of_range_are_refused_before_sending(openai, inputs, words):
    with pytest.raises(RemoteImageError) as caught:
        generate(**inputs)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert openai.requests == []


def test_a_model_the_catalogue_knows_cannot_stream_is_refused_before_sending(openai, monkeypatch):
    entry = api.CATALOGUE.find("gpt-image-2")
    still = {
        op: dataclasses.replace(r, options={k: v for k, v in r.options.items() if k != "partial_images"})
        for op, r in entry.operations.items()
    }
    models = tuple(catalogue.Model(m.id, still) if m.id == "gpt-image-2" else m for m in api.CATALOGUE.models)
    monkeypatch.setattr(
        api, "CATALOGUE", dataclasses.replace(api.CATALOGUE, models=models, preferred={})
    )  # auto can pick nothing: only the model named
    for run in (generate, edit):
        with pytest.raises(RemoteImageError, match=r"gpt-image-2 does not accept partial_images \(set it to 0\)"):
            run(model="gpt-image-2", partial_images=2)
    assert openai.requests == []


# --- the server: OpenAI's stream, and what it refuses ---------------------------------------------------


def post(server_url: str, *, json_body=None, data=None, files=None, stream=False):
    return requests.post(
        f"{server_url}{EDITS_PATH if files else IMAGES_PATH}",
        json=json_body,
        data=data,
        files=files,
        headers={"Authorization": f"Bearer {KEY}"},
        stream=stream,
        timeout=30,
    )


def read_events(reply) -> list:
    reader = sse.EventStreamReader()
    events = [event for chunk in reply.iter_content(None) for event in reader.feed(chunk)]
    return [(event.event, json.loads(event.data)) for event in events + reader.close()]


def sharpness(data: dict) -> float:
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["b64_json"]))).convert("L"), np.float32)
    return float(np.abs(np.diff(pixels, axis=1)).mean())


@pytest.mark.parametrize("operation", ["generate", "edit"])
def test_the_server_streams_like_openai(openai_server, operation):
    server, _ = openai_server
    fields = {
        "model": "gpt-image-2",
        "prompt": "a red fox",
        "size": "1024x1024",
        "quality": "low",
        "stream": True,
        "partial_images": 3,
    }
    if operation == "generate":
        reply, prefix, schema = (
            post(server.url, json_body=fields, stream=True),
            "image_generation",
            "ImageGenStreamEvent",
        )
    else:
        form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
        png = mod("nodes.emulator.synth").generate("source", 64, 64)
        reply, prefix, schema = (
            post(server.url, data=form, files={"image": ("a.png", png, "image/png")}, stream=True),
            "image_edit",
            "ImageEditStreamEvent",
        )
    assert reply.status_code == 200 and reply.headers["content-type"] == "text/event-stream"
    assert reply.headers["transfer-encoding"] == "chunked" and "x-request-id" in reply.headers
    events = read_events(reply)
    assert [name for name, _ in events] == [f"{prefix}.partial_image"] * 3 + [f"{prefix}.completed"]
    assert all(data["type"] == name for name, data in events)
    assert [data["partial_image_index"] for _, data in events[:3]] == [0, 1, 2]
    assert "usage" in events[-1][1] and all("usage" not in data for _, data in events[:3])
    assert events[-1][1]["usage"]["output_tokens"] == 272 + 3 * 100
    sizes = {Image.open(io.BytesIO(base64.b64decode(data["b64_json"]))).size for _, data in events}
    assert sizes == {(1024, 1024)}
    sharp = [sharpness(data) for _, data in events]
    assert sharp == sorted(sharp) and sharp[0] < sharp[-1] / 2  # each partial image blurrier than the next
    if openai_spec.spec_path() is not None:
        for _, data in events:
            assert openai_spec.errors(openai_spec.event_schema(schema, data["type"]), data) == [], data["type"]


def test_stream_without_partial_images_sends_only_the_completed_event(openai_server):
    server, _ = openai_server
    reply = post(
        server.url,
        json_body={"model": "gpt-image-2", "prompt": "p", "size": "1024x1024", "stream": True, "partial_images": 0},
        stream=True,
    )
    assert [name for name, _ in read_events(reply)] == ["image_generation.completed"]


def test_the_error_event_is_openais_error_object(openai_server):
    server, app = openai_server
    app.inject(error_after=1, message="overloaded")
    reply = post(
        server.url, json_body={"model": "gpt-image-2", "prompt": "p", "stream": True, "partial_images": 2}, stream=True
    )
    events = read_events(reply)
    assert [name for name, _ in events] == ["image_generation.partial_image", "error"]
    assert events[1][1] == {
        "type": "error",
        "error": {"message": "overloaded", "type": "server_error", "param": None, "code": None},
    }


@pytest.mark.parametrize(
    "body,param,words",
    [
        ({"stream": True, "partial_images": 4}, "partial_images", "between 0 and 3"),
        ({"stream": True, "partial_images": -1}, "partial_images", "between 0 and 3"),
        ({"stream": True, "partial_images": "2"}, "partial_images", "expected an integer"),
        ({"partial_images": 2}, "partial_images", "only supported when stream is true"),
        ({"stream": False, "partial_images": 1}, "partial_images", "only supported when stream is true"),
        ({"stream": "yes"}, "stream", "expected a boolean"),
    ],
)
def test_the_server_refuses_what_openai_refuses(openai_server, body, param, words):
    server, _ = openai_server
    reply = post(server.url, json_body={"model": "gpt-image-2", "prompt": "p", **body})
    assert (
        reply.status_code == 400
        and reply.json()["error"]["param"] == param
        and words in reply.json()["error"]["message"]
    )


@pytest.mark.parametrize("stream", ["True", "1", "yes"])
def test_the_server_refuses_a_form_stream_that_is_not_true_or_false(openai_server, stream):
    server, _ = openai_server
    png = mod("nodes.emulator.synth").generate("source", 64, 64)
    reply = post(
        server.url,
        data={"model": "gpt-image-2", "prompt": "p", "stream": stream},
        files={"image": ("a.png", png, "image/png")},
    )
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "stream"


def test_the_server_records_a_client_that_hangs_up_mid_stream(openai_server):
    server, app = openai_server
    app.reset()
    app.inject(event_gap=5)
    reply = post(
        server.url, json_body={"model": "gpt-image-2", "prompt": "p", "stream": True, "partial_images": 2}, stream=True
    )
    next(reply.iter_content(None))
    reply.close()  # before the stream ended: the connection is closed, as a cancelled client's is
    assert hang_ups(app, 1) == [IMAGES_PATH]


# --- the spend journal of a stream ------------------------------------------------------------------


def test_a_streamed_call_is_journaled_with_its_images_and_usage(openai, previews):
    generate(n=2, partial_images=1)
    (line,) = [line for line in journal_lines() if line.get("operation") == "image generation"]
    assert (line["provider"], line["outcome"], line["images_asked"], line["images_returned"]) == ("openai", "ok", 2, 2)
    assert line["usage"]["output_tokens"] > 0 and line["usage"]["total_tokens"] > 0


def test_a_stream_that_fails_after_an_image_is_journaled_with_the_image_it_gave(openai, previews):
    openai.inject(error_after=2, message="The image model is overloaded.", path=IMAGES_PATH)
    with pytest.raises(RemoteImageError):
        generate(n=2, partial_images=1)
    (line,) = [line for line in journal_lines() if line.get("operation") == "image generation"]
    assert (line["outcome"], line["images_asked"], line["images_returned"]) == ("failed", 2, 1)

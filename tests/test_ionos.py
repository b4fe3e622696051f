"""IONOS nodes against the local IONOS server, over real HTTP."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FAKE_KEYS, assert_no_secret, hang_ups, mod, run_node

ionos_nodes = mod("nodes.ionos")
comfy = mod("nodes.core.comfy")
errors = mod("nodes.core.errors")
payloads = mod("nodes.core.payloads")

Generate, Edit, ListModels = ionos_nodes.IonosImageGenerate, ionos_nodes.IonosImageEdit, ionos_nodes.IonosListModels
SCHNELL, KLEIN = "black-forest-labs/FLUX.1-schnell", "black-forest-labs/FLUX.2-klein-4B"


def generate(**overrides):
    inputs = dict(model=SCHNELL, prompt="a red fox in snow", size="1024x1024", n=1, seed=0)
    inputs.update(overrides)
    return run_node(Generate, **inputs)


def edit(image, **overrides):
    inputs = dict(image=image, prompt="paint it blue", model=KLEIN, size="auto", n=1, output_format="png", seed=0)
    inputs.update(overrides)
    return run_node(Edit, **inputs)


def picture(width=96, height=64, batch=1):
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    one = torch.stack([x, y, 1 - x], dim=-1)
    return torch.stack([one * (0.5 + 0.5 * i / max(batch, 1)) for i in range(batch)])


# --- generate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size,n", [("1024x1024", 1), ("1792x1024", 2)])
def test_generate_returns_the_requested_images_and_usage(ionos, size, n):
    image, info = generate(size=size, n=n)
    width, height = map(int, size.split("x"))
    assert image.shape == (n, height, width, 3) and image.dtype == torch.float32
    assert '"usage"' in info and '"total_tokens": 0' in info
    body = ionos.requests[0].json()
    assert body == {
        "model": SCHNELL,
        "prompt": "a red fox in snow",
        "size": size,
        "n": n,
        "response_format": "b64_json",
    }
    assert ionos.requests[0].path == "/v1/images/generations"
    if n == 2:
        assert not torch.equal(image[0], image[1])


def test_fewer_images_than_asked_are_said_on_the_node_not_silently(ionos, progress):
    ionos.inject(rewrite=lambda reply: {**reply, "data": reply["data"][:1]}, path="/v1/images/generations")
    image, info = generate(n=3, unique_id="2")
    assert image.shape[0] == 1 and '"warning": "asked for 3 images, got 1"' in info
    ionos.inject(rewrite=lambda reply: {**reply, "data": reply["data"][:1]}, path="/v1/images/edits", times=2)
    edited = edit(picture(batch=2), n=2, unique_id="3")[0]
    assert edited.shape[0] == 2  # the node has no info output: its progress text says it
    said = [line for _, line in progress if "asked for" in line]
    assert len(said) == 2 and "asked for 3 images, got 1" in said[0] and "asked for 4 images, got 2" in said[1], (
        progress
    )


def test_generate_accepts_a_model_the_list_does_not_know(ionos):
    """Headless runs may name any model; the provider decides (here: 404 in its envelope)."""
    with pytest.raises(errors.RemoteImageError) as caught:
        generate(model="black-forest-labs/FLUX.9-future")
    assert caught.value.status == 404 and "not found" in str(caught.value)
    assert len(ionos.requests) == 1


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"prompt": ""}, "prompt is empty"),
        ({"prompt": "   \n"}, "prompt is empty"),
        ({"size": "1000x1000"}, "1024x1024, 1024x1792, 1792x1024"),
        ({"n": 0}, "from 1 to 10"),
        ({"n": 11}, "from 1 to 10"),
        ({"model": " "}, "model is empty"),
    ],
)
def test_generate_validation_happens_before_any_request(ionos, overrides, message):
    with pytest.raises(errors.InputError, match=message) as caught:
        generate(**overrides)
    assert "IONOS image generation" in str(caught.value)
    assert ionos.requests == []


# --- edit ----------------------------------------------------------------------------------------


def test_edit_sends_text_parts_with_data_urls_and_changes_only_the_masked_area(ionos):
    image = picture(96, 64)
    mask = torch.zeros(1, 64, 96)
    mask[:, :, :48] = 1.0  # left half
    (edited,) = edit(image, mask=mask)
    assert edited.shape == (1, 64, 96, 3)  # auto: the input's own size
    right = (edited[0, :, 56:] - image[0, :, 56:]).abs().max().item()
    left = (edited[0, :, :40] - image[0, :, :40]).abs().mean().item()
    assert right < 2 / 255 and left > 0.05

    request = ionos.requests[0]
    assert request.path == "/v1/images/edits" and request.headers["content-type"].startswith("multipart/form-data")
    assert all(part.filename is None for part in request.parts), "IONOS takes only text parts"
    form = request.form()
    assert set(form) == {"model", "prompt", "url", "size", "n", "output_format", "mask_image"}
    assert form["url"].startswith("data:image/png;base64,") and form["size"] == "96x64"
    _, mask_png = payloads.split_data_url(form["mask_image"])
    alpha = np.asarray(Image.open(io.BytesIO(mask_png)))[..., 3]
    assert alpha.shape == (64, 96) and alpha[:, :48].max() == 0 and alpha[:, 48:].min() == 255


def test_edit_without_a_real_mask_sends_none(ionos):
    edit(picture(64, 64), mask=torch.zeros(1, 64, 64))  # LoadImage's placeholder
    assert "mask_image" not in ionos.requests[0].form()


def test_edit_batch_runs_concurrently_and_keeps_order(ionos):
    ionos.inject(gather=3, path="/images/edits", times=3)  # each reply waits until all three are in flight
    batch = picture(64, 64, batch=3)
    (edited,) = edit(batch, n=2, output_format="jpeg")
    assert edited.shape == (6, 64, 64, 3)
    assert ionos.max_in_flight == 3, "the calls did not run concurrently"
    sent = [payloads.split_data_url(r.form()["url"])[1] for r in ionos.requests]
    # results n per input, in input order: image k's edits derive from image k
    for k in range(3):
        assert abs(edited[2 * k].mean().item() - edited[2 * k + 1].mean().item()) < 0.2
    means = [edited[2 * k].mean().item() for k in range(3)]
    assert means == sorted(means), "results out of input order"
    assert len(sent) == 3


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"prompt": "x" * 1001}, "1001 characters; the limit is 1000"),
        ({"size": "1000x1000"}, "multiples of 16 from 64 to 2048"),
        ({"size": "4096x1024"}, "multiples of 16 from 64 to 2048"),
        ({"size": "big"}, "WIDTHxHEIGHT"),
        ({"n": 11}, "from 1 to 10"),
        ({"output_format": "gif"}, "png, jpeg, jpg, webp"),
        ({"model": SCHNELL}, "cannot be used for image edits; use one of: black-forest-labs/FLUX.2-klein-4B"),
        ({"image": torch.zeros(1, 8, 8, 4)}, "4 channels"),
        ({"mask": torch.ones(1, 30, 10)}, "aspect ratios differ"),
    ],
)
def test_edit_validation_happens_before_any_request(ionos, overrides, message):
    image = overrides.pop("image", picture(64, 64))
    with pytest.raises(errors.InputError, match=message):
        edit(image, **overrides)
    assert ionos.requests == []


def test_auto_size_fits_large_inputs_to_the_rules(ionos):
    edit(picture(3000, 1000))
    assert ionos.requests[0].form()["size"] == "2048x688"


# --- list models -----------------------------------------------------------------------------------


def test_list_models_with_filter(ionos):
    (everything,) = run_node(ListModels)
    (flux,) = run_node(ListModels, filter="flux")
    assert "BAAI/bge-m3" in everything.splitlines()
    assert flux.splitlines() == [SCHNELL, KLEIN]


# --- failures ----------------------------------------------------------------------------------------


def test_wrong_token_gives_401_with_the_variable_to_set(ionos, monkeypatch):
    monkeypatch.setenv("IONOS_API_TOKEN", "fake-wrong-token")
    with pytest.raises(errors.RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert caught.value.status == 401 and "IONOS_API_TOKEN" in text and "paas-auth-1" in text
    assert "start with eyJ" in text  # IONOS's own fact, beside the generic hint
    assert "trace id:" in text
    assert_no_secret(text, ["fake-wrong-token"])


def test_missing_token_is_refused_before_sending(ionos, monkeypatch):
    monkeypatch.delenv("IONOS_API_TOKEN")
    with pytest.raises(errors.RemoteImageError, match="IONOS_API_TOKEN"):
        generate()
    assert ionos.requests == []


def test_rate_limit_bucket_gives_429_then_the_node_waits_and_succeeds(ionos):
    ionos.bucket.__init__(per_minute=60, burst=2)  # one image a second after a burst of two
    generate(n=2)
    started = time.monotonic()
    image, _ = generate(n=1)
    assert image.shape[0] == 1
    assert time.monotonic() - started >= 0.5
    statuses = [r.path for r in ionos.requests]
    assert len(statuses) == 3  # the 429 and its one retry


def test_rate_limit_that_persists_names_ionos_limits(ionos):
    ionos.inject(status=429, message="Too many requests", headers={"Retry-After": "0"}, times=10)
    with pytest.raises(errors.RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert "rate limited by IONOS after 4 attempt(s)" in text and "10 images a minute (burst 20)" in text


def test_500_is_reported_with_the_trace_id(ionos):
    ionos.inject(status=500, message="Internal error during maintenance")
    with pytest.raises(errors.RemoteImageError) as caught:
        generate()
    assert caught.value.status == 500 and "maintenance" in str(caught.value) and caught.value.trace_id
    assert len(ionos.requests) == 1


def test_dropped_connection_is_an_error_not_a_retry(ionos):
    ionos.inject(drop=True)
    with pytest.raises(errors.RemoteImageError, match="dropped"):
        generate()
    assert len(ionos.requests) == 1


def test_interrupt_in_a_slow_request(ionos):
    ionos.inject(delay=5)
    threading.Timer(0.3, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        generate()
    assert hang_ups(ionos, 1) == ["/v1/images/generations"], "the call ran on after the interrupt"


def test_interrupt_stops_every_call_of_a_batch(ionos):
    ionos.inject(delay=5, times=3)
    threading.Timer(0.3, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        edit(picture(64, 64, batch=3))
    assert hang_ups(ionos, 3) == ["/v1/images/edits"] * 3, "not every call stopped on the interrupt"


def test_partial_batch_failure_names_the_failed_call_and_keeps_the_others(ionos, tmp_path):
    ionos.inject(status=400, message="content policy", path="/images/edits", times=1)
    with pytest.raises(errors.RemoteImageError) as caught:
        edit(picture(64, 64, batch=2))
    text = str(caught.value)
    assert "1 of 2 edits failed" in text and "content policy" in text and "were saved to" in text
    folder = text.rsplit("were saved to ", 1)[1].strip()
    assert len(list(__import__("pathlib").Path(folder).glob("result_*.png"))) == 1


def test_no_key_in_any_output_or_log(ionos, pack_logs):
    key = FAKE_KEYS["IONOS_API_TOKEN"]
    image, info = generate()
    assert_no_secret(info, [key])
    ionos.inject(status=400, body=f'{{"httpStatus":400,"messages":[{{"message":"token {key} rejected"}}]}}'.encode())
    with pytest.raises(errors.RemoteImageError) as caught:
        generate()
    assert_no_secret(str(caught.value), [key])
    (models,) = run_node(ListModels)
    assert_no_secret(models, [key])
    assert_no_secret(pack_logs.text, [key])

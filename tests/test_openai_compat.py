"""OpenAI-compatible nodes against the local OpenAI server, over real HTTP on 127.0.0.1.

Every request the nodes send in these tests is checked, when the test ends, against
``CreateImageRequest`` / ``CreateImageEditRequest`` of OpenAI's published spec.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import requests
import torch
from PIL import Image

import openai_spec
from conftest import FAKE_KEYS, assert_no_secret, load_pack, mod, run_node

KEY = FAKE_KEYS["OPENAI_API_KEY"]
NODES = load_pack().NODE_CLASS_MAPPINGS
GENERATE = NODES["HostedImages_OpenAICompatImageGenerate"]
EDIT = NODES["HostedImages_OpenAICompatImageEdit"]
LIST = NODES["HostedImages_OpenAICompatListModels"]
RemoteImageError = mod("nodes.core.errors").RemoteImageError
api = mod("nodes.providers.openai_compat")

OPTIONS = dict(n=1, size="auto", quality="auto", background="auto", output_format="auto", output_compression=100, response_format="auto")


def generate(**inputs):
    return run_node(GENERATE, **{"model": "gpt-image-1", "prompt": "a red fox", "style": "auto", **OPTIONS, **inputs})


def edit(**inputs):
    return run_node(EDIT, **{"model": "gpt-image-1", "prompt": "add a hat", "image": torch.rand(1, 64, 64, 3), **OPTIONS, **inputs})


def check_against_spec(recorded) -> None:
    if openai_spec.spec_path() is None:
        return  # test_spec_checks_are_live says why, once
    for request in recorded:
        if request.path.endswith("/images/generations"):
            openai_spec.check("CreateImageRequest", request.json())
        elif request.path.endswith("/images/edits"):
            openai_spec.check("CreateImageEditRequest", openai_spec.form_instance(request.parts))


@pytest.fixture(scope="module")
def openai_server():
    """One server for the module: stopping one takes half a second (serve_forever's poll)."""
    app = mod("nodes.emulator.openai_compat").OpenAIApp(token=KEY, extra_models=("flux-dev",))
    server = mod("nodes.emulator.server").EmulatorServer({"": app}).start()
    yield server, app
    server.stop()


@pytest.fixture
def openai(openai_server, monkeypatch):
    """api.openai.com played locally (plus a model of another server, flux-dev); env points at it."""
    server, app = openai_server
    app.reset()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    yield app
    check_against_spec(app.requests)


def decode(blob: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(blob))
    picture.load()
    return picture


# --- generation ---------------------------------------------------------------------------------


def test_gpt_image_transparent_result_gives_a_mask(openai):
    image, mask, info = generate(background="transparent", quality="high")
    (request,) = openai.calls("/v1/images/generations")
    assert request.json() == {"model": "gpt-image-1", "prompt": "a red fox", "size": "auto", "quality": "high", "background": "transparent"}
    assert request.bearer == KEY
    assert image.shape == (1, 1024, 1024, 3) and mask.shape == (1, 1024, 1024)
    assert mask[0, 0, 0] == 1.0 and mask[0, 512, 512] == 0.0  # corners transparent, centre opaque
    assert '"usage"' in info and '"input_tokens"' in info


def test_dall_e_3_url_result_is_downloaded_without_the_key(openai):
    image, mask, info = generate(model="dall-e-3", size="1792x1024", quality="hd", style="natural")
    generation, download = openai.requests
    assert generation.json() == {"model": "dall-e-3", "prompt": "a red fox", "size": "1792x1024", "quality": "hd", "style": "natural"}
    assert download.path.startswith("/files/") and "authorization" not in download.headers
    assert image.shape == (1, 1024, 1792, 3) and not mask.any()
    assert "A detailed rendering of: a red fox" in info  # revised_prompt


def test_dall_e_2_batch_as_base64(openai):
    image, _, _ = generate(model="dall-e-2", n=3, size="256x256", response_format="b64_json")
    (request,) = openai.requests
    assert request.json() == {"model": "dall-e-2", "prompt": "a red fox", "size": "256x256", "n": 3, "response_format": "b64_json"}
    assert image.shape == (3, 256, 256, 3)
    assert not torch.equal(image[0], image[1])


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_gpt_image_compressed_output(openai, fmt):
    image, _, info = generate(size="1536x1024", output_format=fmt, output_compression=70)
    body = openai.requests[0].json()
    assert body["output_format"] == fmt and body["output_compression"] == 70
    assert image.shape == (1, 1024, 1536, 3) and f'"output_format": "{fmt}"' in info


def test_other_server_gets_only_what_was_set(openai, serve, monkeypatch):
    """A model the pack does not know: nothing refused, only non-auto parameters sent, the key
    from the variable the node names, to the base URL the node names (loopback)."""
    other = mod("nodes.emulator.openai_compat").OpenAIApp(token="fake-local-key", extra_models=("flux-dev",))
    server = serve(other)
    monkeypatch.setenv("LOCAL_IMAGES_KEY", "fake-local-key")
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "LOCAL_IMAGES_KEY")
    image, _, _ = generate(model="flux-dev", size="640x480", quality="hd", n=2, base_url=f"{server.url}/v1", api_key_env="LOCAL_IMAGES_KEY")
    (request,) = other.requests
    assert request.json() == {"model": "flux-dev", "prompt": "a red fox", "size": "640x480", "quality": "hd", "n": 2}
    assert request.bearer == "fake-local-key" and openai.requests == []
    assert image.shape == (2, 480, 640, 3)
    check_against_spec(other.requests)


def test_server_without_auth_gets_no_key(openai, serve):
    anonymous = mod("nodes.emulator.openai_compat").OpenAIApp(token=None, extra_models=("flux-dev",))
    server = serve(anonymous)
    generate(model="flux-dev", base_url=f"{server.url}/v1", api_key_env="")
    (request,) = anonymous.requests
    assert "authorization" not in request.headers and request.json() == {"model": "flux-dev", "prompt": "a red fox"}


def test_server_that_wants_a_key_when_none_is_named(openai):
    """api_key_env empty sends no key; the 401 then says where a key would come from."""
    with pytest.raises(RemoteImageError) as caught:
        generate(model="gpt-image-1", api_key_env="")
    text = str(caught.value)
    assert caught.value.status == 401 and "name the environment variable that holds it in api_key_env" in text
    assert "set  to" not in text


# --- edits --------------------------------------------------------------------------------------


def test_gpt_image_edit_batch_with_mask(openai):
    image = torch.rand(2, 96, 128, 3)
    mask = torch.zeros(48, 64)  # half size: resized to the image
    mask[10:20, 8:32] = 1.0
    edited, alpha, info = edit(image=image, mask=mask, n=2, quality="low")
    (request,) = openai.calls("/v1/images/edits")
    assert request.form() == {"model": "gpt-image-1", "prompt": "add a hat", "size": "auto", "n": "2", "quality": "low"}
    files = [(p.name, p.filename, p.content_type) for p in request.parts if p.filename]
    assert files == [("image[]", "image_1.png", "image/png"), ("image[]", "image_2.png", "image/png"), ("mask", "mask.png", "image/png")]
    sent = decode(request.files("image[]")[1].data)
    assert sent.size == (128, 96) and np.array_equal(np.asarray(sent), (image[1] * 255).round().to(torch.uint8).numpy())
    mask_png = decode(request.files("mask")[0].data)
    assert mask_png.mode == "RGBA" and mask_png.size == (128, 96)
    alpha_channel = np.asarray(mask_png)[..., 3]
    assert alpha_channel[30, 40] == 0 and alpha_channel[5, 5] == 255 and alpha_channel[80, 120] == 255
    assert edited.shape == (2, 1024, 1536, 3) and alpha.shape == (2, 1024, 1536)  # auto: landscape
    assert '"image_tokens": 130' in info


def test_single_image_is_sent_as_image(openai):
    edit(size="1024x1536", output_format="webp", background="transparent")
    (request,) = openai.requests
    assert [p.name for p in request.parts if p.filename] == ["image"]
    assert request.form()["background"] == "transparent" and "mask" not in request.form()


def test_dall_e_2_edit_square_png_with_url_result(openai):
    mask = torch.zeros(1, 64, 64)
    mask[0, :32] = 1.0
    edited, _, _ = edit(model="dall-e-2", mask=mask, size="256x256")
    request, download = openai.requests
    assert request.form() == {"model": "dall-e-2", "prompt": "add a hat", "size": "256x256"}
    assert "authorization" not in download.headers
    assert edited.shape == (1, 256, 256, 3)
    # dall-e-2 refuses RGB files: the image goes as RGBA, transparent where the mask edits
    (upload,) = request.files("image")
    rgba = np.asarray(Image.open(io.BytesIO(upload.data)))
    assert rgba.shape == (64, 64, 4) and rgba[:32, :, 3].max() == 0 and rgba[32:, :, 3].min() == 255


def test_placeholder_mask_means_no_mask(openai):
    edit(mask=torch.zeros(1, 64, 64))
    assert openai.requests[0].files("mask") == []


# --- model list ---------------------------------------------------------------------------------


def test_list_models(openai):
    (everything,) = run_node(LIST)
    assert "dall-e-3" in everything.split("\n") and "whisper-1" in everything.split("\n")
    (images,) = run_node(LIST, filter="IMAGE")
    assert images.split("\n") == ["chatgpt-image-latest", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"]
    assert openai.requests[0].path == "/v1/models" and openai.requests[0].bearer == KEY


# --- refused before sending ----------------------------------------------------------------------

REFUSED_GENERATIONS = [
    (dict(model="dall-e-3", n=2), "dall-e-3 makes one image per call"),
    (dict(model="dall-e-3", background="opaque"), "dall-e-3 does not accept background"),
    (dict(model="dall-e-2", style="vivid"), "dall-e-2 does not accept style"),
    (dict(model="dall-e-2", size="1792x1024"), "size 1792x1024 is not allowed for dall-e-2; use one of: 256x256, 512x512, 1024x1024"),
    (dict(model="dall-e-2", quality="hd"), "quality 'hd' is not allowed for dall-e-2; use one of: auto, standard"),
    (dict(model="dall-e-2", prompt="x" * 1001), "1001 characters; the limit is 1000"),
    (dict(model="gpt-image-1", response_format="url"), "gpt-image-1 does not accept response_format"),
    (dict(model="gpt-image-1", quality="standard"), "use one of: auto, low, medium, high"),
    (dict(model="gpt-image-1", size="1792x1024"), "use one of: 1024x1024, 1536x1024, 1024x1536, auto"),
    (dict(model="gpt-image-1", output_compression=50), "output_compression applies only to jpeg and webp"),
    (dict(model="gpt-image-1", output_format="jpeg", background="transparent"), "needs output_format png or webp"),
    (dict(model="dall-e-2", output_format="png"), "dall-e-2 does not accept output_format"),
    (dict(model="gpt-image-1", prompt="   "), "prompt is empty"),
    (dict(model="gpt-image-1", size="big"), "must look like WIDTHxHEIGHT"),
    (dict(model="flux-dev", n=11), "from 1 to 10"),
    (dict(model=""), "model is empty"),
    (dict(api_key_env="sk-proj-abcdefghijklmnop"), "the NAME of an environment variable"),
    (dict(base_url="http://example.com/v1"), "plain http to a non-loopback host"),
    (dict(base_url="https://collector.example/v1"), "to collector.example, which is not a trusted host"),
]


@pytest.mark.parametrize("inputs,words", REFUSED_GENERATIONS, ids=lambda v: str(v)[:40] if isinstance(v, dict) else None)
def test_generation_refused_before_sending(openai, inputs, words):
    with pytest.raises(RemoteImageError) as caught:
        generate(**inputs)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert_no_secret(str(caught.value), [KEY, "sk-proj-abcdefghijklmnop"])
    assert openai.requests == []


REFUSED_EDITS = [
    (dict(model="dall-e-3"), "dall-e-3 cannot be used for image edits; use one of: gpt-image-1"),
    (dict(model="dall-e-2", image=torch.rand(1, 64, 96, 3)), "dall-e-2 edits square images only; this one is 96x64"),
    (dict(model="dall-e-2", image=torch.rand(2, 64, 64, 3)), "dall-e-2 edits one image per call, but the batch has 2"),
    (dict(image=torch.rand(17, 16, 16, 3)), "at most 16 images can be edited together"),
    (dict(mask=torch.ones(64, 32)), "the mask is 32x64 but the image is 64x64"),
    (dict(image=torch.rand(1, 64, 64, 4)), "convert it to RGB first"),
    (dict(model="dall-e-2", prompt="x" * 1001), "the limit is 1000"),
    (dict(model="gpt-image-1", response_format="b64_json"), "gpt-image-1 does not accept response_format"),
    (dict(model="dall-e-2", size="256x256"), "dall-e-2 edits only a masked area: connect a MASK"),
]


@pytest.mark.parametrize("inputs,words", REFUSED_EDITS, ids=lambda v: str(list(v)) if isinstance(v, dict) else None)
def test_edit_refused_before_sending(openai, inputs, words):
    with pytest.raises(RemoteImageError) as caught:
        edit(**inputs)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert openai.requests == []


def test_dall_e_2_upload_limit_is_checked_before_sending():
    with pytest.raises(RemoteImageError, match=r"image 1 is 4.0 MB as PNG; dall-e-2 takes files under 4 MB"):
        api.check_uploads("dall-e-2", [b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024)], 2048, 2048, None)


@pytest.mark.parametrize("model,family", [("gpt-image-1", "gpt-image"), ("gpt-image-1-mini", "gpt-image"), ("gpt-image-1.5", "gpt-image"),
                                          ("chatgpt-image-latest", "gpt-image"), ("DALL-E-3", "dall-e-3"), ("dall-e-2", "dall-e-2"), ("flux-dev", "")])
def test_model_families(model, family):
    assert api.family_of(model) == family


def test_gpt_image_2_takes_sizes_in_its_limits():
    body = api.generation_body(model="gpt-image-2", prompt="p", size="1536x864")
    assert body["size"] == "1536x864"
    for size in ("1000x1000", "4096x1024", "3200x800"):  # not multiples of 16, too large, wider than 3:1
        with pytest.raises(RemoteImageError, match="gpt-image-2"):
            api.generation_body(model="gpt-image-2", prompt="p", size=size)


# --- errors from the server ----------------------------------------------------------------------


def test_wrong_key_401_names_the_variable(openai, monkeypatch, pack_logs):
    monkeypatch.setenv("MY_OPENAI_KEY", "fake-wrong-key-value")
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "MY_OPENAI_KEY")
    with pytest.raises(RemoteImageError) as caught:
        generate(api_key_env="MY_OPENAI_KEY")
    text = str(caught.value)
    assert "HTTP 401" in text and "Incorrect API key provided" in text and "invalid_api_key" in text
    assert "set MY_OPENAI_KEY" in text and "trace id: req_" in text
    assert_no_secret(text, ["fake-wrong-key-value", KEY])
    assert_no_secret(pack_logs.text, ["fake-wrong-key-value", KEY])


def test_missing_key_fails_before_sending(openai, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(RemoteImageError, match="set the environment variable OPENAI_API_KEY"):
        generate()
    assert openai.requests == []


def test_server_error_envelope_becomes_the_message(openai):
    with pytest.raises(RemoteImageError) as caught:
        generate(model="no-such-model")
    text = str(caught.value)
    assert "HTTP 404" in text and "The model `no-such-model` does not exist" in text and "(model_not_found)" in text
    assert "model no-such-model" in text and "check the model name and the base URL" in text


def test_rate_limit_then_success(openai, pack_logs):
    openai.inject(status=429, message="Rate limit reached for images per minute", headers={"Retry-After": "1"})
    started = time.monotonic()
    image, _, info = generate()
    assert time.monotonic() - started >= 0.9 and len(openai.requests) == 2
    assert image.shape[0] == 1
    assert_no_secret(info + pack_logs.text)


def test_rate_limit_gives_up_with_a_hint(openai):
    openai.inject(status=429, message="Rate limit reached", headers={"Retry-After": "3600"})
    with pytest.raises(RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert "HTTP 429" in text and "Rate limit reached (rate_limit_exceeded)" in text and "try again in 3600s" in text


def test_server_error_500(openai, pack_logs):
    openai.inject(status=500, message="The server had an error while processing your request.", path="/images/edits")
    with pytest.raises(RemoteImageError) as caught:
        edit()
    text = str(caught.value)
    assert "image edit failed (model gpt-image-1, HTTP 500)" in text and "server_error" in text and "try again later" in text
    assert_no_secret(text + pack_logs.text)


def test_503_is_retried(openai):
    openai.inject(status=503, message="overloaded")
    (models,) = run_node(LIST)
    assert len(openai.requests) == 2 and "gpt-image-1" in models


def test_expired_result_link(openai):
    openai.inject(status=404, body=b"BlobNotFound", content_type="text/plain", path="/files/")
    with pytest.raises(RemoteImageError, match="result links expire"):
        generate(model="dall-e-2")


# --- the emulator is as strict as the real API ----------------------------------------------------


def _post(app, path, **kwargs):
    headers = {"Authorization": f"Bearer {KEY}", **kwargs.pop("headers", {})}
    return requests.post(f"{app.base_url}/v1/images/{path}", headers=headers, timeout=10, **kwargs)


def _png(size=(64, 64), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("body,param", [
    ({"prompt": "p", "model": "gpt-image-1", "seed": 1}, None),
    ({"prompt": "p", "model": "dall-e-3", "n": 2}, "n"),
    ({"prompt": "p", "model": "gpt-image-1", "response_format": "url"}, "response_format"),
    ({"prompt": "p", "model": "dall-e-2", "size": "1536x1024"}, "size"),
    ({"model": "gpt-image-1"}, "prompt"),
])
def test_emulator_refuses_generations_like_openai(openai, body, param):
    reply = _post(openai, "generations", json=body)
    assert reply.status_code == 400 and reply.headers["x-request-id"].startswith("req_")
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == param and error["type"] == "invalid_request_error"
    openai.requests.clear()  # these were wrong on purpose


@pytest.mark.parametrize("files,data,words", [
    ([("image", ("i.png", _png(), "image/png")), ("mask", ("m.png", _png(), "image/png"))], {"prompt": "p", "model": "gpt-image-1"}, "format must be in ['RGBA', 'LA', 'L']"),
    ([("image", ("i.png", _png(), "image/png")), ("mask", ("m.png", _png((32, 32), "RGBA"), "image/png"))], {"prompt": "p", "model": "gpt-image-1"}, "does not match image size"),
    ([("image", ("i.png", _png((64, 32)), "image/png"))], {"prompt": "p", "model": "dall-e-2"}, "must be square"),
    ([], {"prompt": "p", "model": "gpt-image-1", "image": "data:image/png;base64,AAAA"}, "must be sent as files"),
    ([("image", ("i.png", _png(), "image/png"))], {"prompt": "p", "model": "dall-e-3"}, "does not support image edits"),
])
def test_emulator_refuses_edits_like_openai(openai, files, data, words):
    reply = _post(openai, "edits", files=files or [("unused", (None, ""))], data=data)
    assert reply.status_code == 400 and words in reply.json()["error"]["message"]
    openai.requests.clear()


def test_emulator_requires_the_key(openai):
    reply = requests.get(f"{openai.base_url}/v1/models", timeout=10)
    assert reply.status_code == 401 and "You didn't provide an API key" in reply.json()["error"]["message"]


def test_key_from_the_credentials_file_section_of_the_named_variable(openai, tmp_path, monkeypatch):
    path = tmp_path / "credentials.ini"
    path.write_text(f"[openai:TEAM_IMAGES_KEY]\napi_key = {KEY}\n")
    path.chmod(0o600)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(path))
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "TEAM_IMAGES_KEY")
    generate(api_key_env="TEAM_IMAGES_KEY")
    assert openai.requests[0].bearer == KEY

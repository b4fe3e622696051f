"""OpenAI-compatible nodes against the local OpenAI server, over real HTTP on 127.0.0.1.

Every request the nodes send in these tests is checked, when the test ends, against
``CreateImageRequest`` / ``CreateImageEditRequest`` of OpenAI's published spec.
"""

from __future__ import annotations

import datetime
import io
import threading
import time

import numpy as np
import pytest
import requests
import torch
from PIL import Image

import openai_spec
from conftest import FAKE_KEYS, TODAY, assert_no_secret, defaults, load_pack, mod, run_node, set_today
from provider_table import closed_port_url

KEY = FAKE_KEYS["OPENAI_API_KEY"]
NODES = load_pack().NODE_CLASS_MAPPINGS
GENERATE = NODES["HostedImages_OpenAICompatImageGenerate"]
EDIT = NODES["HostedImages_OpenAICompatImageEdit"]
LIST = NODES["HostedImages_OpenAICompatListModels"]
RemoteImageError = mod("nodes.core.errors").RemoteImageError
comfy = mod("nodes.core.comfy")
api = mod("nodes.providers.openai_compat")
catalogue = mod("nodes.providers.catalogue")
BEFORE_1_X_SHUTDOWN = datetime.date(2026, 11, 29)  # gpt-image-1.5, 1-mini and chatgpt-image-latest still served
IMAGES_PATH = "/v1/images/generations"
EDITS_PATH = "/v1/images/edits"


def generate(**inputs):
    return run_node(GENERATE, **defaults(GENERATE, **{"prompt": "a red fox", **inputs}))


def edit(**inputs):
    return run_node(EDIT, **defaults(EDIT, **{"prompt": "add a hat", "image": torch.rand(1, 64, 64, 3), **inputs}))


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
    app = mod("nodes.emulator.openai_compat").OpenAIAPI(token=KEY, extra_models=("flux-dev",))
    server = mod("nodes.emulator.server").EmulatorServer({"": app}).start()
    yield server, app
    server.stop()


@pytest.fixture
def openai(openai_server, monkeypatch):
    """api.openai.com played locally as on conftest's TODAY (plus a model of another server, flux-dev)."""
    server, app = openai_server
    app.reset()
    app.today = None  # the pack's clock
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    yield app
    check_against_spec(app.requests)


def decode(blob: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(blob))
    picture.load()
    return picture


def body_of(app, path=IMAGES_PATH) -> dict:
    (request,) = app.calls(path)
    return request.json()


# --- generation ---------------------------------------------------------------------------------


def test_a_prompt_and_the_defaults_make_an_image_with_gpt_image_2(openai):
    image, mask, info = generate()
    assert body_of(openai) == {"model": "gpt-image-2", "prompt": "a red fox", "size": "auto"}
    assert openai.calls(IMAGES_PATH)[0].bearer == KEY
    assert image.shape == (1, 1024, 1024, 3) and not mask.any()
    assert '"usage"' in info and "notice" not in info


def _first_image_only(reply):
    return {**reply, "data": reply["data"][:1]}


def test_fewer_images_than_asked_are_said_on_the_node_and_in_info(openai, progress):
    """A server that ignores n (as some OpenAI-compatible ones do) gave fewer: kept, and said."""
    openai.inject(rewrite=_first_image_only, path=IMAGES_PATH)
    image, _, info = generate(n=3, unique_id="5")
    assert image.shape[0] == 1 and len(openai.calls(IMAGES_PATH)) == 1
    assert '"warning": "asked for 3 images, got 1"' in info
    assert any("asked for 3 images, got 1" in line for _, line in progress), progress
    openai.inject(rewrite=_first_image_only, path=EDITS_PATH)
    edited, _, info = edit(n=2, unique_id="5")
    assert edited.shape[0] == 1 and '"warning": "asked for 2 images, got 1"' in info


def test_all_images_asked_for_give_no_warning(openai, progress):
    image, _, info = generate(n=2, unique_id="5")
    assert image.shape[0] == 2 and "warning" not in info and not any("asked for" in line for _, line in progress)


def test_transparent_result_gives_a_mask(openai):
    image, mask, info = generate(model="gpt-image-2.5-flare", background="transparent", quality="high")
    assert body_of(openai) == {
        "model": "gpt-image-2.5-flare",
        "prompt": "a red fox",
        "size": "auto",
        "quality": "high",
        "background": "transparent",
    }
    assert image.shape == (1, 1024, 1024, 3) and mask.shape == (1, 1024, 1024)
    assert mask[0, 0, 0] == 1.0 and mask[0, 512, 512] == 0.0  # corners transparent, centre opaque


@pytest.mark.parametrize(
    "size,width,height,sent",
    [
        ("custom", 1536, 864, "1536x864"),
        ("2048x1152", 1024, 1024, "2048x1152"),  # a preset: width and height are not used
        ("1152x2048", 0, 0, "1152x2048"),
        ("2304 x 768", 1024, 1024, "2304x768"),  # an API-format workflow may type any WIDTHxHEIGHT
    ],
)
def test_preset_and_custom_sizes(openai, size, width, height, sent):
    image, _, _ = generate(size=size, width=width, height=height)
    assert body_of(openai)["size"] == sent
    expected_width, expected_height = map(int, sent.split("x"))
    assert image.shape == (1, expected_height, expected_width, 3)


# Every edge of gpt-image-2's size rule: these are the largest and smallest sizes it takes.
SIZE_EDGES_ALLOWED = [
    (3840, 1280),  # longest side 3840, ratio exactly 3:1
    (1280, 3840),
    (3840, 2160),  # 8,294,400 pixels: the most
    (1024, 640),  # 655,360 pixels: the fewest
    (1488, 496),  # exactly 3:1 at the small end (738,048 pixels)
]
SIZE_EDGES_REFUSED = [
    (3856, 1296, "the longest side may be at most 3840"),
    (1296, 3856, "the longest side may be at most 3840"),
    (3840, 1264, "the aspect ratio may be at most 3:1"),
    (3840, 2176, "8,294,400 pixels, not 8,355,840"),
    (1024, 624, "655,360 to 8,294,400 pixels, not 638,976"),
    (1000, 1024, "multiples of 16"),
    (1024, 1000, "multiples of 16"),
]


@pytest.mark.parametrize("width,height", SIZE_EDGES_ALLOWED)
def test_gpt_image_2_takes_every_size_at_the_edge_of_its_rule(openai, width, height):
    image, _, _ = generate(size="custom", width=width, height=height)
    assert body_of(openai)["size"] == f"{width}x{height}" and image.shape == (1, height, width, 3)


@pytest.mark.parametrize("width,height,words", SIZE_EDGES_REFUSED)
def test_gpt_image_2_refuses_every_size_past_its_rule_before_sending(openai, width, height, words):
    with pytest.raises(RemoteImageError) as caught:
        generate(size="custom", width=width, height=height)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value) and "gpt-image-2" in str(caught.value)
    assert openai.requests == []


@pytest.mark.parametrize("width,height,words", SIZE_EDGES_REFUSED)
def test_the_emulator_refuses_the_same_sizes_as_openai(openai, width, height, words):
    reply = _post(openai, "generations", json={"model": "gpt-image-2", "prompt": "p", "size": f"{width}x{height}"})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "size"
    openai.requests.clear()


@pytest.mark.parametrize(
    "model,quality", [("gpt-image-2.5-sunburst", "xhigh"), ("gpt-image-2.6-flare", "max"), ("gpt-image-2", "low")]
)
def test_qualities_per_model(openai, model, quality):
    generate(model=model, quality=quality)
    assert body_of(openai)["quality"] == quality


def test_moderation_low_is_sent_on_generations(openai):
    generate(moderation="low")
    assert body_of(openai)["moderation"] == "low"


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_compressed_output(openai, fmt):
    image, _, info = generate(size="1536x1024", output_format=fmt, output_compression=70)
    body = body_of(openai)
    assert body["output_format"] == fmt and body["output_compression"] == 70
    assert image.shape == (1, 1024, 1536, 3) and f'"output_format": "{fmt}"' in info


def test_other_server_gets_only_what_was_set(openai, serve, monkeypatch):
    """A model the pack does not know: nothing refused, only non-auto parameters sent, the key
    from the variable the node names, to the base URL the node names (loopback)."""
    other = mod("nodes.emulator.openai_compat").OpenAIAPI(token="fake-local-key", extra_models=("flux-dev",))
    server = serve(other)
    monkeypatch.setenv("LOCAL_IMAGES_KEY", "fake-local-key")
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "LOCAL_IMAGES_KEY")
    monkeypatch.setenv("HOSTED_IMAGES_TRUSTED_HOSTS", server.url.split("//", 1)[1])  # this loopback port
    image, _, _ = generate(
        model="flux-dev", size="640x480", quality="hd", n=2, base_url=f"{server.url}/v1", api_key_env="LOCAL_IMAGES_KEY"
    )
    (request,) = other.calls(IMAGES_PATH)
    assert request.json() == {"model": "flux-dev", "prompt": "a red fox", "size": "640x480", "quality": "hd", "n": 2}
    assert request.bearer == "fake-local-key" and openai.requests == []
    assert image.shape == (2, 480, 640, 3)
    check_against_spec(other.requests)


def test_other_server_answering_with_links(openai):
    image, _, _ = generate(model="flux-dev", size="custom", width=512, height=512, response_format="url")
    generation, download, listing = openai.requests  # the link is fetched at once, before anything else
    assert generation.path == IMAGES_PATH and generation.json()["response_format"] == "url"
    assert download.path.startswith("/files/") and "authorization" not in download.headers
    assert listing.path == "/v1/models"  # the shutdown date, read once the image is in hand
    assert image.shape == (1, 512, 512, 3)


def test_server_without_auth_gets_no_key(openai, serve):
    anonymous = mod("nodes.emulator.openai_compat").OpenAIAPI(token=None, extra_models=("flux-dev",))
    server = serve(anonymous)
    generate(model="flux-dev", base_url=f"{server.url}/v1", api_key_env="")
    assert all("authorization" not in r.headers for r in anonymous.requests)
    assert body_of(anonymous) == {"model": "flux-dev", "prompt": "a red fox"}


def test_server_that_wants_a_key_when_none_is_named(openai):
    """api_key_env empty sends no key; the 401 then says where a key would come from."""
    with pytest.raises(RemoteImageError) as caught:
        generate(api_key_env="")
    text = str(caught.value)
    assert caught.value.status == 401 and "name the environment variable that holds it in api_key_env" in text
    assert "set  to" not in text


# --- retired models, "no such model", shutdown notices -------------------------------------------


@pytest.mark.parametrize(
    "model,day", [("dall-e-2", "2026-05-12"), ("dall-e-3", "2026-05-12"), ("gpt-image-1", "2026-10-23")]
)
def test_a_retired_model_is_refused_before_sending_at_openais_own_api(openai, monkeypatch, model, day):
    monkeypatch.delenv("OPENAI_BASE_URL")  # https://api.openai.com/v1
    monkeypatch.setenv("HTTPS_PROXY", closed_port_url())  # were anything sent, it would stay on loopback
    for run in (generate, edit):
        with pytest.raises(RemoteImageError) as caught:
            run(model=model)
        text = str(caught.value)
        assert f"OpenAI retired {model} on {day}; use gpt-image-2.6-sunburst" in text and "nothing was sent" in text
    assert openai.requests == []


@pytest.mark.parametrize("model", ["dall-e-3", "gpt-image-1"])
def test_a_model_openai_retired_is_sent_as_chosen_to_another_server_with_a_line_in_info(serve, monkeypatch, model):
    """A retirement is a fact about a host: a relay, Azure or LocalAI may serve any name."""
    relay = mod("nodes.emulator.openai_compat").OpenAIAPI(token=KEY, extra_models=(model,))
    monkeypatch.setenv("OPENAI_BASE_URL", f"{serve(relay).url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    image, _, info = generate(model=model, size="1024x1024", quality="hd")  # unchecked: the server's rules
    assert image.shape[0] == 1
    (request,) = relay.calls(IMAGES_PATH)
    assert request.json()["model"] == model and request.json()["quality"] == "hd"
    assert f"OpenAI retired {model} on its own API on " in info and "this server may still serve it" in info


def test_a_model_shut_down_after_the_catalogue_was_checked(openai, monkeypatch):
    """The catalogue still serves gpt-image-1.5 on its day, the server has moved on: its
    model_not_found is quoted, and the hint names the successor and the models served now."""
    set_today(monkeypatch, BEFORE_1_X_SHUTDOWN)
    openai.today = datetime.date(2026, 12, 2)
    with pytest.raises(RemoteImageError) as caught:
        generate(model="gpt-image-1.5")
    error = caught.value
    assert (
        error.status == 404
        and "The model `gpt-image-1.5` has been deprecated" in error.message
        and "model_not_found" in error.message
    )
    assert error.hint.startswith(
        "gpt-image-1.5 is retired; use gpt-image-2.6-sunburst; image models the server lists now: flux-dev, "
        "gpt-image-2, "
    )
    assert "gpt-image-2.6-sunburst" in error.hint and "gpt-image-1-mini" not in error.hint
    assert [r.path for r in openai.requests] == [IMAGES_PATH, "/v1/models"]  # the list only once the model is refused


def test_an_unknown_model_lists_the_servers_image_models(openai):
    with pytest.raises(RemoteImageError) as caught:
        generate(model="gpt-image-3")
    error = caught.value
    assert "The model `gpt-image-3` does not exist or you do not have access to it" in str(error)
    assert (
        "image models the server lists now: flux-dev, gpt-image-2, gpt-image-2-2026-04-21, gpt-image-2.5-flare"
        in error.hint
    )
    assert "whisper-1" not in error.hint


def test_without_the_live_list_the_catalogue_names_the_models(openai):
    openai.inject(status=500, message="models are down", path="/v1/models")
    with pytest.raises(RemoteImageError) as caught:
        generate(model="gpt-image-3")
    assert "OpenAI's image models as of 2026-12-06: gpt-image-2, gpt-image-2.5-flare" in caught.value.hint


def test_a_near_shutdown_is_announced_on_the_node(openai, progress, monkeypatch):
    set_today(monkeypatch, BEFORE_1_X_SHUTDOWN)
    openai.inject(delay=0.3, path=IMAGES_PATH)  # long enough for a progress line
    _, _, info = generate(model="gpt-image-1.5", unique_id="7")
    notice = "gpt-image-1.5 shuts down on 2026-12-01 (in 2 days); move to gpt-image-2.6-sunburst"
    assert any(notice in line for _, line in progress), progress
    assert f'"notice": "{notice}"' in info


def test_the_servers_own_shutdown_date_wins(openai, progress):
    """OpenAI's model list carries shutdown_date: a date the catalogue does not know yet is announced."""

    def announce(reply):
        for entry in reply["data"]:
            if entry["id"] == "gpt-image-2":
                entry["shutdown_date"] = "2026-12-15"
        return reply

    openai.inject(rewrite=announce, path="/v1/models")
    _, _, info = generate(model="gpt-image-2", unique_id="7")
    notice = "gpt-image-2 shuts down on 2026-12-15 (in 9 days)"
    assert f'"notice": "{notice}"' in info and any(notice in line for _, line in progress), progress
    assert [r.path for r in openai.requests] == [IMAGES_PATH, "/v1/models"]  # read after the image came


def test_cancel_while_the_shutdown_date_is_read_keeps_the_image_paid_for(openai, progress, tmp_path):
    """The model list is read after the image came: a Cancel while it hangs must not lose that image."""
    openai.inject(delay=10, path="/v1/models")
    threading.Timer(0.5, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        generate(model="gpt-image-2", unique_id="7")
    assert [r.path for r in openai.requests] == [IMAGES_PATH, "/v1/models"]
    (folder,) = (tmp_path / "unsaved").iterdir()
    assert [p.name for p in folder.iterdir()] == ["result_001.png"]
    assert any(node == "7" and str(folder) in text for node, text in progress), progress


@pytest.mark.parametrize("run,path", [(generate, IMAGES_PATH), (edit, EDITS_PATH)])
def test_a_call_that_fails_at_once_is_one_request(openai, run, path):
    openai.inject(status=400, message="Your request was rejected by the safety system.", path=path)
    with pytest.raises(RemoteImageError) as caught:
        run()
    # auto read the model list (free) first; the refused image call is not sent again
    assert caught.value.status == 400 and [r.path for r in openai.requests] == ["/v1/models", path]


def test_a_model_list_that_fails_after_the_image_came_is_ignored(openai):
    openai.inject(status=500, message="models are down", path="/v1/models")
    image, _, info = generate(model="gpt-image-2")
    assert image.shape[0] == 1 and "notice" not in info
    generate(model="gpt-image-2")
    assert [r.path for r in openai.requests] == [
        IMAGES_PATH,
        "/v1/models",
        IMAGES_PATH,
    ]  # not tried again for ten minutes


def test_the_model_list_is_fetched_once_for_many_calls(openai):
    for _ in range(3):
        generate()
    assert len(openai.calls("/v1/models")) == 1 and len(openai.calls(IMAGES_PATH)) == 3


# --- edits --------------------------------------------------------------------------------------


def test_edit_batch_with_mask(openai):
    image = torch.rand(2, 96, 128, 3)
    mask = torch.zeros(48, 64)  # half size: resized to the image
    mask[10:20, 8:32] = 1.0
    edited, alpha, info = edit(image=image, mask=mask, n=2, quality="low")
    (request,) = openai.calls(EDITS_PATH)
    assert request.form() == {"model": "gpt-image-2", "prompt": "add a hat", "size": "auto", "n": "2", "quality": "low"}
    files = [(p.name, p.filename, p.content_type) for p in request.parts if p.filename]
    assert files == [
        ("image[]", "image_1.png", "image/png"),
        ("image[]", "image_2.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    sent = decode(request.files("image[]")[1].data)
    assert sent.size == (128, 96) and np.array_equal(np.asarray(sent), (image[1] * 255).round().to(torch.uint8).numpy())
    mask_png = decode(request.files("mask")[0].data)
    assert mask_png.mode == "RGBA" and mask_png.size == (128, 96)
    alpha_channel = np.asarray(mask_png)[..., 3]
    assert alpha_channel[30, 40] == 0 and alpha_channel[5, 5] == 255 and alpha_channel[80, 120] == 255
    assert edited.shape == (2, 1024, 1536, 3) and alpha.shape == (2, 1024, 1536)  # auto: landscape
    assert '"image_tokens": 130' in info


def test_single_image_is_sent_as_image(openai):
    edit(model="gpt-image-2.5-sunburst", size="1024x1536", output_format="webp", background="transparent")
    (request,) = openai.calls(EDITS_PATH)
    assert [p.name for p in request.parts if p.filename] == ["image"]
    assert request.form()["background"] == "transparent" and "mask" not in request.form()


def test_input_fidelity_goes_to_the_model_that_takes_it(openai, monkeypatch):
    set_today(monkeypatch, BEFORE_1_X_SHUTDOWN)
    edit(model="gpt-image-1.5", input_fidelity="high")
    assert openai.calls(EDITS_PATH)[0].form()["input_fidelity"] == "high"


def test_placeholder_mask_means_no_mask(openai):
    edit(mask=torch.zeros(1, 64, 64))
    assert openai.calls(EDITS_PATH)[0].files("mask") == []


# --- model list ---------------------------------------------------------------------------------


def test_list_models(openai):
    (everything,) = run_node(LIST)
    assert "gpt-image-2" in everything.split("\n") and "whisper-1" in everything.split("\n")
    (images,) = run_node(LIST, filter="IMAGE-2.5")
    assert images.split("\n") == [
        "gpt-image-2.5-flare",
        "gpt-image-2.5-flare-2026-09-08",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-sunburst-2026-09-08",
    ]
    assert openai.requests[0].path == "/v1/models" and openai.requests[0].bearer == KEY


def test_the_refresh_button_list_keeps_image_models(openai):
    models = mod("nodes.openai_compat").live_models()
    assert "gpt-image-2" in models and "flux-dev" in models and "gpt-4o" not in models and "whisper-1" not in models


# --- refused before sending ----------------------------------------------------------------------

REFUSED_GENERATIONS = [
    (
        dict(model="gpt-image-2", background="transparent"),
        "background 'transparent' is not allowed for gpt-image-2; use one of: auto, opaque",
    ),
    (
        dict(model="gpt-image-2", quality="xhigh"),
        "quality 'xhigh' is not allowed for gpt-image-2; use one of: auto, low, medium, high",
    ),
    (dict(model="gpt-image-2", complexity="low"), "gpt-image-2 does not accept complexity (set it to 'auto')"),
    (dict(output_format="svg"), "output_format svg is not offered: svg output is vector markup"),
    (dict(output_format="gif"), "output_format gif is not offered: gif output needs GIF preview access"),
    (dict(quality="standard"), "use one of: auto, low, medium, high"),
    (dict(response_format="url"), "gpt-image-2 does not accept response_format"),
    (
        dict(model="gpt-image-1.5", size="2048x2048"),
        "size 2048x2048 is not allowed for gpt-image-1.5; use one of: 1024x1024, 1536x1024, 1024x1536, auto",
    ),
    (dict(model="gpt-image-1-mini", size="custom", width=1536, height=864), "not allowed for gpt-image-1-mini"),
    (dict(model="chatgpt-image-latest"), "chatgpt-image-latest cannot be used for image generation"),
    (dict(output_compression=50), "output_compression applies only to jpeg and webp"),
    (
        dict(model="gpt-image-2.5-flare", output_format="jpeg", background="transparent"),
        "needs output_format png or webp",
    ),
    (dict(prompt="x" * 32001), "32001 characters; the limit is 32000"),
    (dict(prompt="   "), "prompt is empty"),
    (dict(size="big"), "must look like WIDTHxHEIGHT"),
    (dict(model="flux-dev", n=11), "from 1 to 10"),
    (dict(model=""), "model is empty"),
    (dict(api_key_env="sk-proj-abcdefghijklmnop"), "the NAME of an environment variable"),
    (dict(base_url="http://example.com/v1"), "plain http to a non-loopback host"),
    (dict(base_url="https://collector.example/v1"), "to collector.example, which is not a trusted host"),
]


@pytest.mark.parametrize(
    "inputs,words", REFUSED_GENERATIONS, ids=lambda v: str(v)[:40] if isinstance(v, dict) else None
)
def test_generation_refused_before_sending(openai, inputs, words):
    with pytest.raises(RemoteImageError) as caught:
        generate(**inputs)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert_no_secret(str(caught.value), [KEY, "sk-proj-abcdefghijklmnop"])
    assert openai.requests == []


REFUSED_EDITS = [
    (dict(input_fidelity="low"), "gpt-image-2 does not accept input_fidelity (set it to 'auto')"),
    (dict(model="gpt-image-1-mini", input_fidelity="high"), "gpt-image-1-mini does not accept input_fidelity"),
    (
        dict(model="gpt-image-1.5", input_fidelity="highest"),
        "input_fidelity 'highest' is not allowed for gpt-image-1.5; use one of: auto, high, low",
    ),
    (dict(image=torch.rand(17, 16, 16, 3)), "at most 16 images can be edited together"),
    (dict(mask=torch.ones(64, 32)), "the mask is 32x64 but the image is 64x64"),
    (dict(image=torch.rand(1, 64, 64, 4)), "convert it to RGB first"),
    (dict(response_format="b64_json"), "gpt-image-2 does not accept response_format"),
]


@pytest.mark.parametrize("inputs,words", REFUSED_EDITS, ids=lambda v: str(list(v)) if isinstance(v, dict) else None)
def test_edit_refused_before_sending(openai, inputs, words):
    with pytest.raises(RemoteImageError) as caught:
        edit(**inputs)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert openai.requests == []


def test_upload_limit_is_checked_before_sending():
    with pytest.raises(RemoteImageError, match=r"mask is 4.0 MB as PNG; gpt-image-2 takes files under 4 MB"):
        api.check_uploads("gpt-image-2", [b"\x89PNG\r\n\x1a\n"], b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024))


def test_the_dated_snapshot_follows_gpt_image_2s_rules():
    body = api.generation_body(model="gpt-image-2-2026-04-21", prompt="p", size="1536x864", on=TODAY)
    assert body["size"] == "1536x864"
    with pytest.raises(RemoteImageError, match="background 'transparent' is not allowed for gpt-image-2-2026-04-21"):
        api.generation_body(model="gpt-image-2-2026-04-21", prompt="p", background="transparent", on=TODAY)


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
    assert "model no-such-model" in text and "image models the server lists now" in text


def test_rate_limit_then_success(openai, pack_logs):
    openai.inject(
        status=429, message="Rate limit reached for images per minute", headers={"Retry-After": "1"}, path=IMAGES_PATH
    )
    started = time.monotonic()
    image, _, info = generate()
    assert time.monotonic() - started >= 0.9 and len(openai.calls(IMAGES_PATH)) == 2
    assert image.shape[0] == 1
    assert_no_secret(info + pack_logs.text)


def test_rate_limit_gives_up_with_a_hint(openai):
    openai.inject(status=429, message="Rate limit reached", headers={"Retry-After": "3600"}, path=IMAGES_PATH)
    with pytest.raises(RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert "HTTP 429" in text and "Rate limit reached (rate_limit_exceeded)" in text and "try again in 3600s" in text


def test_server_error_500(openai, pack_logs):
    openai.inject(status=500, message="The server had an error while processing your request.", path="/images/edits")
    with pytest.raises(RemoteImageError) as caught:
        edit()
    text = str(caught.value)
    assert (
        "image edit failed (model gpt-image-2, HTTP 500)" in text
        and "server_error" in text
        and "try again later" in text
    )
    assert_no_secret(text + pack_logs.text)


def test_503_is_retried(openai):
    openai.inject(status=503, message="overloaded")
    (models,) = run_node(LIST)
    assert len(openai.requests) == 2 and "gpt-image-2" in models


def test_expired_result_link(openai):
    openai.inject(status=404, body=b"BlobNotFound", content_type="text/plain", path="/files/")
    with pytest.raises(RemoteImageError, match="result links expire"):
        generate(model="flux-dev", response_format="url")


# --- the emulator is as strict as the real API ----------------------------------------------------


def _post(app, path, **kwargs):
    headers = {"Authorization": f"Bearer {KEY}", **kwargs.pop("headers", {})}
    return requests.post(f"{app.base_url}/v1/images/{path}", headers=headers, timeout=10, **kwargs)


def _png(size=(64, 64), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "body,status,param,code",
    [
        ({"prompt": "p", "model": "gpt-image-2", "seed": 1}, 400, None, "unknown_parameter"),
        (
            {"prompt": "p", "model": "gpt-image-2", "response_format": "b64_json"},
            400,
            "response_format",
            "unknown_parameter",
        ),
        ({"prompt": "p", "model": "gpt-image-2", "background": "transparent"}, 400, "background", "invalid_value"),
        ({"prompt": "p", "model": "gpt-image-2", "quality": "max"}, 400, "quality", "invalid_value"),
        ({"prompt": "p", "model": "gpt-image-1.5", "size": "2048x2048"}, 404, None, "model_not_found"),
        ({"prompt": "p", "model": "gpt-image-2.6-flare", "complexity": "max"}, 400, "complexity", "invalid_value"),
        ({"prompt": "p", "model": "gpt-image-2.5-flare", "complexity": "low"}, 400, "complexity", "unknown_parameter"),
        ({"model": "gpt-image-2"}, 400, "prompt", "missing_required_parameter"),
        ({"prompt": "p", "model": "dall-e-3"}, 404, None, "model_not_found"),
        ({"prompt": "p", "model": "gpt-image-1"}, 404, None, "model_not_found"),
    ],
)
def test_emulator_refuses_generations_like_openai(openai, body, status, param, code):
    reply = _post(openai, "generations", json=body)
    assert reply.status_code == status and reply.headers["x-request-id"].startswith("req_")
    error = reply.json()["error"]
    assert (
        set(error) == {"message", "type", "param", "code"}
        and error["param"] == param
        and error["type"] == "invalid_request_error"
    )
    assert error["code"] == code
    openai.requests.clear()  # these were wrong on purpose


@pytest.mark.parametrize(
    "files,data,words",
    [
        (
            [("image", ("i.png", _png(), "image/png")), ("mask", ("m.png", _png(), "image/png"))],
            {"prompt": "p", "model": "gpt-image-2"},
            "format must be in ['RGBA', 'LA', 'L']",
        ),
        (
            [("image", ("i.png", _png(), "image/png")), ("mask", ("m.png", _png((32, 32), "RGBA"), "image/png"))],
            {"prompt": "p", "model": "gpt-image-2"},
            "does not match image size",
        ),
        (
            [("image", ("i.png", _png(), "image/png"))],
            {"prompt": "p", "model": "gpt-image-2", "input_fidelity": "high"},
            "input_fidelity is not supported for gpt-image-2",
        ),
        (
            [("image", ("i.png", _png(), "image/png"))],
            {"prompt": "p", "model": "gpt-image-2", "moderation": "low"},
            "Unrecognized request argument supplied: moderation",
        ),
        ([], {"prompt": "p", "model": "gpt-image-2", "image": "data:image/png;base64,AAAA"}, "must be sent as files"),
    ],
)
def test_emulator_refuses_edits_like_openai(openai, files, data, words):
    reply = _post(openai, "edits", files=files or [("unused", (None, ""))], data=data)
    assert reply.status_code == 400 and words in reply.json()["error"]["message"]
    openai.requests.clear()


def test_emulator_model_list_carries_shutdown_dates(openai):
    openai.today = BEFORE_1_X_SHUTDOWN
    listed = requests.get(f"{openai.base_url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    dates = {entry["id"]: entry["shutdown_date"] for entry in listed["data"]}
    assert dates["gpt-image-1.5"] == "2026-12-01" and dates["gpt-image-2"] is None and "dall-e-3" not in dates
    openai.today = datetime.date(2026, 12, 1)
    listed = requests.get(f"{openai.base_url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert "gpt-image-1.5" not in {entry["id"] for entry in listed["data"]}


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
    assert openai.calls(IMAGES_PATH)[0].bearer == KEY

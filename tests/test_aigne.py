"""AIGNE Hub: the v2 generation paths and their fallback, the native edit route, n by n calls,
every reply shape and base64 alias, links, retired and unknown models, validation, errors, keys."""

from __future__ import annotations

import datetime
import json

import pytest
import requests
import torch

from conftest import FAKE_KEYS, assert_no_secret, defaults, mod, run_node, set_today

KEY = FAKE_KEYS["AIGNE_HUB_API_KEY"]
MOUNT = "/app/ai-kit"  # a hub's base URL includes its mount path
V2_PATH = "/api/v2/image/generations"
V2_ALIAS = "/api/v2/images/generations"
DOC_PATH = "/api/images/generations"
NATIVE_PATH = "/api/v2/image"

aigne_nodes = mod("nodes.aigne")
aigne = mod("nodes.providers.aigne")
catalogue = mod("nodes.providers.catalogue")
emulator = mod("nodes.emulator.aigne")
RemoteImageError = mod("nodes.core.errors").RemoteImageError
InputError = mod("nodes.core.errors").InputError
Generate = aigne_nodes.AigneHubImageGenerate
Edit = aigne_nodes.AigneHubImageEdit


@pytest.fixture(scope="module")
def hub_server():
    """One server for the module (stopping one takes half a second); each test mounts a fresh app."""
    server = mod("nodes.emulator.server").EmulatorServer({MOUNT: emulator.AigneHubAPI(key=KEY)}).start()
    yield server
    server.stop()


@pytest.fixture
def hub(hub_server, monkeypatch):
    """A fresh local AIGNE Hub under a mount path, as on conftest's TODAY, the environment pointing at it."""
    app = emulator.AigneHubAPI(key=KEY)
    app.base_url = hub_server.url + MOUNT
    hub_server.apps = {MOUNT: app}
    monkeypatch.setenv("AIGNE_HUB_API_KEY", KEY)
    monkeypatch.setenv("AIGNE_HUB_BASE_URL", app.base_url)
    return app


def generate(**inputs):
    return run_node(Generate, **defaults(Generate, **{"prompt": "a red fox in the snow", **inputs}))


def edit(**inputs):
    return run_node(Edit, **defaults(Edit, **{"image": torch.rand(1, 48, 64, 3), "prompt": "make it night", **inputs}))


def posts(app, path=None):
    return [r for r in app.requests if r.method == "POST" and (path is None or r.path == path)]


def failure(function, **inputs) -> RemoteImageError:
    with pytest.raises(RemoteImageError) as caught:
        function(**inputs)
    assert_no_secret(str(caught.value))
    return caught.value


# --- generation: defaults, paths and their fallback ----------------------------------------------


def test_a_prompt_and_the_defaults_make_an_image(hub):
    image, info = generate()
    assert image.shape == (1, 1024, 1024, 3) and image.dtype == torch.float32
    (request,) = posts(hub)
    assert (
        request.path == V2_PATH
        and request.bearer == KEY
        and request.headers["content-type"].startswith("application/json")
    )
    assert request.json() == {"prompt": "a red fox in the snow", "model": "openai/gpt-image-2", "n": 1, "size": "auto"}
    assert '"model": "gpt-image-2"' in info and '"aigneHubCredits": 6.0' in info


@pytest.mark.parametrize("keys", [("b64_json",), ("base64",), ("b64Json",), emulator.B64_KEYS], ids="+".join)
def test_each_base64_alias(hub, keys):
    hub.b64_keys = keys
    image, _ = generate(size="1536x1024")
    assert image.shape == (1, 1024, 1536, 3)


def test_the_newer_alias_path_answers_in_openais_shape(hub):
    image, info = generate(path=V2_ALIAS)
    assert image.shape == (1, 1024, 1024, 3) and posts(hub)[0].path == V2_ALIAS
    assert '"created"' in info


def test_the_docs_path_is_a_404_page_on_a_real_hub(hub):
    reply = requests.post(
        hub.base_url + DOC_PATH, json={"prompt": "x"}, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    assert reply.status_code == 404 and "Cannot POST /api/images/generations" in reply.text
    assert reply.headers["Content-Type"].startswith("text/html")


def test_a_path_the_hub_does_not_serve_gives_way_to_the_next_and_is_remembered(hub):
    hub.serves = {V2_ALIAS}  # a hub that only serves the newer alias
    image, _ = generate()
    assert image.shape == (1, 1024, 1024, 3)
    assert [r.path for r in posts(hub)] == [V2_PATH, V2_ALIAS]  # the 404 cost nothing
    assert hub.billed == [1]
    generate()
    assert [r.path for r in posts(hub)] == [V2_PATH, V2_ALIAS, V2_ALIAS]  # straight to what worked


def test_the_docs_path_typed_into_the_node_falls_back_to_the_hubs_paths(hub):
    image, _ = generate(path=DOC_PATH)
    assert image.shape[0] == 1 and [r.path for r in posts(hub)] == [DOC_PATH, V2_PATH]
    generate(path=DOC_PATH)  # a saved workflow's old path: the 404 is not hit again
    assert [r.path for r in posts(hub)] == [DOC_PATH, V2_PATH, V2_PATH]


def test_a_path_typed_other_than_the_defaults_is_tried_first(hub):
    generate()
    generate(path=V2_ALIAS)
    assert [r.path for r in posts(hub)] == [V2_PATH, V2_ALIAS]


def test_a_hub_serving_none_of_the_paths_says_so(hub):
    hub.serves = set()
    error = failure(generate)
    assert error.status == 404 and "serves none of the known generation paths" in error.message
    assert all(path in error.message for path in (V2_PATH, V2_ALIAS, DOC_PATH)) and "Cannot POST" in error.message
    assert "mount path" in error.hint
    assert len(posts(hub)) == 3  # each path once


# --- n: in one call where the framework passes it on, one call per image for Google's models -------

GEMINI = "google/gemini-nano-banana-2.1"


def test_n_images_of_gpt_image_2_come_from_one_call(hub):
    image, info = generate(n=3)
    assert image.shape == (3, 1024, 1024, 3)
    (call,) = posts(hub)
    assert call.json()["n"] == 3 and hub.billed == [3]
    assert '"calls"' not in info and '"aigneHubCredits": 18.0' in info


def test_n_images_of_a_google_model_come_from_n_calls(hub):
    generate(model=GEMINI)  # learns the path
    hub.inject(gather=3, times=3, path=V2_PATH)  # each reply waits until all three calls are in flight
    image, info = generate(model=GEMINI, n=3)
    assert image.shape == (3, 1024, 1024, 3)
    assert hub.max_in_flight == 3, "the calls did not run concurrently"
    calls = posts(hub)[1:]
    assert len(calls) == 3 and all(r.json()["n"] == 1 for r in calls)
    assert hub.billed == [1, 1, 1, 1]
    assert '"calls": 3' in info and '"aigneHubCredits": 12.0' in info


def test_the_first_of_n_calls_finds_the_path_for_the_others(hub):
    hub.serves = {V2_ALIAS}
    image, _ = generate(model=GEMINI, n=2)
    assert image.shape[0] == 2 and [r.path for r in posts(hub)] == [V2_PATH, V2_ALIAS, V2_ALIAS]


def test_the_hub_itself_passes_n_on_and_drops_the_gpt_options():
    """What the node is built on: the published framework gives gpt-image-2 dall-e-2's parameter
    list -- prompt, size, n -- and silently drops the rest."""
    hub = emulator.AigneHubAPI(key=KEY)
    request = mod("nodes.emulator.server").Request(
        "POST",
        V2_PATH,
        {},
        {"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        b'{"prompt": "x", "model": "openai/gpt-image-2", "n": 3, "quality": "high", "background": "opaque"}',
    )
    reply = hub.handle(request)
    assert reply.status == 200 and len(json.loads(reply.body)["data"]) == 3 and hub.billed == [3]
    assert hub.dropped == [["background", "quality"]]


@pytest.mark.parametrize("model", ["openai/gpt-image-3", "gpt-image-3", "openai/chatgpt-image-2"])
def test_n_images_of_a_gpt_image_model_newer_than_the_catalogue_come_from_one_call(hub, model):
    """The framework passes n on for every OpenAI model but gpt-image-1, not only those the catalogue knows."""
    hub.upstream.extra_models += ["gpt-image-3", "chatgpt-image-2"]  # OpenAI serves models newer than the catalogue
    image, info = generate(model=model, n=3, response_format="url")
    assert image.shape[0] == 3 and hub.billed == [3]
    (body,) = [r.json() for r in posts(hub)]
    assert body["n"] == 3 and "response_format" not in body
    assert "warning" not in info


def test_fewer_images_than_asked_in_one_call_are_said_not_silent(hub, progress):
    hub.inject(rewrite=lambda reply: {**reply, "images": reply["images"][:1], "data": reply["data"][:1]}, path=V2_PATH)
    image, info = generate(model="ideogram/ideogram-v3", n=3, size="1024x1024", unique_id="4")
    assert image.shape[0] == 1 and len(posts(hub)) == 1  # the hub billed 3: not an error, nothing is lost
    assert '"warning": "asked for 3 images, got 1"' in info
    assert any("asked for 3 images, got 1" in line for _, line in progress), progress


def test_other_models_take_n_in_one_call_and_answer_with_links(hub):
    image, _ = generate(model="ideogram/ideogram-v3", n=2, size="1024x1024", response_format="url")
    (request,) = posts(hub)
    assert request.json() == {
        "prompt": "a red fox in the snow",
        "model": "ideogram/ideogram-v3",
        "n": 2,
        "size": "1024x1024",
        "response_format": "url",
    }
    assert image.shape == (2, 1024, 1024, 3) and len(hub.downloads) == 2
    assert not any(d["authorization"] for d in hub.downloads), "the hub's key went to the image host"


@pytest.mark.parametrize("path", [V2_PATH, V2_ALIAS])
def test_links_in_both_shapes_are_downloaded_at_once_without_the_key(hub, path):
    image, _ = generate(model="ideogram/ideogram-v3", response_format="url", path=path)
    assert image.shape == (1, 1024, 1024, 3) and len(hub.downloads) == 1
    for request in hub.requests:
        if request.method == "GET":
            assert "authorization" not in request.headers and KEY not in request.path


def test_hub_answering_base64_when_url_was_asked_for(hub):
    hub.base64_for_url = True
    image, _ = generate(model="ideogram/ideogram-v3", response_format="url")
    assert image.shape == (1, 1024, 1024, 3) and hub.downloads == []


def test_expired_link_gives_a_clear_error(hub, monkeypatch):
    real_link = hub._link

    def expiring_link(data):  # the link is dead by the time the client fetches it
        url = real_link(data)
        hub.expire_links()
        return url

    monkeypatch.setattr(hub, "_link", expiring_link)
    error = failure(generate, model="ideogram/ideogram-v3", response_format="url")
    assert error.status == 403
    assert "expired" in error.message and "about an hour" in error.message
    assert "AuthenticationFailed" not in error.message  # a link's body is never quoted: it could be anything
    assert "b64_json" in error.hint


# --- the GPT options the hub does not pass upstream -------------------------------------------------


@pytest.mark.parametrize(
    "option",
    [
        {"quality": "high"},
        {"background": "opaque"},
        {"output_format": "webp"},
        {"output_format": "jpeg", "output_compression": 50},
        {"moderation": "low"},
    ],
    ids=str,
)
@pytest.mark.parametrize("model", ["openai/gpt-image-2", "openai/gpt-image-2.6-sunburst", "openai/gpt-image-3"])
def test_gpt_options_the_framework_drops_are_refused_before_sending_saying_why(hub, option, model):
    """An image paid for that silently ignores the option asked for is worse than no image."""
    with pytest.raises(InputError) as caught:
        generate(model=model, **option)
    text = str(caught.value)
    assert f"{model} does not accept {next(iter(option))}" in text
    assert "passes OpenAI's options on only for gpt-image-1" in text
    assert hub.requests == []


def test_the_options_a_gpt_model_takes_through_the_hub_are_size_and_n(hub):
    image, _ = generate(model="openai/gpt-image-2.5-flare", size="custom", width=1536, height=864, n=2)
    assert image.shape == (2, 864, 1536, 3)
    assert posts(hub)[0].json() == {
        "prompt": "a red fox in the snow",
        "model": "openai/gpt-image-2.5-flare",
        "n": 2,
        "size": "1536x864",
    }
    assert hub.dropped == [[]]


@pytest.mark.parametrize(
    "bare,sent",
    [
        ("gpt-image-2", "openai/gpt-image-2"),
        ("GPT-Image-2.5-Flare", "openai/gpt-image-2.5-flare"),
        ("gpt-image-2-2026-04-21", "openai/gpt-image-2-2026-04-21"),
    ],
)
def test_a_bare_name_the_catalogue_knows_is_sent_with_its_provider(hub, bare, sent):
    generated, _ = generate(model=bare, size="2048x1152")
    assert generated.shape[0] == 1
    assert posts(hub, V2_PATH)[0].json()["model"] == sent


@pytest.mark.parametrize("model", ["openai/gpt-image-2", "gpt-image-2.6-flare", "openai/gpt-image-2.5-sunburst"])
def test_a_gpt_edit_through_the_hub_is_refused_before_sending_naming_the_models_that_can(hub, model):
    with pytest.raises(InputError) as caught:
        edit(model=model)
    text = str(caught.value)
    assert "cannot be used for image edits; use one of: " + GEMINI in text
    assert hub.requests == []


def test_an_unknown_bare_name_is_sent_as_typed(hub):
    error = failure(edit, model="flux-pro")
    assert error.status == 400 and "Invalid model format: flux-pro, should be {provider}/{model}" in error.message
    assert posts(hub, NATIVE_PATH)[0].json()["input"]["modelOptions"]["model"] == "flux-pro"


# --- retired and unknown models --------------------------------------------------------------------


@pytest.mark.parametrize(
    "model,day", [("openai/dall-e-3", "2026-05-12"), ("dall-e-2", "2026-05-12"), ("openai/gpt-image-1", "2026-10-23")]
)
def test_a_retired_model_fails_before_sending_and_names_its_successor(hub, model, day):
    for run in (generate, edit):
        with pytest.raises(InputError) as caught:
            run(model=model)
        assert f"retired openai/{model.split('/')[-1]} on {day}; use openai/gpt-image-2" in str(caught.value)
    assert hub.requests == []


def test_an_upstream_404_lists_the_hubs_image_models(hub):
    error = failure(generate, model="openai/gpt-image-3")
    assert error.status == 404 and "The model `gpt-image-3` does not exist" in error.message
    assert error.hint.startswith("image models the server lists now: google/gemini-3-pro-image, ")
    assert "ideogram/ideogram-v3" in error.hint
    assert "openai/gpt-5" not in error.hint  # a chat model
    assert [r.path for r in hub.requests] == [V2_PATH, "/api/ai-providers/models"]


def test_a_model_no_provider_serves(hub):
    error = failure(generate, model="acme/painter-9")
    assert error.status == 404 and "No available provider for model: acme/painter-9" in error.message
    assert "openai/gpt-image-2" in error.hint


def test_a_model_retired_upstream_after_the_catalogue_was_checked(hub, monkeypatch):
    set_today(monkeypatch, datetime.date(2026, 11, 29))  # the pack's catalogue still serves gpt-image-1.5 then
    hub.upstream.today = datetime.date(2026, 12, 2)  # while OpenAI has shut it down
    error = failure(generate, model="openai/gpt-image-1.5")
    assert error.status == 404 and "gpt-image-1.5" in error.message
    assert error.hint.startswith(
        "openai/gpt-image-1.5 is retired; use openai/gpt-image-2.6-sunburst; image models the server lists now:"
    )
    assert "openai/gpt-image-1.5" not in error.hint.split("now:")[1]


def test_a_near_shutdown_is_in_the_info(hub, monkeypatch):
    set_today(monkeypatch, datetime.date(2026, 11, 29))
    _, info = generate(model="openai/gpt-image-1.5", size="1024x1536")
    assert (
        '"notice": "openai/gpt-image-1.5 shuts down on 2026-12-01 (in 2 days); move to openai/gpt-image-2.6-sunburst"'
        in info
    )


# --- edits on the native route -----------------------------------------------------------------


def test_edit_goes_to_the_native_route_with_file_contents(hub, progress):
    image, info = edit(unique_id="7")
    assert image.shape == (1, 1024, 1536, 3)  # the model keeps the input's (wide) shape
    assert [r.path for r in hub.requests] == ["/api/ai-providers/models", NATIVE_PATH]  # auto: the hub's list
    (request,) = posts(hub)
    body = request.json()
    (picture,) = body["input"].pop("image")
    assert body == {
        "input": {
            "prompt": "make it night",
            "n": 1,
            "size": "auto",
            "outputFileType": "file",
            "modelOptions": {"model": GEMINI},
        }
    }
    assert (
        picture["type"] == "file" and picture["mimeType"] == "image/png" and picture["data"].startswith("iVBORw0KGgo")
    )
    assert f'"modelWithProvider": "{GEMINI}"' in info and '"aigneHubCredits": 4.0' in info
    assert f'"model_chosen": "auto -> {GEMINI}"' in info
    assert f"auto -> {GEMINI}" in progress[-1][1]


def test_edit_sends_every_image(hub):
    image, _ = edit(image=torch.rand(2, 64, 96, 3), image_2=torch.rand(1, 40, 40, 3), model=GEMINI)
    assert image.shape[0] == 1
    payload = posts(hub)[0].json()["input"]
    assert len(payload["image"]) == 3 and all(item["type"] == "file" for item in payload["image"])
    assert payload["modelOptions"] == {"model": GEMINI}


def test_auto_edits_with_the_next_google_model_the_hub_serves(hub, monkeypatch):
    monkeypatch.delitem(emulator.GOOGLE_MODELS, GEMINI)
    image, info = edit()
    assert posts(hub)[0].json()["input"]["modelOptions"]["model"] == "google/gemini-3-pro-image"


def test_auto_with_a_hub_serving_no_model_that_can_edit_says_which_it_serves(hub, monkeypatch):
    monkeypatch.setattr(emulator, "GOOGLE_MODELS", {})
    with pytest.raises(InputError) as caught:
        edit()
    assert "the server lists none of the models auto picks for image edits" in str(caught.value)
    assert "choose one it lists: ideogram/ideogram-v3" in str(caught.value)
    assert posts(hub) == []


def test_edit_n_images_from_n_calls(hub):
    image, info = edit(n=2)
    assert image.shape[0] == 2 and len(posts(hub, NATIVE_PATH)) == 2
    assert '"calls": 2' in info and '"aigneHubCredits": 8.0' in info


def test_edit_result_really_derives_from_the_input(hub):
    white = torch.ones(1, 32, 32, 3)
    image, _ = edit(image=white)
    assert image.mean() > 0.5  # a tinted white, not a fresh generation


def test_a_hub_without_the_native_route(hub):
    del hub.routes[("POST", NATIVE_PATH)]
    error = failure(edit)
    assert error.status == 404 and NATIVE_PATH in error.hint and len(posts(hub)) == 1


def test_the_native_route_refuses_what_the_framework_refuses(hub):
    auth = {"Authorization": f"Bearer {KEY}"}
    url = hub.base_url + NATIVE_PATH
    assert requests.post(url, json={"prompt": "x"}, headers=auth, timeout=10).status_code == 400  # no input object
    reply = requests.post(
        url, json={"input": {"prompt": "x", "image": ["data:image/png;base64,AAAA"]}}, headers=auth, timeout=10
    )
    assert reply.status_code == 400 and "FileContent" in reply.json()["error"]
    reply = requests.post(url, json={"input": {"prompt": "x"}}, headers=auth, timeout=10)  # no model: the hub's default
    assert reply.status_code == 404 and "dall-e-2" in reply.json()["error"]["message"]


# --- validation: refused before any request ----------------------------------------------------

GENERATE_REFUSALS = [
    ({"prompt": "  "}, "prompt is empty"),
    ({"model": ""}, "model is empty"),
    ({"n": 0}, "from 1 to 10"),
    ({"n": 11}, "from 1 to 10"),
    ({"size": "1800x1024"}, "multiples of 16"),
    ({"model": "openai/gpt-image-1.5"}, "its maker retired openai/gpt-image-1.5 on 2026-12-01"),
    ({"quality": "ultra"}, "openai/gpt-image-2 does not accept quality"),
    ({"background": "transparent"}, "openai/gpt-image-2 does not accept background"),
    ({"model": "acme/painter", "output_compression": 50}, "output_compression applies only to jpeg and webp"),
    ({"model": "google/some-model", "size": "huge"}, "WIDTHxHEIGHT"),
    ({"model": "ideogram/ideogram-v3", "response_format": "png"}, "b64_json, url"),
    ({"path": "api/images/generations"}, "starting with /"),
    ({"path": "https://elsewhere.example/api"}, "starting with /"),
    ({"path": "/api/../admin"}, "starting with /"),
]


@pytest.mark.parametrize("inputs,words", GENERATE_REFUSALS, ids=[str(i) for i, _ in GENERATE_REFUSALS])
def test_generate_refuses_before_sending(hub, inputs, words):
    with pytest.raises(InputError, match="nothing was sent") as caught:
        generate(**inputs)
    assert words in str(caught.value)
    assert hub.requests == []


EDIT_REFUSALS = [
    ({"prompt": ""}, "prompt is empty"),
    ({"n": 11}, "from 1 to 10"),
    ({"size": "1024x1024"}, "size 1024x1024 is not allowed for google/gemini-nano-banana-2.1; use one of: auto"),
    ({"image": torch.rand(1, 8, 8, 4)}, "RGB"),
    ({"image_2": torch.rand(8, 8, 3)}, "image_2"),
]


@pytest.mark.parametrize("inputs,words", EDIT_REFUSALS, ids=[str(sorted(i)) + w for i, w in EDIT_REFUSALS])
def test_edit_refuses_before_sending(hub, inputs, words):
    with pytest.raises(InputError, match="nothing was sent") as caught:
        edit(**inputs)
    assert words in str(caught.value)
    assert hub.requests == []


def test_the_edit_node_offers_no_option_the_hub_cannot_pass_on():
    names = set(Edit.INPUT_TYPES()["required"])
    assert not names & {
        "moderation",
        "input_fidelity",
        "response_format",
    }  # refused on OpenAI's edit endpoint or dropped


def test_edit_over_the_hubs_body_cap_is_refused(hub, monkeypatch):
    monkeypatch.setattr(aigne, "MAX_BODY_BYTES", 2000)
    with pytest.raises(InputError, match="AIGNE Hub accepts at most"):
        edit(image=torch.rand(1, 64, 64, 3))
    assert hub.requests == []


def test_missing_base_url_names_the_variable(hub, monkeypatch):
    monkeypatch.delenv("AIGNE_HUB_BASE_URL")
    error = failure(generate)
    assert "no base URL" in error.message and "AIGNE_HUB_BASE_URL" in str(error)
    assert hub.requests == []
    trusted = hub.base_url.split("//", 1)[1].split("/", 1)[0]  # 127.0.0.1:<port>
    monkeypatch.setenv("HOSTED_IMAGES_TRUSTED_HOSTS", trusted)  # a loopback port, trusted outside the workflow
    image, _ = generate(base_url=hub.base_url)  # the node's own input works instead
    assert image.shape[0] == 1


def test_missing_key_names_the_variable(hub, monkeypatch):
    monkeypatch.delenv("AIGNE_HUB_API_KEY")
    error = failure(generate)
    assert "AIGNE_HUB_API_KEY" in str(error) and hub.requests == []


# --- errors -------------------------------------------------------------------------------------


def test_401_string_envelope(hub, monkeypatch):
    monkeypatch.setenv("AIGNE_HUB_API_KEY", "fake-wrong-aigne-key")
    error = failure(generate)
    text = str(error)
    assert error.status == 401 and "User not authenticated" in text
    assert "AIGNE_HUB_API_KEY" in error.hint and "AIGNE Hub image generation failed" in text
    assert_no_secret(text, ["fake-wrong-aigne-key"])
    assert len(posts(hub)) == 1  # a 401 is not a missing route


def test_400_string_envelope_in_the_hubs_words(hub):
    hub.inject(status=400, message='"n" must be less than or equal to 10', path=V2_PATH)
    error = failure(generate)
    assert error.status == 400 and '"n" must be less than or equal to 10' in str(error)
    assert "model openai/gpt-image-2" in str(error)


def test_nested_envelope(hub):
    hub.inject(status=500, body=b'{"error":{"message":"Upstream provider rate limit exceeded"}}', path=V2_PATH)
    error = failure(generate)
    assert error.status == 500 and "Upstream provider rate limit exceeded" in str(error)
    assert "upstream" in error.hint
    assert len(posts(hub)) == 1  # a 500 is not retried: it may have been billed


def test_402_not_enough_credits_keeps_the_link(hub):
    hub.credits = 0
    error = failure(generate)
    text = str(error)
    link = f"{hub.base_url}/payment/checkout/pay/plink_emulator"
    assert error.status == 402 and "NOT_ENOUGH" in text
    assert "please first buy some credits" in text and text.count(link) == 1
    assert "credits" in error.hint
    assert aigne.credit_message({"error": {"message": "No credits", "type": "NOT_ENOUGH"}}) == "No credits (NOT_ENOUGH)"


def test_429_is_waited_out_then_succeeds(hub):
    hub.inject(status=429, message="Too many requests", headers={"Retry-After": "1"}, path=V2_PATH)
    image, _ = generate()
    assert image.shape[0] == 1 and len(posts(hub)) == 2


def test_503_is_retried(hub):
    hub.inject(status=503, message="Service Unavailable", path=V2_PATH)
    image, _ = generate()
    assert image.shape[0] == 1 and len(posts(hub)) == 2


def test_a_reply_without_images_is_an_error(hub):
    hub.inject(body=b'{"images":[],"data":[],"model":"gpt-image-2","usage":{"aigneHubCredits":null}}', path=V2_PATH)
    error = failure(generate)
    assert "no image came back" in str(error)


# --- the key never leaks ------------------------------------------------------------------------


def test_key_is_in_no_output_and_no_log(hub, pack_logs):
    outputs = [generate(model="ideogram/ideogram-v3", response_format="url")[1], edit()[1]]
    for setup in (
        lambda: setattr(hub, "credits", 0),
        lambda: hub.inject(status=500, message=f"echo Bearer {KEY}", path=V2_PATH),
    ):
        setup()
        with pytest.raises(RemoteImageError) as caught:
            generate()
        outputs.append(str(caught.value))
        hub.credits = 1000
    for text in outputs:
        assert_no_secret(text)
    for record in pack_logs.records:
        assert_no_secret(record.getMessage())
    assert not any(d["authorization"] for d in hub.downloads)


# --- the emulator itself: the hub's exact answers -----------------------------------------------


def test_emulator_answers_in_the_hubs_words(hub):
    url = hub.base_url + V2_PATH
    auth = {"Authorization": f"Bearer {KEY}"}
    assert requests.post(url, json={"prompt": "x"}).json() == {"error": "User not authenticated"}
    cases = [
        ({}, '"prompt" is required'),
        ({"prompt": ""}, '"prompt" is not allowed to be empty'),
        ({"prompt": "x", "n": 11}, '"n" must be less than or equal to 10'),
        ({"prompt": "x", "n": 0}, '"n" must be greater than or equal to 1'),
        ({"prompt": "x", "image": 5}, '"image" must be one of [string, array]'),
        ({"prompt": "x", "image": ["data:,", 5]}, '"image[1]" must be a string'),
    ]
    for body, words in cases:
        reply = requests.post(url, json=body, headers=auth)
        assert (reply.status_code, reply.json()) == (400, {"error": words})
    reply = requests.post(url, json={"prompt": "x", "model": "openai/gpt-image-2", "size": "1000x1000"}, headers=auth)
    assert reply.status_code == 400 and "divisible by 16" in reply.json()["error"]["message"]  # OpenAI's words, relayed
    reply = requests.post(url, json={"prompt": "x", "model": "openai/dall-e-3"}, headers=auth)
    assert reply.status_code == 404 and "dall-e-3" in reply.json()["error"]["message"]
    reply = requests.post(
        url, data=b"{" + b" " * (30 * 1024 * 1024) + b"}", headers={**auth, "Content-Type": "application/json"}
    )
    assert reply.status_code == 413
    reply = requests.post(
        url, json={"prompt": "x", "model": "ideogram/ideogram-v3", "response_format": "url"}, headers=auth
    )
    body = reply.json()
    assert set(body) == {"images", "data", "model", "usage"} and "url" in body["data"][0]
    assert requests.get(body["data"][0]["url"]).headers["Content-Type"] == "image/png"
    listed = requests.get(hub.base_url + "/api/ai-providers/models?type=image", timeout=10).json()
    assert {entry["type"] for entry in listed} == {"image_generation"} and "openai/gpt-image-2" in {
        e["key"] for e in listed
    }
    hub.credits = 0
    reply = requests.post(url, json={"prompt": "x"}, headers=auth)
    assert reply.status_code == 402 and reply.json()["error"]["type"] == "NOT_ENOUGH"


def test_parse_every_reply_shape_as_plain_dicts():
    png = mod("nodes.emulator.synth").generate("x", 8, 8)
    b64 = mod("nodes.core.payloads").b64encode(png)
    openai_shape = aigne.parse_images({"created": 1, "data": [{"url": "https://cdn.example/a.png"}, {"b64_json": b64}]})
    assert [i.url for i in openai_shape.images] == ["https://cdn.example/a.png", None] and openai_shape.images[
        1
    ].data == png
    hub_only_images = aigne.parse_images(
        {"images": [{"b64Json": b64}], "model": "gpt-image-2", "usage": {"aigneHubCredits": 1}}
    )
    assert hub_only_images.images[0].data == png and set(hub_only_images.info) == {"model", "usage"}
    native = aigne.parse_native(
        {
            "images": [
                {"type": "file", "data": b64, "mimeType": "image/png"},
                {"type": "url", "url": "https://cdn.example/b.png"},
            ],
            "usage": {"inputTokens": 3},
            "modelWithProvider": "openai/gpt-image-2",
        }
    )
    assert (
        native.images[0].data == png
        and native.images[1].url == "https://cdn.example/b.png"
        and set(native.info) == {"usage", "modelWithProvider"}
    )
    with pytest.raises(RemoteImageError, match="neither a file nor a url"):
        aigne.parse_native({"images": [{"type": "local", "path": "/tmp/x.png"}]})


def test_a_key_echoed_by_the_hub_is_redacted(hub, pack_logs):
    hub.inject(status=400, message=f"bad key {KEY}", path=V2_PATH)
    error = failure(generate)
    assert "bad key ***" in str(error)
    for record in pack_logs.records:
        assert_no_secret(record.getMessage())

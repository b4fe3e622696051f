"""AIGNE Hub: both paths, both reply shapes, every base64 alias, links, validation, errors, keys."""

from __future__ import annotations

import pytest
import requests
import torch

from conftest import FAKE_KEYS, assert_no_secret, mod, run_node

KEY = FAKE_KEYS["AIGNE_HUB_API_KEY"]
MOUNT = "/app/ai-kit"  # a hub's base URL includes its mount path
SEED_PATH = "/api/images/generations"
HUB_PATH = "/api/v2/image/generations"

aigne_nodes = mod("nodes.aigne")
aigne = mod("nodes.providers.aigne")
emulator = mod("nodes.emulator.aigne")
RemoteImageError = mod("nodes.core.errors").RemoteImageError
InputError = mod("nodes.core.errors").InputError
Generate = aigne_nodes.AigneHubImageGenerate
Edit = aigne_nodes.AigneHubImageEdit


@pytest.fixture(scope="module")
def hub_server():
    """One server for the module (stopping one takes half a second); each test mounts a fresh app."""
    server = mod("nodes.emulator.server").EmulatorServer({MOUNT: emulator.AigneHubApp(key=KEY)}).start()
    yield server
    server.stop()


@pytest.fixture
def hub(hub_server, monkeypatch):
    """A fresh local AIGNE Hub under a mount path, with the environment pointing at it; yields the app."""
    app = emulator.AigneHubApp(key=KEY)
    app.base_url = hub_server.url + MOUNT
    hub_server.apps = {MOUNT: app}
    monkeypatch.setenv("AIGNE_HUB_API_KEY", KEY)
    monkeypatch.setenv("AIGNE_HUB_BASE_URL", app.base_url)
    return app


def generate(**inputs):
    values = {
        "prompt": "a red fox in the snow",
        "model": "dall-e-2",
        "size": "256x256",
        "n": 1,
        "quality": "standard",
        "style": "vivid",
        "response_format": "b64_json",
        "seed": 0,
    }
    values.update(inputs)
    return run_node(Generate, **values)


def edit(**inputs):
    values = {"image": torch.rand(1, 48, 64, 3), "prompt": "make it night", "model": "gpt-image-1", "size": "auto", "n": 1, "seed": 0}
    values.update(inputs)
    return run_node(Edit, **values)


def posts(app):
    return [r for r in app.requests if r.method == "POST"]


def failure(function, **inputs) -> RemoteImageError:
    with pytest.raises(RemoteImageError) as caught:
        function(**inputs)
    text = str(caught.value)
    assert_no_secret(text)
    return caught.value


# --- success: paths, shapes, aliases, links ---------------------------------------------------


def test_seed_path_and_shape_with_base64(hub):
    image, info = generate(n=2)
    assert image.shape == (2, 256, 256, 3) and image.dtype == torch.float32
    (request,) = posts(hub)
    assert request.path == SEED_PATH
    assert request.bearer == KEY and request.headers["content-type"].startswith("application/json")
    # exactly the documented fields; quality and style only go to dall-e-3
    assert request.json() == {"prompt": "a red fox in the snow", "model": "dall-e-2", "n": 2, "size": "256x256", "response_format": "b64_json"}
    assert '"created"' in info


@pytest.mark.parametrize("keys", [("b64_json",), ("base64",), ("b64Json",), emulator.B64_KEYS], ids="+".join)
def test_hub_path_and_shape_with_each_base64_alias(hub, keys):
    hub.b64_keys = keys
    image, info = generate(path=HUB_PATH, size="512x512")
    assert image.shape == (1, 512, 512, 3)
    assert posts(hub)[0].path == HUB_PATH
    assert '"model": "dall-e-2"' in info and '"aigneHubCredits": 2.0' in info


@pytest.mark.parametrize("shape", ["seed", "hub"])
@pytest.mark.parametrize("path", [SEED_PATH, HUB_PATH, "/api/v2/images/generations"])
def test_every_path_in_every_shape(hub, shape, path):
    hub.shape = shape
    image, info = generate(path=path)
    assert image.shape == (1, 256, 256, 3)
    assert ('"created"' in info) == (shape == "seed")


@pytest.mark.parametrize("shape", ["seed", "hub"])
def test_url_results_are_downloaded_at_once_without_the_key(hub, shape):
    hub.shape = shape
    image, _ = generate(response_format="url", n=3)
    assert image.shape == (3, 256, 256, 3)
    assert len(hub.downloads) == 3
    assert not any(d["authorization"] for d in hub.downloads), "the hub's key went to the image host"
    for request in hub.requests:
        if request.method == "GET":
            assert "authorization" not in request.headers and KEY not in request.path


def test_hub_answering_base64_when_url_was_asked_for(hub):
    hub.base64_for_url = True
    image, _ = generate(response_format="url", path=HUB_PATH)
    assert image.shape == (1, 256, 256, 3) and hub.downloads == []


def test_expired_link_gives_a_clear_error(hub, monkeypatch):
    real_link = hub._link

    def expiring_link(data):  # the link is dead by the time the client fetches it
        url = real_link(data)
        hub.expire_links()
        return url

    monkeypatch.setattr(hub, "_link", expiring_link)
    error = failure(generate, response_format="url")
    assert error.status == 403
    assert "expired" in error.message and "about an hour" in error.message
    assert "AuthenticationFailed" not in error.message  # a link's body is never quoted: it could be anything
    assert "b64_json" in error.hint


def test_dall_e_3_hd_sends_quality_and_style(hub):
    image, _ = generate(model="dall-e-3", size="1792x1024", quality="hd", style="natural")
    assert image.shape == (1, 1024, 1792, 3)
    body = posts(hub)[0].json()
    assert body["quality"] == "hd" and body["style"] == "natural" and body["model"] == "dall-e-3"


def test_provider_model_names_follow_the_bare_models_rules(hub):
    image, _ = generate(model="openai/dall-e-3", size="1024x1792", path=HUB_PATH)
    assert image.shape == (1, 1792, 1024, 3)
    body = posts(hub)[0].json()
    assert body["model"] == "openai/dall-e-3" and body["quality"] == "standard"
    with pytest.raises(InputError, match="n must be 1"):
        generate(model="openai/dall-e-3", size="1024x1024", n=2)
    with pytest.raises(InputError, match="1024x1024, 1792x1024, 1024x1792"):
        generate(model="openai/dall-e-3", size="512x512")
    assert len(posts(hub)) == 1


def test_gpt_image_1_and_other_hub_models(hub):
    image, _ = generate(model="gpt-image-1", size="1536x1024", n=2)
    assert image.shape == (2, 1024, 1536, 3)
    image, _ = generate(model="google/gemini-2.5-flash-image", size="1024x1024", response_format="url", path=HUB_PATH)
    assert image.shape == (1, 1024, 1024, 3)
    # GPT image models refuse response_format (they always answer base64); others get it
    assert [set(r.json()) for r in posts(hub)] == [{"prompt", "model", "n", "size"}, {"prompt", "model", "n", "size", "response_format"}]


def test_edit_sends_one_image_as_a_string(hub):
    image, info = edit(size="1024x1024", n=2)
    assert image.shape == (2, 1024, 1024, 3)
    body = posts(hub)[0].json()
    assert isinstance(body["image"], str) and body["image"].startswith("data:image/png;base64,")
    assert body == {"prompt": "make it night", "model": "gpt-image-1", "n": 2, "size": "1024x1024", "image": body["image"]}
    assert "aigneHubCredits" not in info  # the seed shape has no usage


def test_edit_sends_several_images_as_an_array(hub):
    image, _ = edit(image=torch.rand(2, 64, 96, 3), image_2=torch.rand(1, 40, 40, 3), model="openai/gpt-image-1", path=HUB_PATH)
    assert image.shape == (1, 1024, 1536, 3)  # auto: the first input is wide
    body = posts(hub)[0].json()
    assert isinstance(body["image"], list) and len(body["image"]) == 3
    assert all(url.startswith("data:image/png;base64,") for url in body["image"])
    assert body["model"] == "gpt-image-1"  # the hub hands images only to this exact name


def test_edit_result_really_derives_from_the_input(hub):
    white = torch.ones(1, 32, 32, 3)
    image, _ = edit(image=white, size="1024x1024")
    assert image.mean() > 0.5  # a tinted white, not a fresh generation


# --- validation: refused before any request ----------------------------------------------------

GENERATE_REFUSALS = [
    ({"prompt": "  "}, "prompt is empty"),
    ({"model": ""}, "model is empty"),
    ({"n": 0}, "from 1 to 10"),
    ({"n": 11}, "from 1 to 10"),
    ({"size": "1792x1024"}, "256x256, 512x512, 1024x1024"),
    ({"model": "dall-e-3", "size": "1024x1024", "n": 2}, "n must be 1"),
    ({"model": "dall-e-3", "size": "256x256"}, "1024x1024, 1792x1024, 1024x1792"),
    ({"model": "dall-e-3", "size": "1024x1024", "quality": "ultra"}, "standard, hd"),
    ({"model": "dall-e-3", "size": "1024x1024", "style": "moody"}, "vivid, natural"),
    ({"model": "gpt-image-1", "size": "512x512"}, "1536x1024"),
    ({"model": "google/some-model", "size": "huge"}, "WIDTHxHEIGHT"),
    ({"response_format": "png"}, "b64_json, url"),
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
    ({"model": "dall-e-2"}, "only to gpt-image-1"),
    ({"model": "openai/dall-e-3"}, "only to gpt-image-1"),
    ({"prompt": ""}, "prompt is empty"),
    ({"n": 11}, "from 1 to 10"),
    ({"size": "1792x1024"}, "1024x1024, 1536x1024, 1024x1536, auto"),
    ({"image": torch.rand(1, 8, 8, 4)}, "RGB"),
    ({"image_2": torch.rand(8, 8, 3)}, "image_2"),
    ({"path": ""}, "starting with /"),
]


@pytest.mark.parametrize("inputs,words", EDIT_REFUSALS, ids=[str(sorted(i)) + w for i, w in EDIT_REFUSALS])
def test_edit_refuses_before_sending(hub, inputs, words):
    with pytest.raises(InputError, match="nothing was sent") as caught:
        edit(**inputs)
    assert words in str(caught.value)
    assert hub.requests == []


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


def test_400_string_envelope_in_the_hubs_words(hub):
    hub.inject(status=400, message='"n" must be less than or equal to 10')
    error = failure(generate)
    assert error.status == 400 and '"n" must be less than or equal to 10' in str(error)
    assert "model dall-e-2" in str(error)


def test_nested_envelope(hub):
    hub.inject(status=500, body=b'{"error":{"message":"Upstream provider rate limit exceeded"}}')
    error = failure(generate, path=HUB_PATH)
    assert error.status == 500 and "Upstream provider rate limit exceeded" in str(error)
    assert "upstream" in error.hint
    assert len(posts(hub)) == 1  # a 500 is not retried: it may have been billed


def test_402_not_enough_credits_keeps_the_link(hub):
    hub.credits = 0
    error = failure(generate, path=HUB_PATH)
    text = str(error)
    link = f"{hub.base_url}/payment/checkout/pay/plink_emulator"
    assert error.status == 402 and "NOT_ENOUGH" in text
    assert "please first buy some credits" in text and text.count(link) == 1
    assert "credits" in error.hint
    assert aigne.credit_message({"error": {"message": "No credits", "type": "NOT_ENOUGH"}}) == "No credits (NOT_ENOUGH)"


def test_404_for_a_wrong_path_hints_at_the_paths(hub):
    error = failure(generate, path="/api/v3/images")
    assert error.status == 404 and HUB_PATH in error.hint and "mount path" in error.hint


def test_429_is_waited_out_then_succeeds(hub):
    hub.inject(status=429, message="Too many requests", headers={"Retry-After": "1"})
    image, _ = generate()
    assert image.shape[0] == 1 and len(posts(hub)) == 2


def test_503_is_retried(hub):
    hub.inject(status=503, message="Service Unavailable")
    image, _ = generate()
    assert image.shape[0] == 1 and len(posts(hub)) == 2


def test_a_reply_without_images_is_an_error(hub):
    hub.inject(body=b'{"images":[],"data":[],"model":"dall-e-2","usage":{"aigneHubCredits":null}}')
    error = failure(generate)
    assert "no image came back" in str(error)


# --- the key never leaks ------------------------------------------------------------------------


def test_key_is_in_no_output_and_no_log(hub, pack_logs):
    outputs = []
    hub.shape = "hub"
    outputs.append(generate(response_format="url")[1])
    outputs.append(edit()[1])
    for setup in (lambda: setattr(hub, "credits", 0), lambda: hub.inject(status=500, message=f"echo Bearer {KEY}")):
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
    url = hub.base_url + HUB_PATH
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
    reply = requests.post(url, json={"prompt": "x", "model": "dall-e-3", "n": 2}, headers=auth)
    assert reply.status_code == 400 and reply.json()["error"]["message"] == "You must provide n=1 for this model."
    reply = requests.post(url, json={"prompt": "x", "model": "gpt-image-1", "image": "iVBORw0KGgo="}, headers=auth)
    assert reply.status_code == 500 and reply.json() == {"error": {"message": "Invalid URL"}}
    reply = requests.post(url, data=b"{" + b" " * (30 * 1024 * 1024) + b"}", headers={**auth, "Content-Type": "application/json"})
    assert reply.status_code == 413
    reply = requests.post(url, json={"prompt": "x", "response_format": "url"}, headers=auth)
    body = reply.json()
    assert set(body) == {"images", "data", "model", "usage"} and "url" in body["data"][0]
    assert requests.get(body["data"][0]["url"]).headers["Content-Type"] == "image/png"
    hub.credits = 0
    reply = requests.post(url, json={"prompt": "x"}, headers=auth)
    assert reply.status_code == 402 and reply.json()["error"]["type"] == "NOT_ENOUGH"


def test_parse_images_reads_both_shapes_as_plain_dicts():
    png = mod("nodes.emulator.synth").generate("x", 8, 8)
    b64 = mod("nodes.core.payloads").b64encode(png)
    seed = aigne.parse_images({"created": 1, "data": [{"url": "https://cdn.example/a.png"}, {"b64_json": b64}]})
    assert [i.url for i in seed.images] == ["https://cdn.example/a.png", None] and seed.images[1].data == png
    hub_only_images = aigne.parse_images({"images": [{"b64Json": b64}], "model": "dall-e-2", "usage": {"aigneHubCredits": 1}})
    assert hub_only_images.images[0].data == png and set(hub_only_images.info) == {"model", "usage"}


def test_a_key_echoed_by_the_hub_is_redacted(hub, pack_logs):
    hub.inject(status=400, message=f"bad key {KEY}")
    error = failure(generate)
    assert "bad key ***" in str(error)
    for record in pack_logs.records:
        assert_no_secret(record.getMessage())

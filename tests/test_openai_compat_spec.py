"""The OpenAI-compatible wire format against OpenAI's published spec (../shared/specs).

Requests: every request the nodes send in test_openai_compat.py is checked there; here the check
itself is shown to bite. Replies: the local server's replies are valid ``ImagesResponse``,
``ListModelsResponse`` and ``ErrorResponse`` objects, and every ``ImagesResponse`` variant
(b64_json, url, revised_prompt, usage) decodes.
"""

from __future__ import annotations

import pytest
import requests

import openai_spec
from conftest import FAKE_KEYS, mod

KEY = FAKE_KEYS["OPENAI_API_KEY"]
wire = mod("nodes.providers.openai_wire")
api = mod("nodes.providers.openai_compat")
Part = mod("nodes.emulator.server").Part


@pytest.fixture(scope="module")
def server():
    app = mod("nodes.emulator.openai_compat").OpenAIApp(token=KEY)
    running = mod("nodes.emulator.server").EmulatorServer({"": app}).start()
    yield running
    running.stop()


def _post(server, body):
    reply = requests.post(f"{server.url}/v1/images/generations", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    return reply.status_code, reply.json()


def test_spec_checks_are_live():
    openai_spec.require_spec()
    assert openai_spec.errors("CreateImageRequest", {"prompt": "p", "model": "gpt-image-1", "size": "1024x1024"}) == []
    assert openai_spec.errors("CreateImageRequest", {"prompt": "p", "quality": "ultra"})
    assert openai_spec.errors("CreateImageRequest", {"model": "gpt-image-1"})  # no prompt
    with pytest.raises(AssertionError, match="seed: not a field of CreateImageRequest"):
        openai_spec.check("CreateImageRequest", {"prompt": "p", "seed": 1})
    with pytest.raises(AssertionError, match="sent as text, but the schema's image is a file"):
        openai_spec.form_instance([Part("prompt", b"p"), Part("image", b"data:image/png;base64,AAAA")])
    with pytest.raises(AssertionError, match="n: '2' is not of type 'integer'"):
        openai_spec.check("CreateImageEditRequest", {"prompt": "p", "image": b"x", "n": "2"})


def test_multipart_fields_map_onto_the_edit_schema():
    openai_spec.require_spec()
    fields = api.check_edit(model="gpt-image-1", prompt="p", n=2, size="1024x1536", quality="high", output_format="webp", output_compression=80)
    parts = [Part(name, value[1], value[0], value[2]) if isinstance(value, tuple) else Part(name, str(value).encode())
             for name, value in api.edit_fields(fields, [b"one", b"two"], b"mask")]
    instance = openai_spec.form_instance(parts)
    assert instance == {"model": "gpt-image-1", "prompt": "p", "n": 2, "size": "1024x1536", "quality": "high",
                        "output_format": "webp", "output_compression": 80, "image": [b"one", b"two"], "mask": b"mask"}
    openai_spec.check("CreateImageEditRequest", instance)


@pytest.mark.parametrize("model", ["gpt-image-1", "dall-e-2", "dall-e-3", "some-other-model"])
def test_every_generation_option_the_pack_can_send_is_in_the_spec(model):
    """All bodies the builder accepts for a model, one option at a time, pass the schema."""
    openai_spec.require_spec()
    options = {"quality": api.QUALITIES, "style": api.STYLES, "background": api.BACKGROUNDS,
               "output_format": api.OUTPUT_FORMATS, "response_format": api.RESPONSE_FORMATS, "size": ["auto", "1024x1024", "256x256", "1792x1024"]}
    sent = 0
    for name, values in options.items():
        for value in values:
            try:
                body = api.generation_body(model=model, prompt="p", **{name: value})
            except api.InputError:
                continue
            openai_spec.check("CreateImageRequest", body)
            sent += 1
    assert sent >= 5


# --- replies ------------------------------------------------------------------------------------


def test_b64_json_with_usage(server):
    openai_spec.require_spec()
    status, body = _post(server, {"model": "gpt-image-1", "prompt": "p", "size": "1024x1024", "quality": "low"})
    assert status == 200 and openai_spec.errors("ImagesResponse", body) == []
    result = wire.parse_images(body)
    assert result.images[0].data.startswith(b"\x89PNG") and result.images[0].url is None
    assert result.info["usage"]["total_tokens"] > 0 and '"input_tokens_details"' in result.describe()


def test_url_variant(server):
    openai_spec.require_spec()
    status, body = _post(server, {"model": "dall-e-2", "prompt": "p", "size": "256x256", "n": 2})
    assert status == 200 and openai_spec.errors("ImagesResponse", body) == []
    result = wire.parse_images(body)
    assert [item.data for item in result.images] == [None, None]
    assert all(item.url.startswith(f"{server.url}/files/") for item in result.images)


def test_revised_prompt_variant(server):
    openai_spec.require_spec()
    status, body = _post(server, {"model": "dall-e-3", "prompt": "a fox", "response_format": "b64_json"})
    assert status == 200 and openai_spec.errors("ImagesResponse", body) == []
    result = wire.parse_images(body)
    assert result.info["revised_prompt"] == "A detailed rendering of: a fox" and result.images[0].data


def test_model_list_and_error_object(server):
    openai_spec.require_spec()
    models = requests.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert openai_spec.errors("ListModelsResponse", models) == []
    assert "gpt-image-1" in wire.parse_model_ids(models)
    for status, body in (_post(server, {"model": "dall-e-3", "prompt": "p", "n": 4}), _post(server, {"model": "nope", "prompt": "p"})):
        assert status in (400, 404) and openai_spec.errors("ErrorResponse", body) == []

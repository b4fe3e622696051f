"""The OpenAI-compatible wire format against OpenAI's published spec (../shared/specs).

Requests: every request the nodes send in test_openai_compat.py is checked there; here the check
itself is shown to bite. Replies: the local server's replies are valid ``ImagesResponse``,
``ListModelsResponse`` and ``ErrorResponse`` objects, and every ``ImagesResponse`` variant
(b64_json with usage, url) decodes.
"""

from __future__ import annotations

import datetime

import pytest
import requests

import openai_spec
from conftest import FAKE_KEYS, TODAY, mod

KEY = FAKE_KEYS["OPENAI_API_KEY"]
wire = mod("nodes.providers.openai_wire")
api = mod("nodes.providers.openai_compat")
catalogue = mod("nodes.providers.catalogue")
Part = mod("nodes.emulator.server").Part


@pytest.fixture(scope="module")
def server():
    app = mod("nodes.emulator.openai_compat").OpenAIAPI(token=KEY, extra_models=("sdxl-local",), today=TODAY)
    running = mod("nodes.emulator.server").EmulatorServer({"": app}).start()
    yield running
    running.stop()


def _post(server, body):
    reply = requests.post(
        f"{server.url}/v1/images/generations", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )
    return reply.status_code, reply.json()


def test_spec_checks_are_live():
    openai_spec.require_spec()
    assert openai_spec.errors("CreateImageRequest", {"prompt": "p", "model": "gpt-image-2", "size": "1536x864"}) == []
    assert openai_spec.errors("CreateImageRequest", {"prompt": "p", "quality": "ultra"})
    assert openai_spec.errors("CreateImageRequest", {"model": "gpt-image-2"})  # no prompt
    with pytest.raises(AssertionError, match="seed: not a field of CreateImageRequest"):
        openai_spec.check("CreateImageRequest", {"prompt": "p", "seed": 1})
    with pytest.raises(AssertionError, match="sent as text, but the schema's image is a file"):
        openai_spec.form_instance([Part("prompt", b"p"), Part("image", b"data:image/png;base64,AAAA")])
    with pytest.raises(AssertionError, match="n: '2' is not of type 'integer'"):
        openai_spec.check("CreateImageEditRequest", {"prompt": "p", "image": b"x", "n": "2"})


def test_multipart_fields_map_onto_the_edit_schema():
    openai_spec.require_spec()
    fields = api.check_edit(
        model="gpt-image-1.5",
        prompt="p",
        n=2,
        size="1024x1536",
        quality="high",
        output_format="webp",
        output_compression=80,
        input_fidelity="high",
        on=datetime.date(2026, 11, 29),  # before gpt-image-1.5, the last model with input_fidelity, shut down
    )
    parts = [
        Part(name, value[1], value[0], value[2]) if isinstance(value, tuple) else Part(name, str(value).encode())
        for name, value in api.edit_fields(fields, [b"one", b"two"], b"mask")
    ]
    instance = openai_spec.form_instance(parts)
    assert instance == {
        "model": "gpt-image-1.5",
        "prompt": "p",
        "n": 2,
        "size": "1024x1536",
        "quality": "high",
        "output_format": "webp",
        "output_compression": 80,
        "input_fidelity": "high",
        "image": [b"one", b"two"],
        "mask": b"mask",
    }
    openai_spec.check("CreateImageEditRequest", instance)


def test_the_spec_lags_behind_the_newest_qualities():
    """The stored spec predates gpt-image-2.5: its quality enum lacks xhigh and max, which the
    check therefore leaves out (and only for those values)."""
    openai_spec.require_spec()
    assert openai_spec.errors("CreateImageRequest", {"prompt": "p", "model": "gpt-image-2.5-flare", "quality": "xhigh"})
    openai_spec.check(
        "CreateImageRequest", api.generation_body(model="gpt-image-2.5-flare", prompt="p", quality="xhigh", on=TODAY)
    )
    with pytest.raises(AssertionError, match="quality"):
        openai_spec.check("CreateImageRequest", {"prompt": "p", "quality": "ultra"})


@pytest.mark.parametrize("model", [*api.CATALOGUE.served(api.GENERATE, TODAY), "some-other-model"])
def test_every_generation_option_the_pack_can_send_is_in_the_spec(model):
    """All bodies the builder accepts for a model, one option at a time, pass the schema."""
    openai_spec.require_spec()
    options = {
        "quality": api.QUALITIES,
        "background": api.BACKGROUNDS,
        "moderation": api.MODERATIONS,
        "output_format": api.OUTPUT_FORMATS,
        "response_format": api.RESPONSE_FORMATS,
        "size": catalogue.size_choices(api.CATALOGUE, api.GENERATE)[:-1],
    }
    sent = 0
    for name, values in options.items():
        for value in values:
            try:
                body = api.generation_body(model=model, prompt="p", on=TODAY, **{name: value})
            except api.InputError:
                continue
            openai_spec.check("CreateImageRequest", body)
            sent += 1
    assert sent >= 5


# --- replies ------------------------------------------------------------------------------------


def test_b64_json_with_usage(server):
    openai_spec.require_spec()
    # a standard size: the spec's ImagesResponse.size enum predates gpt-image-2's free sizes
    status, body = _post(server, {"model": "gpt-image-2", "prompt": "p", "size": "1024x1536", "quality": "low"})
    assert status == 200 and openai_spec.errors("ImagesResponse", body) == []
    result = wire.parse_images(body)
    assert result.images[0].data.startswith(b"\x89PNG") and result.images[0].url is None
    assert result.info["usage"]["total_tokens"] > 0 and '"input_tokens_details"' in result.describe()


def test_url_variant_of_another_server(server):
    openai_spec.require_spec()
    status, body = _post(
        server, {"model": "sdxl-local", "prompt": "p", "size": "256x256", "n": 2, "response_format": "url"}
    )
    assert status == 200 and openai_spec.errors("ImagesResponse", body) == []
    result = wire.parse_images(body)
    assert [item.data for item in result.images] == [None, None]
    assert all(item.url.startswith(f"{server.url}/files/") for item in result.images)


def test_model_list_and_error_object(server):
    openai_spec.require_spec()
    models = requests.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert openai_spec.errors("ListModelsResponse", models) == []
    assert "gpt-image-2" in wire.parse_model_ids(models)
    retired = _post(server, {"model": "gpt-image-1", "prompt": "p"})
    unknown = _post(server, {"model": "nope", "prompt": "p"})
    too_wide = _post(server, {"model": "gpt-image-2", "prompt": "p", "size": "3840x1024"})
    for status, body in (retired, unknown, too_wide):
        assert status in (400, 404) and openai_spec.errors("ErrorResponse", body) == []

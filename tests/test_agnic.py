"""Agnic AI Gateway nodes against the local Agnic server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

import openrouter_spec
from conftest import FAKE_KEYS, assert_no_secret, defaults, journal_calls, mod, run_node

KEY = FAKE_KEYS["AGNIC_API_KEY"]
nodes = mod("nodes.agnic")
agnic = mod("nodes.providers.agnic")
emulator = mod("nodes.emulator.agnic")
synth = mod("nodes.emulator.synth")
RemoteImageError = mod("nodes.core.errors").RemoteImageError
InputError = mod("nodes.core.errors").InputError

GEMINI = "google/gemini-nano-banana-2.1"  # what the nodes' auto becomes at this gateway
FLUX = "black-forest-labs/flux.2-pro"


@pytest.fixture
def app(serve, monkeypatch):
    """A local Agnic gateway as on conftest's TODAY, with the environment pointing at it."""
    agnic_app = emulator.AgnicAPI(token=KEY)
    server = serve(agnic_app)
    monkeypatch.setenv("AGNIC_API_KEY", KEY)
    monkeypatch.setenv("AGNIC_BASE_URL", f"{server.url}/v1")
    yield agnic_app
    if openrouter_spec.spec_path():  # every body any test made the nodes send matches ChatRequest
        for body in sent(agnic_app):
            assert openrouter_spec.errors("ChatRequest", body) == []


def generate(**inputs):
    args = dict(
        model=GEMINI,
        prompt="a red fox in snow",
        aspect_ratio="1:1",
        image_size="auto",
        modalities="image+text",
        count=1,
        seed=0,
    )
    args.update(inputs)
    return run_node(nodes.AgnicImageGenerate, **args)


def edit(image, **inputs):
    args = dict(
        prompt="make it autumn",
        model=GEMINI,
        aspect_ratio="auto",
        image_size="auto",
        modalities="image+text",
        count=1,
        seed=0,
    )
    args.update(inputs)
    return run_node(nodes.AgnicImageEdit, image=image, **args)


def failure(function, *args, **kwargs) -> str:
    with pytest.raises(RemoteImageError) as info:
        function(*args, **kwargs)
    text = str(info.value)
    assert_no_secret(text)
    return text


def sent(app) -> list[dict]:
    return [r.json() for r in app.calls("/v1/chat/completions")]


def halves(width=96, height=64) -> torch.Tensor:
    """Dark left half, bright right half: easy to recognise in an edit."""
    image = torch.zeros(1, height, width, 3)
    image[:, :, width // 2 :, :] = 1.0
    return image


def decode_url(url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


# --- generate -----------------------------------------------------------------------------------


def test_generate_sends_the_contract_body_and_returns_the_image_and_text(app):
    image, text = generate(aspect_ratio="16:9", seed=42)
    assert image.shape == (1, 768, 1344, 3) and image.dtype == torch.float32
    assert float(image.std()) > 0.05, "a real picture, not a flat placeholder"
    assert text == "Here is your image."
    (request,) = app.calls("/v1/chat/completions")
    assert request.bearer == KEY and request.headers["content-type"].startswith("application/json")
    assert request.json() == {
        "model": GEMINI,
        "messages": [{"role": "user", "content": "a red fox in snow"}],
        "modalities": ["image", "text"],
        "image_config": {"aspect_ratio": "16:9"},
        "seed": 42,
    }


@pytest.mark.parametrize("ratio", list(agnic.ASPECT_RATIOS))
def test_every_aspect_ratio_gives_its_resolution(app, ratio):
    image, _ = generate(aspect_ratio=ratio)
    width, height = agnic.ASPECT_RATIOS[ratio]
    assert image.shape == (1, height, width, 3)
    assert sent(app)[0]["image_config"] == {"aspect_ratio": ratio}


def test_image_size_is_sent_for_gemini(app):
    image, _ = generate(model="google/gemini-3-pro-image", aspect_ratio="4:3", image_size="2K")
    assert image.shape == (1, 864 * 2, 1184 * 2, 3)
    assert sent(app)[0]["image_config"] == {"aspect_ratio": "4:3", "image_size": "2K"}


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_png_jpeg_and_webp_data_urls_decode(app, fmt):
    app.image_format = fmt
    image, _ = generate(aspect_ratio="3:2", prompt=f"a {fmt} lighthouse")
    expected = np.asarray(Image.open(io.BytesIO(synth.generate(f"a {fmt} lighthouse", 1248, 832, fmt))).convert("RGB"))
    assert image.shape == (1, 832, 1248, 3)
    assert np.abs(image[0].numpy() * 255 - expected).max() <= 1


def test_each_model_answers_in_its_own_format(app):
    image, text = generate(model="openai/gpt-5-image-mini", aspect_ratio="9:16")  # WebP data URLs
    assert image.shape == (1, 1344, 768, 3) and text


def test_image_only_models_work_with_image_modality(app):
    image, text = generate(model=FLUX, modalities="image", aspect_ratio="21:9")
    assert image.shape == (1, 672, 1536, 3)
    assert text == ""  # content null: no words from an image-only model
    assert sent(app)[0]["modalities"] == ["image"]


def test_count_runs_concurrent_calls_with_successive_seeds_in_order(app):
    app.inject(gather=3, times=3)  # each reply waits until all three calls are in flight
    image, text = generate(count=3, seed=10, aspect_ratio="1:1", prompt="three birds")
    assert app.max_in_flight == 3, "the calls did not run concurrently"
    bodies = sent(app)
    assert sorted(b["seed"] for b in bodies) == [10, 11, 12]
    assert all("n" not in b for b in bodies), "the API has no n"
    assert image.shape == (3, 1024, 1024, 3)
    for index in range(3):  # result i is the image of seed 10 + i
        expected = np.asarray(Image.open(io.BytesIO(synth.generate("three birds", 1024, 1024, "png", 10 + index))))
        assert np.abs(image[index].numpy() * 255 - expected).max() <= 1, index
    assert text == "[1] Here is your image.\n\n[2] Here is your image.\n\n[3] Here is your image."


def test_huge_seeds_are_folded_into_32_bits(app):
    generate(seed=2**40 + 5)
    assert sent(app)[0]["seed"] == (2**40 + 5) % 2**31


def test_a_failed_call_of_several_keeps_the_others(app, tmp_path):
    app.inject(status=500, message="Internal Server Error")
    text = failure(generate, count=2)
    assert "1 of 2 calls failed" in text and "Internal Server Error" in text
    assert list((tmp_path / "unsaved").rglob("result_001.png"))  # conftest's HOSTED_IMAGES_UNSAVED_DIR


# --- replies without an image -----------------------------------------------------------------


def test_a_text_only_refusal_is_an_error_carrying_the_words_and_finish_reason(app):
    app.refuse(text="I cannot draw real people.", finish_reason="content_filter")
    text = failure(generate)
    assert "I cannot draw real people." in text
    assert "content_filter (PROHIBITED_CONTENT)" in text
    assert "Hint:" in text


def test_a_refusal_prompt_triggers_it_too(app):
    assert "can't help" in failure(generate, prompt="[refuse] a portrait")


def test_an_empty_reply_without_images_is_an_error_not_a_blank_image(app):
    body = {
        "id": "gen-1",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": None}}],
    }
    app.inject(body=json.dumps(body).encode())
    text = failure(generate)
    assert "no image" in text and "finish reason: length" in text and "no text either" in text


def test_an_error_inside_a_200_reply_is_reported(app):
    body = {
        "error": {
            "code": 502,
            "message": "Provider returned error",
            "metadata": {"provider_name": "Google", "raw": "overloaded"},
        }
    }
    app.inject(body=json.dumps(body).encode())
    text = failure(generate)
    assert "Provider returned error" in text and "Google" in text and "overloaded" in text


def test_image_only_model_with_text_modality_explains_the_fix(app):
    text = failure(generate, model=FLUX)
    assert "HTTP 404" in text and "No endpoints found that support the requested output modalities" in text
    assert "modalities 'image'" in text


def test_a_text_model_is_a_404_too(app):
    assert "HTTP 404" in failure(generate, model="openai/gpt-4o-mini")


def test_an_unknown_model_is_sent_and_refused_by_the_gateway_which_lists_its_models(app):
    text = failure(generate, model="acme/not-a-model")
    assert "HTTP 400" in text and "acme/not-a-model is not a valid model ID" in text
    assert len(app.calls("/v1/chat/completions")) == 1  # any name is accepted client-side
    assert (
        "image models the server lists now: black-forest-labs/flux.2-klein-4b, " in text
        and "openai/gpt-4o-mini" not in text
    )


# --- today's models: defaults, modalities auto, retired ids -----------------------------------------


def test_a_prompt_and_the_defaults_make_an_image(app, progress):
    generate_node = nodes.AgnicImageGenerate
    image, text = run_node(generate_node, **defaults(generate_node, prompt="a red fox", unique_id="5"))
    assert image.shape == (1, 1024, 1024, 3) and text == "Here is your image."
    # auto: the gateway's list (free) says what it serves, then one billed call with the model it became
    assert [r.path for r in app.requests] == ["/v1/models", "/v1/chat/completions"]
    assert sent(app)[0] == {
        "model": GEMINI,
        "messages": [{"role": "user", "content": "a red fox"}],
        "modalities": ["image", "text"],
        "image_config": {"aspect_ratio": "1:1"},
        "seed": 0,
    }
    assert any("auto -> google/gemini-nano-banana-2.1" in text for _, text in progress)
    assert "auto -> google/gemini-nano-banana-2.1" in progress[-1][1]  # the last line keeps it
    (line,) = journal_calls("agnic")
    assert line["model"] == GEMINI and line["model_chosen"] == "auto"


def test_auto_takes_the_next_preferred_model_the_gateway_serves(app):
    app.gone.add(GEMINI)
    run_node(nodes.AgnicImageGenerate, **defaults(nodes.AgnicImageGenerate, prompt="a red fox"))
    assert sent(app)[0]["model"] == "google/gemini-3-pro-image"


def test_auto_with_a_gateway_serving_none_of_its_models_names_what_it_serves(app):
    app.gone |= {GEMINI, "google/gemini-3-pro-image", "google/gemini-3.1-flash-lite-image", FLUX}
    with pytest.raises(InputError, match="choose one it lists: black-forest-labs/flux.2-klein-4b, "):
        run_node(nodes.AgnicImageGenerate, **defaults(nodes.AgnicImageGenerate, prompt="a red fox"))
    assert sent(app) == []


def test_a_model_named_is_never_swapped_even_when_auto_would_pick_another(app):
    app.gone.add("google/gemini-3-pro-image")
    text = failure(generate, model="google/gemini-3-pro-image")
    assert "google/gemini-3-pro-image is not a valid model ID" in text
    assert [body["model"] for body in sent(app)] == ["google/gemini-3-pro-image"]


@pytest.mark.parametrize(
    "model,expected",
    [
        (FLUX, ["image"]),
        ("sourceful/riverflow-image-only", ["image"]),  # not in the pack's catalogue: the live list decides
        ("openai/gpt-5-image-mini", ["image", "text"]),
    ],
)
def test_modalities_auto_follow_the_gateways_model_list(app, model, expected):
    image, _ = generate(model=model, modalities="auto")
    assert sent(app)[0]["modalities"] == expected and image.shape[0] == 1


@pytest.mark.parametrize("model,expected", [(FLUX, ["image"]), (GEMINI, ["image", "text"])])
def test_modalities_auto_without_modalities_in_the_list_use_the_catalogue(app, model, expected):
    app.models_shape = "openai"  # a plain list: no architecture.output_modalities
    generate(model=model, modalities="auto")
    assert sent(app)[0]["modalities"] == expected


def test_modalities_auto_for_a_model_nobody_describes_asks_for_both():
    assert agnic.model_outputs({"data": [{"id": "acme/new-model"}]}) == {}
    assert agnic.chat_body(model="acme/new-model", prompt="x", live_outputs={})["modalities"] == ["image", "text"]


def test_the_model_list_is_fetched_once_for_several_calls(app):
    generate(modalities="auto", count=2, model="sourceful/riverflow-image-only")
    generate(modalities="auto", model="sourceful/riverflow-image-only")
    assert len(app.calls("/v1/models")) == 1 and len(app.calls("/v1/chat/completions")) == 3


@pytest.mark.parametrize("model", [GEMINI, FLUX, "openai/gpt-5-image-mini"])
def test_modalities_auto_for_a_model_the_catalogue_describes_fetch_no_list(app, model):
    generate(modalities="auto", model=model)
    assert [r.path for r in app.requests] == ["/v1/chat/completions"]


def test_a_call_that_fails_at_once_with_the_defaults_is_one_image_request(app):
    app.credits = 0.0
    text = failure(run_node, nodes.AgnicImageGenerate, **defaults(nodes.AgnicImageGenerate, prompt="a red fox"))
    assert "HTTP 402" in text and [r.path for r in app.requests] == ["/v1/models", "/v1/chat/completions"]


@pytest.mark.parametrize("bad", [dict(count=0), dict(prompt=""), dict(image_size="0.5K"), dict(aspect_ratio="7:3")])
@pytest.mark.parametrize("model", ["auto", GEMINI])
def test_a_bad_input_sends_nothing_not_even_the_model_list(app, bad, model):
    with pytest.raises(InputError):
        generate(modalities="auto", model=model, **bad)
    assert app.requests == []


@pytest.mark.parametrize(
    "ratio,size,expected",
    [
        ("1:8", "auto", (384, 3072)),
        ("8:1", "auto", (3072, 384)),
        ("1:4", "auto", (512, 2048)),
        ("4:1", "2K", (4096, 1024)),
        ("1:1", "4K", (4096, 4096)),
    ],
)
def test_nano_banana_2_1_takes_the_extreme_ratios_and_4k(app, ratio, size, expected):
    image, _ = generate(aspect_ratio=ratio, image_size=size)
    assert image.shape == (1, expected[1], expected[0], 3)
    config = sent(app)[0]["image_config"]
    assert config["aspect_ratio"] == ratio and config.get("image_size", "auto") == size


def test_the_seeds_text_model_is_refused_before_sending(app):
    text = failure(generate, model="google/gemini-2.0-flash")
    assert "google/gemini-2.0-flash cannot be used for image generation; use one of: " + GEMINI in text
    assert app.requests == []


def test_an_id_the_gateway_dropped_names_its_successor_and_the_live_models(app):
    app.gone.add("google/gemini-2.5-flash-image")
    text = failure(generate, model="google/gemini-2.5-flash-image")
    assert "google/gemini-2.5-flash-image is not a valid model ID" in text
    assert (
        "google/gemini-2.5-flash-image is retired; use google/gemini-nano-banana-2.1; "
        "image models the server lists now:" in text
    )


def test_a_model_its_maker_shut_down_is_still_sent_with_a_notice(app, monkeypatch):
    """Whether the gateway still routes an id Google shut down is unknown: it is sent, and the
    node says so in its progress text."""
    lines = []
    monkeypatch.setattr(mod("nodes.core.comfy"), "progress_text", lambda node, text, **_: lines.append(text))
    app.still_routes.add("google/gemini-2.5-flash-image")
    app.inject(delay=0.3, path="/v1/chat/completions")
    image, _ = generate(model="google/gemini-2.5-flash-image", unique_id="9")
    assert image.shape[0] == 1
    assert any(
        "was shut down upstream on 2026-10-02; move to google/gemini-nano-banana-2.1" in line for line in lines
    ), lines


# --- ids Google retired, in saved workflows -------------------------------------------------------


def chat_models(app) -> list[str]:
    return [body["model"] for body in sent(app)]


@pytest.mark.parametrize(
    "chosen,successor",
    [
        ("google/gemini-3.1-flash-image-preview", GEMINI),
        ("google/gemini-3.1-flash-image", GEMINI),
        ("google/gemini-3-pro-image-preview", "google/gemini-3-pro-image"),
    ],
)
def test_a_retired_id_in_a_saved_workflow_is_sent_as_named_and_its_refusal_names_the_successor(app, chosen, successor):
    """The gateway may still route an id Google shut down: it is sent once, never swapped; its
    "not a valid model ID" names the successor and what the gateway lists (a 400 is not billed)."""
    text = failure(generate, model=chosen, modalities="image+text")
    assert f"{chosen} is not a valid model ID" in text and f"{chosen} is retired; use {successor}" in text
    assert chat_models(app) == [chosen]


def test_nano_banana_2_1_has_no_half_k_and_says_which_sizes_it_takes(app):
    text = str(pytest.raises(InputError, generate, image_size="0.5K").value)
    assert "image_size '0.5K' is not allowed for google/gemini-nano-banana-2.1; use one of: auto, 1K, 2K, 4K" in text
    assert app.requests == []


# --- edit ---------------------------------------------------------------------------------------


def test_edit_sends_text_then_data_url_parts_and_derives_from_the_input(app):
    image, text = edit(halves(96, 64))
    (body,) = sent(app)
    assert body["modalities"] == ["image", "text"] and "image_config" not in body  # auto: not sent
    (message,) = body["messages"]
    text_part, image_part = message["content"]
    assert text_part == {"type": "text", "text": "make it autumn"}
    assert image_part["type"] == "image_url" and image_part["image_url"]["url"].startswith("data:image/png;base64,")
    uploaded = np.asarray(decode_url(image_part["image_url"]["url"]))
    assert uploaded.shape == (64, 96, 3) and uploaded[:, :48].max() == 0 and uploaded[:, 48:].min() == 255
    assert image.shape == (1, 832, 1248, 3)  # 3:2 is nearest to 96x64
    left, right = image[0, :, :600].mean(), image[0, :, 650:].mean()
    assert right - left > 0.3, "the edit keeps the input's dark and bright halves"
    assert text == "Here is your image."


def test_edit_sends_every_batch_item_and_the_extra_images_in_order(app):
    batch = torch.stack([torch.full((32, 32, 3), v) for v in (0.0, 0.5)])
    extra = torch.full((1, 20, 40, 3), 1.0)
    image, _ = edit(batch, image_2=extra, aspect_ratio="16:9", count=2, seed=3)
    assert image.shape == (2, 768, 1344, 3)
    bodies = sent(app)
    assert len(bodies) == 2 and sorted(b["seed"] for b in bodies) == [3, 4]
    for body in bodies:
        assert body["image_config"] == {"aspect_ratio": "16:9"}
        parts = body["messages"][0]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url", "image_url", "image_url"]
        pictures = [decode_url(p["image_url"]["url"]) for p in parts[1:]]
        assert [p.size for p in pictures] == [(32, 32), (32, 32), (40, 20)]
        assert [np.asarray(p)[0, 0, 0] for p in pictures] == [0, 128, 255]


def test_edit_with_an_image_only_model(app):
    image, text = edit(halves(), model=FLUX, modalities="image", aspect_ratio="1:1")
    assert image.shape == (1, 1024, 1024, 3) and text == ""


# --- list models --------------------------------------------------------------------------------


def test_list_models_keeps_image_models_when_modalities_are_listed(app):
    (models,) = run_node(nodes.AgnicListModels)
    ids = models.split("\n")
    assert GEMINI in ids and FLUX in ids
    assert "openai/gpt-4o-mini" not in ids and "anthropic/claude-sonnet-4.5" not in ids
    assert app.calls("/v1/models")[0].bearer == KEY


def test_list_models_keeps_everything_from_a_plain_openai_list(app):
    app.models_shape = "openai"
    (models,) = run_node(nodes.AgnicListModels)
    assert sorted(models.split("\n")) == sorted(app.served()) and GEMINI in app.served()


def test_list_models_filter(app):
    (models,) = run_node(nodes.AgnicListModels, filter="GEMINI")
    assert models.split("\n") == [m for m in sorted(app.served()) if "gemini" in m]


# --- refused before sending ---------------------------------------------------------------------

BAD_GENERATE = [
    (dict(prompt="  "), "prompt is empty"),
    (dict(model=""), "model is empty"),
    (dict(aspect_ratio="7:5"), "aspect_ratio '7:5' is not allowed; use one of: 1:1, 16:9"),
    (dict(aspect_ratio="auto"), "aspect_ratio 'auto' is not allowed"),
    (dict(image_size="8K"), "image_size '8K' is not allowed; use one of: auto, 0.5K, 1K, 2K, 4K"),
    (
        dict(model="openai/gpt-5-image-mini", image_size="2K"),
        "openai/gpt-5-image-mini does not accept image_size (set it to 'auto')",
    ),
    (
        dict(model="google/gemini-3-pro-image", image_size="0.5K"),
        "image_size '0.5K' is not allowed for google/gemini-3-pro-image; use one of: auto, 1K, 2K, 4K",
    ),
    (
        dict(model="google/gemini-3-pro-image", aspect_ratio="1:8"),
        "aspect_ratio '1:8' is not allowed for google/gemini-3-pro-image",
    ),
    (dict(modalities="text"), "modalities 'text' is not allowed; use one of: auto, image+text, image"),
    (dict(count=0), "count is 0; it must be a whole number from 1 to 8"),
    (dict(count=9), "count is 9"),
]


@pytest.mark.parametrize("inputs,words", BAD_GENERATE, ids=[w for _, w in BAD_GENERATE])
def test_invalid_generate_inputs_are_refused_before_any_request(app, inputs, words):
    with pytest.raises(InputError) as info:
        generate(**inputs)
    assert words in str(info.value) and "nothing was sent" in str(info.value)
    assert app.requests == []


@pytest.mark.parametrize(
    "image,inputs,words",
    [
        (torch.zeros(1, 8, 8, 4), {}, "convert it to RGB"),
        (halves(), dict(image_2=torch.zeros(8, 8)), "image_2 must be an IMAGE of shape"),
        (halves(), dict(prompt=""), "prompt is empty"),
        (halves(), dict(image_size="4K", model=FLUX), "does not accept image_size"),
        (halves(), dict(count=20), "count is 20"),
    ],
)
def test_invalid_edit_inputs_are_refused_before_any_request(app, image, inputs, words):
    with pytest.raises(InputError) as info:
        edit(image, **inputs)
    assert words in str(info.value)
    assert app.requests == []


def test_a_missing_key_fails_before_sending_and_names_the_variable(app, monkeypatch):
    monkeypatch.delenv("AGNIC_API_KEY")
    text = failure(generate)
    assert "AGNIC_API_KEY" in text and app.requests == []


# --- error envelopes ------------------------------------------------------------------------------


def test_401_in_agnics_shape(app, monkeypatch, pack_logs):
    monkeypatch.setenv("AGNIC_API_KEY", "agnic_tok_wrongwrongwrong")
    text = failure(generate)
    assert "HTTP 401" in text and "invalid_token: Invalid or missing API token" in text and "AGNIC_API_KEY" in text
    assert "agnic_tok_wrong" not in text and "agnic_tok_wrong" not in pack_logs.text


def test_the_gateway_also_takes_the_x_agnic_token_header(app):
    reply = app.handle(mod("nodes.emulator.server").Request("GET", "/v1/models", {}, {"x-agnic-token": KEY}, b""))
    assert reply.status == 200


def test_402_out_of_credits(app):
    app.credits = 0.0
    text = failure(generate)
    assert "HTTP 402" in text and "Insufficient credits" in text and "add credits" in text


def test_402_spending_limit(app):
    app.inject(status=402, message="Key spending limit exceeded")
    text = failure(generate)
    assert "Key spending limit exceeded" in text and "spending limit" in text.split("Hint:")[1]


def test_403_moderation_names_the_reasons(app):
    text = failure(generate, prompt="a forbidden-topic scene")
    assert "HTTP 403" in text and "flagged for: violence" in text and "moderation" in text.split("Hint:")[1]


def test_429_waits_for_the_epoch_ms_reset_then_succeeds(app):
    app.inject(status=429, message="Rate limit exceeded")  # X-RateLimit-Reset = now + 1 s, in ms
    started = time.monotonic()
    image, _ = generate()
    assert image.shape[0] == 1 and len(app.requests) == 2
    assert 0.5 < time.monotonic() - started < 5


def test_429_with_retry_after_then_success(app):
    app.inject(status=429, message="Rate limit exceeded", headers={"Retry-After": "1"})
    generate()
    assert len(app.requests) == 2


def test_429_beyond_the_wait_cap_says_rate_limited(app, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_MAX_RETRY_WAIT", "0.5")
    app.inject(status=429, message="Rate limit exceeded", headers={"Retry-After": "30"})
    text = failure(generate)
    assert "HTTP 429" in text and "Rate limit exceeded" in text and "rate limited by Agnic" in text and "in 30s" in text
    assert len(app.requests) == 1


def test_502_is_retried_then_succeeds(app):
    app.inject(status=502, message="Provider returned error", times=2)
    image, _ = generate()
    assert image.shape[0] == 1 and len(app.requests) == 3


def test_500_is_reported_not_retried(app):
    app.inject(status=500, message="Internal Server Error")
    text = failure(generate)
    assert "HTTP 500" in text and "Internal Server Error (500)" in text and len(app.requests) == 1


def test_a_dropped_connection_is_not_retried(app):
    app.inject(drop=True)
    text = failure(generate)
    assert "may have been billed" in text and len(app.requests) == 1


def test_the_key_appears_nowhere(app, pack_logs):
    _, text = generate(count=2)
    (models,) = run_node(nodes.AgnicListModels)
    app.refuse(text=f"echo {KEY}")  # even a model quoting the key back is scrubbed from the error
    error = failure(generate)
    for blob in (text, models, error, pack_logs.text):
        assert_no_secret(blob)

"""OVH AI Endpoints SDXL node against the local OVH server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time

import numpy
import pytest
import requests
import torch

from conftest import FAKE_KEYS, ROOT, assert_no_secret, hang_ups, mod, run_node

TOKEN_ENV = "OVH_AI_ENDPOINTS_ACCESS_TOKEN"
TOKEN = FAKE_KEYS[TOKEN_ENV]
PROMPT = "Photo of a hippopotamus in a suit sitting in a coffee shop"


def node_class():
    return mod("nodes.ovh").OvhSdxlTextToImage


def provider():
    return mod("nodes.providers.ovh")


def errors():
    return mod("nodes.core.errors")


def emulator():
    return mod("nodes.emulator.ovh")


def generate(**inputs):
    values = {"prompt": PROMPT, "negative_prompt": "Ugly, unrealistic", "count": 1, "seed": 5}
    values.update(inputs)
    return run_node(node_class(), **values)[0]


def start(serve, monkeypatch, **options):
    app = emulator().OvhAPI(token=TOKEN, **options)
    server = serve(app)
    monkeypatch.setenv("OVH_SDXL_URL", f"{server.url}/api/text2image")
    return app


@pytest.fixture
def anonymous(serve, monkeypatch):
    """A local OVH server; no token in the environment."""
    return start(serve, monkeypatch)


@pytest.fixture
def ovh(serve, monkeypatch):
    """A local OVH server with the token set."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return start(serve, monkeypatch)


def jpeg(prompt: str = "injected", variant: int = 0) -> bytes:
    return mod("nodes.emulator.synth").generate(prompt, 1024, 1024, "jpeg", variant)


def progress_lines(logs) -> list[str]:
    return [r.getMessage() for r in logs.records if r.name == "hosted_images" and "OVH AI Endpoints" in r.getMessage()]


# --- success ---------------------------------------------------------------------------------------


def test_anonymous_call_sends_no_authorization_and_says_it_is_limited(anonymous, pack_logs):
    image = generate()
    assert tuple(image.shape) == (1, 1024, 1024, 3) and image.dtype == torch.float32
    (request,) = anonymous.requests
    assert request.method == "POST" and request.path == "/api/text2image"
    assert "authorization" not in request.headers
    assert request.headers["accept"] == "application/octet-stream"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"prompt": PROMPT, "negative_prompt": "Ugly, unrealistic"}
    lines = progress_lines(pack_logs)
    assert lines and all(
        "anonymous: OVH allows 2 calls a minute without OVH_AI_ENDPOINTS_ACCESS_TOKEN" in line for line in lines
    )


def test_token_is_sent_as_bearer_and_no_anonymous_note(ovh, pack_logs):
    image = generate()
    assert tuple(image.shape) == (1, 1024, 1024, 3)
    assert ovh.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    lines = progress_lines(pack_logs)
    assert lines and not any("anonymous" in line for line in lines)
    assert_no_secret("\n".join(r.getMessage() for r in pack_logs.records))


def test_body_is_exactly_prompt_and_negative_prompt_and_no_seed(ovh):
    generate(negative_prompt="", seed=123)
    generate(negative_prompt="  ", seed=124)
    generate(negative_prompt="blurry", seed=125)
    bodies = [r.json() for r in ovh.requests]
    assert bodies == [{"prompt": PROMPT}, {"prompt": PROMPT}, {"prompt": PROMPT, "negative_prompt": "blurry"}]
    # byte-for-byte what the snippet of OVH's doc page sends (json.dumps of the same dict)
    assert ovh.requests[2].body == json.dumps({"prompt": PROMPT, "negative_prompt": "blurry"}).encode()


def test_every_call_gives_a_new_image(ovh):
    first, second = generate(), generate()
    assert (first - second).abs().max() > 0.05


def test_count_runs_one_call_per_image_and_keeps_every_result(ovh):
    images = mod("nodes.core.images")
    batch = generate(count=3)
    assert tuple(batch.shape) == (3, 1024, 1024, 3)
    assert len(ovh.requests) == 3 and all(r.json() == ovh.requests[0].json() for r in ovh.requests)
    sent, _ = images.decode_images([jpeg(PROMPT, variant) for variant in range(3)])
    # each image of the batch is one of the three the server drew, none lost or doubled
    matches = [min(range(3), key=lambda j: float((batch[i] - sent[j]).abs().mean())) for i in range(3)]
    assert sorted(matches) == [0, 1, 2]


def test_count_calls_run_at_once_a_few_at_a_time(ovh):
    """n images from a provider without n: the calls overlap, at most MAX_PARALLEL_CALLS at once.
    Counted at the server, not timed (nodes/cli/bench.py measures the wall-time ratio)."""
    bound = mod("nodes.core.batch").MAX_PARALLEL_CALLS
    ovh.inject(gather=bound, times=bound)  # the first calls wait for each other
    assert generate(count=bound).shape[0] == bound
    assert ovh.max_in_flight == bound
    ovh.reset()
    ovh.inject(gather=bound, times=bound)
    assert generate(count=bound + 2).shape[0] == bound + 2
    assert ovh.max_in_flight == bound and len(ovh.requests) == bound + 2


def test_image_bytes_are_decoded_whatever_the_content_type(ovh):
    ovh.inject(body=jpeg(), content_type="application/json")
    ovh.inject(
        body=mod("nodes.emulator.synth").generate("png", 1024, 1024, "png"), content_type="application/octet-stream"
    )
    assert tuple(generate().shape) == (1, 1024, 1024, 3)
    assert tuple(generate().shape) == (1, 1024, 1024, 3)


def test_default_endpoint_is_the_seed_url_and_the_override_is_the_whole_url(monkeypatch):
    transport = mod("nodes.core.transport")
    call = transport.Call(provider().PROVIDER, transport.GENERATE)
    assert call.base_url == "https://stable-diffusion-xl.endpoints.kepler.ai.cloud.ovh.net/api/text2image"
    monkeypatch.setenv("OVH_SDXL_URL", "http://127.0.0.1:9/custom/text2image/")
    call = transport.Call(provider().PROVIDER, transport.GENERATE)  # a call resolves its endpoint once
    assert call.url_for(call.base_url) == "http://127.0.0.1:9/custom/text2image"


def test_token_and_endpoint_from_the_credentials_file(serve, monkeypatch, tmp_path):
    app = emulator().OvhAPI(token=TOKEN)
    ini = tmp_path / "credentials.ini"
    ini.write_text(f"[ovh]\napi_key = {TOKEN}\nbase_url = {serve(app).url}/api/text2image\n")
    ini.chmod(0o600)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(ini))
    generate()
    assert app.requests[0].bearer == TOKEN


# --- refused before sending ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs, words",
    [
        ({"prompt": ""}, "prompt is empty"),
        ({"prompt": "   \n"}, "prompt is empty"),
        ({"prompt": None}, "prompt is empty"),
        ({"negative_prompt": 3}, "negative_prompt must be text"),
        ({"count": 0}, "count is 0; it must be a whole number from 1 to 10"),
        ({"count": 11}, "from 1 to 10"),
        ({"prompt": "x" * (2 * 1024 * 1024)}, "OVH refuses bodies over 2,097,152 bytes"),
        # non-ASCII goes out as \\uXXXX escapes: 400k characters make 2.4 MB
        ({"prompt": "hippo", "negative_prompt": "é" * 400_000}, "2,400,"),
    ],
)
def test_bad_inputs_are_refused_before_any_request(anonymous, inputs, words):
    with pytest.raises(errors().InputError) as caught:
        generate(**inputs)
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert anonymous.requests == []


def test_a_body_of_exactly_2_mb_is_sent(ovh):
    limit = provider().MAX_BODY_BYTES
    prompt = "x" * (limit - len(json.dumps({"prompt": ""})))
    generate(prompt=prompt, negative_prompt="")
    assert len(ovh.requests[0].body) == limit


def test_plain_http_endpoint_outside_loopback_is_refused(monkeypatch):
    monkeypatch.setenv("OVH_SDXL_URL", "http://sdxl.example.com/api/text2image")
    with pytest.raises(errors().InputError, match="plain http"):
        generate()


# --- errors --------------------------------------------------------------------------------------


def test_wrong_token_is_401_naming_the_variable(serve, monkeypatch, pack_logs):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    app = emulator().OvhAPI(token="fake-ovh-other")
    monkeypatch.setenv("OVH_SDXL_URL", f"{serve(app).url}/api/text2image")
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert "OVH AI Endpoints image generation failed" in text and "HTTP 401" in text
    assert "the access token is invalid or expired" in text and "set OVH_AI_ENDPOINTS_ACCESS_TOKEN" in text
    assert len(app.requests) == 1
    assert_no_secret(text)
    assert_no_secret("\n".join(r.getMessage() for r in pack_logs.records))


def test_429_with_retry_after_waits_then_succeeds(ovh, pack_logs):
    ovh.inject(status=429, message="Too many requests", headers={"Retry-After": "1"})
    started = time.perf_counter()
    assert tuple(generate().shape) == (1, 1024, 1024, 3)
    assert time.perf_counter() - started >= 0.9
    assert len(ovh.requests) == 2
    assert any("rate limited, retrying in" in line for line in progress_lines(pack_logs))


def test_429_with_ratelimit_reset_waits_then_succeeds(ovh):
    ovh.inject(status=429, message="Too many requests", headers={"RateLimit-Reset": "1"})
    started = time.perf_counter()
    generate()
    assert time.perf_counter() - started >= 0.9 and len(ovh.requests) == 2


def test_anonymous_limit_beyond_the_wait_cap_fails_naming_the_limit(anonymous, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_MAX_RETRY_WAIT", "5")
    generate()
    generate()
    started = time.perf_counter()
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    assert time.perf_counter() - started < 2, "a 30 s reset is over the 5 s cap: no waiting"
    text = str(caught.value)
    assert "HTTP 429" in text and "anonymous calls are limited to 2 per minute" in text
    assert "try again in 30s" in text
    assert (
        "anonymous calls are limited to 2 a minute per IP; set OVH_AI_ENDPOINTS_ACCESS_TOKEN for 400 a minute" in text
    )
    assert caught.value.retry_after == pytest.approx(30, abs=1)
    assert len(anonymous.requests) == 3


def test_token_limit_after_retries_names_the_token_limit(ovh):
    ovh.inject(status=429, message="Too many requests", headers={"RateLimit-Reset": "0"}, times=4)
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    assert "after 4 attempt(s)" in str(caught.value)
    assert "calls with a token are limited to 400 a minute per project" in str(caught.value)
    assert len(ovh.requests) == 4


def test_503_is_retried_500_is_not(ovh):
    ovh.inject(status=503, message="Service Unavailable")
    generate()
    assert len(ovh.requests) == 2
    ovh.reset()
    ovh.inject(status=500, message="Internal Server Error: CUDA out of memory")
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert "HTTP 500" in text and "CUDA out of memory" in text and "internal error" in text
    assert len(ovh.requests) == 1


def test_413_from_the_server_names_the_2_mb_limit(ovh):
    ovh.inject(status=413, message="Request Entity Too Large")
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    assert "HTTP 413" in str(caught.value) and "OVH refuses request bodies over 2 MB" in str(caught.value)


def test_422_quotes_the_validation_detail(ovh):
    ovh.inject(status=422, body=json.dumps({"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}).encode())
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    assert "HTTP 422" in str(caught.value) and "field required" in str(caught.value)


@pytest.mark.parametrize(
    "body, content_type, quoted",
    [
        (None, None, "the model is loading, retry later"),  # reply_json
        (
            b"<html><head><title>Maintenance</title></head><body><h1>Back soon</h1></body></html>",
            "text/html",
            "Maintenance Back soon",
        ),
        (b"upstream connect error", "text/plain", "upstream connect error"),
        (b"", "image/jpeg", "an empty body"),
    ],
)
def test_a_200_that_is_not_an_image_is_an_error_quoting_it(ovh, body, content_type, quoted):
    if body is None:
        ovh.reply_json({"message": "the model is loading, retry later"})
        content_type = "application/json"
    else:
        ovh.inject(body=body, content_type=content_type)
    with pytest.raises(errors().RemoteImageError) as caught:
        generate()
    text = str(caught.value)
    assert "HTTP 200" in text and f"the reply is {content_type}, not image bytes" in text and quoted in text
    assert len(ovh.requests) == 1


def test_one_failed_call_of_several_is_reported_and_the_others_saved(ovh, tmp_path):
    ovh.inject(status=500, message="boom")
    with pytest.raises(errors().RemoteImageError) as caught:
        generate(count=2)
    assert "1 of 2 calls failed" in str(caught.value) and "boom" in str(caught.value)
    saved = list(tmp_path.glob("unsaved/*/result_001.jpg"))
    assert len(saved) == 1 and saved[0].read_bytes()[:3] == b"\xff\xd8\xff"


def test_dropped_connection_is_not_retried(ovh):
    ovh.inject(drop=True)
    with pytest.raises(errors().RemoteImageError, match="may have been billed"):
        generate()
    assert len(ovh.requests) == 1


def test_interrupt_stops_a_waiting_call_quickly(ovh):
    comfy = mod("nodes.core.comfy")
    ovh.inject(delay=5)
    threading.Timer(0.2, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        generate()
    assert hang_ups(ovh, 1) == ["/api/text2image"], "the call ran on after the interrupt"


# --- the local server itself -------------------------------------------------------------------------


def post(app, body=None, *, token=None, data=None, content_type="application/json"):
    headers = {"accept": "application/octet-stream", "content-type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = data if data is not None else json.dumps(body).encode()
    return requests.post(f"{app.base_url}/api/text2image", headers=headers, data=payload, timeout=10)


def test_server_returns_different_1024_jpegs(anonymous):
    first, second = post(anonymous, {"prompt": "a"}), post(anonymous, {"prompt": "a"})
    for reply in (first, second):
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/jpeg"
        assert reply.content[:3] == b"\xff\xd8\xff"
        assert mod("nodes.core.images").open_image(reply.content).size == (1024, 1024)
    assert first.content != second.content


def test_server_anonymous_bucket_is_2_a_minute_and_token_bucket_is_separate(anonymous):
    replies = [post(anonymous, {"prompt": "a"}) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 429]
    limited = replies[2]
    assert limited.json() == {"message": "Too many requests: anonymous calls are limited to 2 per minute"}
    assert limited.headers["RateLimit-Limit"] == limited.headers["X-RateLimit-Limit"] == "2"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert 25 <= int(limited.headers["RateLimit-Reset"]) <= 30
    assert post(anonymous, {"prompt": "a"}, token=TOKEN).status_code == 200
    assert post(anonymous, {"prompt": "a"}, token=TOKEN).headers["RateLimit-Limit"] == "400"


def test_server_token_bucket_limits_too(serve, monkeypatch):
    app = start(serve, monkeypatch, token_per_minute=1)
    assert post(app, {"prompt": "a"}, token=TOKEN).status_code == 200
    limited = post(app, {"prompt": "a"}, token=TOKEN)
    assert limited.status_code == 429 and "token calls are limited to 1 per minute" in limited.text


def test_server_refuses_a_wrong_token_oversized_bodies_and_bad_json(anonymous):
    wrong = post(anonymous, {"prompt": "a"}, token="fake-ovh-other")
    assert wrong.status_code == 401 and wrong.json() == {
        "message": "Unauthorized: the access token is invalid or expired"
    }
    big = post(anonymous, data=b'{"prompt": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert big.status_code == 413 and "the limit is 2097152 bytes" in big.json()["message"]
    missing = post(anonymous, {"negative_prompt": "a"}, token=TOKEN)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "prompt"]
    wrong_type = post(anonymous, {"prompt": 5}, token=TOKEN)
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"][0]["msg"] == "str type expected"
    not_json = post(anonymous, data=b"prompt=a", content_type="application/x-www-form-urlencoded", token=TOKEN)
    assert not_json.status_code == 422
    assert len(anonymous.requests) == 5


def test_server_answers_json_200_on_demand(anonymous):
    anonymous.reply_json({"message": "loading"})
    reply = post(anonymous, {"prompt": "a"})
    assert reply.status_code == 200 and reply.json() == {"message": "loading"}
    assert post(anonymous, {"prompt": "a"}).headers["Content-Type"] == "image/jpeg"


# --- the example workflows, run headless against the local servers ------------------------------------

EXAMPLES = ROOT / "example_workflows" / "api"


def _mask_composite(destination, source, x, y, operation):
    """ComfyUI's MaskComposite for 'add': the source added at x,y, clamped to 0..1."""
    assert operation == "add"
    out = destination.clone()
    height, width = min(source.shape[-2], out.shape[-2] - y), min(source.shape[-1], out.shape[-1] - x)
    out[..., y : y + height, x : x + width] = (
        out[..., y : y + height, x : x + width] + source[..., :height, :width]
    ).clamp(0, 1)
    return (out,)


# Stand-ins for the few core nodes the examples use (same inputs and outputs as ComfyUI's).
LOCAL_NODES = {
    "SolidMask": lambda value, width, height: (torch.full((1, height, width), float(value)),),
    "MaskComposite": _mask_composite,
    "ImageScaleBy": lambda image, upscale_method, scale_by: (
        torch.nn.functional.interpolate(image.movedim(-1, 1), scale_factor=scale_by, mode="bilinear").movedim(1, -1),
    ),
    "PreviewImage": lambda images: (images,),
    "SaveImage": lambda images, filename_prefix: (images,),
}


def run_api_workflow(name: str) -> dict:
    """Execute an API-format example the way ComfyUI does: each node once, inputs from links."""
    pack = mod("nodes")
    prompt = json.loads((EXAMPLES / f"{name}.json").read_text())
    outputs: dict = {}

    def output(node_id: str):
        if node_id not in outputs:
            node = prompt[node_id]
            inputs = {k: output(v[0])[v[1]] if isinstance(v, list) else v for k, v in node["inputs"].items()}
            kind = node["class_type"]
            cls = pack.NODE_CLASS_MAPPINGS.get(kind)
            outputs[node_id] = run_node(cls, **inputs) if cls else LOCAL_NODES[kind](**inputs)
        return outputs[node_id]

    for node_id in prompt:
        output(node_id)
    return {prompt[i]["_meta"]["title"]: value for i, value in outputs.items()}


def test_example_generate_upscale_save(anonymous):
    results = run_api_workflow("ovh_sdxl_upscale")
    assert tuple(results["SaveImage"][0].shape) == (1, 1536, 1536, 3)
    assert anonymous.requests[0].json()["negative_prompt"] == "Ugly, unrealistic"


def test_example_ovh_then_ionos_edit_with_a_composed_mask(anonymous, ionos):
    images = mod("nodes.core.images")
    results = run_api_workflow("ovh_sdxl_ionos_edit_mask")
    assert tuple(results["SaveImage"][0].shape) == (1, 1024, 1024, 3)
    assert len(anonymous.requests) == 1 and "authorization" not in anonymous.requests[0].headers
    (edit,) = ionos.calls("/v1/images/edits")
    form = edit.form()
    source = images.open_image(mod("nodes.core.payloads").split_data_url(form["url"])[1])
    assert source.size == (1024, 1024)
    alpha = numpy.asarray(
        images.open_image(mod("nodes.core.payloads").split_data_url(form["mask_image"])[1]).convert("RGBA")
    )[..., 3]
    edited = alpha == 0
    assert edited[320:704, 256:768].all() and edited.sum() == 512 * 384

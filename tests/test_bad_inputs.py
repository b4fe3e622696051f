"""Bad inputs, for every provider: each is refused before any request, with a message that names
the provider, says nothing was sent and names what is allowed. Inputs a provider does not have
are listed with the reason."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from conftest import assert_no_secret, mod
from provider_table import (  # noqa: F401 -- slot_server and mount are fixtures
    BY_NAME,
    TARGETS,
    Target,
    api_calls,
    catalogue_of,
    closed_port_url,
    downloads,
    image_nodes,
    input_kinds,
    map_links,
    mount,
    node_ids,
    picture,
    provider_of,
    slot_server,
)

errors = mod("nodes.core.errors")
catalogue = mod("nodes.providers.catalogue")

HTTPS_OR_LOOPBACK = ("must start with https://", "http:// for a loopback host")
PLAIN_HTTP = ("plain http", "allowed only for 127.0.0.1, ::1 and localhost")
N_WORDS = ("a whole number from 1 to 10",)


@dataclass
class Bad:
    inputs: dict  # overrides for the call
    words: tuple[str, ...]  # what the message must say (the allowed values)
    call: str = "run"  # "run": the minimal call; "edit": the node with IMAGE inputs; "links": results as URLs
    base_url: str = ""  # set the provider's base URL variable to this
    links_to: str = ""  # the reply's result links are rewritten to this (a link is not an input we send)


def _with(value: float) -> torch.Tensor:
    image = picture()
    image[0, 5, 5, 1] = value
    return image


def _cases(target: Target) -> dict[str, Bad | str]:
    """Every bad input for ``target``: a Bad to try, or the reason it does not apply."""
    cases: dict[str, Bad | str] = {
        "empty_prompt": Bad({"prompt": ""}, ("prompt is empty", "write what the image should show")),
        "whitespace_prompt": Bad({"prompt": " \n\t "}, ("prompt is empty",)),
        "base_url_not_http": Bad({}, HTTPS_OR_LOOPBACK, base_url="ftp://images.example.com/v1"),
        "base_url_file_scheme": Bad({}, HTTPS_OR_LOOPBACK, base_url="file:///etc/passwd"),
        "base_url_plain_http_remote": Bad({}, PLAIN_HTTP, base_url="http://images.example.com/v1"),
    }
    if target.run_edit is not None:
        for channels in (1, 2, 4):
            shape = ("[batch, height, width, 3]", f"{channels} channels")
            cases[f"image_{channels}_channels"] = Bad({"image": torch.zeros(1, 64, 64, channels)}, shape, call="edit")
        cases["empty_batch"] = Bad(
            {"image": torch.zeros(0, 64, 64, 3)}, ("is empty", "at least one image"), call="edit"
        )
        cases["nan_values"] = Bad(
            {"image": _with(float("nan"))}, ("NaN or infinite", "finite numbers from 0 to 1"), call="edit"
        )
        cases["infinite_values"] = Bad(
            {"image": _with(float("inf"))}, ("NaN or infinite", "finite numbers from 0 to 1"), call="edit"
        )
    else:
        for name in (
            "image_1_channels",
            "image_2_channels",
            "image_4_channels",
            "empty_batch",
            "nan_values",
            "infinite_values",
        ):
            cases[name] = f"{target.label}'s node is text to image: it takes no IMAGE input"
    if target.run_with_links is not None:
        words = ("the result URL has the scheme 'file'", "only http and https")
        cases["result_url_not_http"] = Bad({}, words, call="links", links_to="file:///etc/passwd")
        cases["result_url_ftp"] = Bad(
            {}, ("scheme 'ftp'", "only http and https"), call="links", links_to="ftp://cdn.example.com/a.png"
        )
    else:
        cases["result_url_not_http"] = cases["result_url_ftp"] = target.no_links
    if any(input_kinds(n).get("mask") == "MASK" for n in node_ids() if provider_of(n) == target.provider_id):
        cases.update(_masks())
    else:
        no_mask = f"{target.label}'s nodes take no mask"
        cases["mask_size_mismatch"] = cases["mask_batch_mismatch"] = cases["mask_nan"] = no_mask
    cases.update(_from_the_catalogue(target))
    return cases


def _from_the_catalogue(target: Target) -> dict[str, Bad]:
    """The limits the catalogue gives the minimal call's default model (or the endpoint's rules for
    a model it does not list): its prompt length, its counts and its WIDTH and HEIGHT."""
    data = catalogue_of(target.provider_id)
    operation = catalogue.EDIT if target.operation == "image edit" else catalogue.GENERATE
    rules = data.rules(target.model, operation) or data.endpoint[operation]
    node = next(n for n in node_ids() if provider_of(n) == target.provider_id and _runs(target, n))
    kinds = input_kinds(node)
    cases: dict[str, Bad] = {}
    if rules.prompt_limit:
        limit = rules.prompt_limit
        cases["prompt_over_limit"] = Bad(
            {"prompt": "x" * (limit + 1)}, (f"{limit + 1} characters; the limit is {limit}",)
        )
    for name in ("n", "count"):
        if kinds.get(name) == "INT" and name in rules.ranges:
            low, high = rules.ranges[name].low, rules.ranges[name].high
            words = (f"{name} is", f"a whole number from {low} to {high}")
            cases["n_below_range"] = Bad({name: low - 1}, words)
            cases["n_above_range"] = Bad({name: high + 1}, words)
    rule = rules.size_rule
    if kinds.get("width") == "INT" and kinds.get("height") == "INT" and rule is not None:
        custom = {"size": catalogue.CUSTOM} if "size" in kinds else {}
        side = max(rule.min_edge, rule.multiple * 32)
        too_long = rule.max_edge + rule.multiple
        cases["size_out_of_range"] = Bad({**custom, "width": too_long, "height": side}, ("is not allowed",))
        if rule.multiple > 1:
            cases["size_not_multiple_of_16"] = Bad(
                {**custom, "width": side + 1, "height": side}, (f"multiples of {rule.multiple}",)
            )
    return cases


def _runs(target: Target, node_id: str) -> bool:
    """Whether ``node_id`` is the node the target's minimal call runs (an edit takes an IMAGE)."""
    takes_image = input_kinds(node_id).get("image") == "IMAGE"
    makes_image = node_id in image_nodes()
    return makes_image and takes_image == (target.operation == "image edit")


def _masks() -> dict[str, Bad]:
    """For the nodes with a MASK input (IONOS edit, OpenAI-compatible edit)."""
    return {
        "mask_size_mismatch": Bad(
            {"mask": torch.ones(1, 30, 10)},
            ("the mask is 10x30 but the image is 64x64", "aspect ratios differ"),
            call="edit",
        ),
        "mask_batch_mismatch": Bad(
            {"image": picture(batch=3), "mask": torch.ones(2, 64, 64)},
            ("2 masks but the image batch has 3 images", "one mask for all images or one per image"),
            call="edit",
        ),
        "mask_nan": Bad({"mask": torch.full((1, 64, 64), float("nan"))}, ("mask contains NaN",), call="edit"),
    }


SPECIFIC: dict[str, dict[str, Bad | str]] = {
    "ionos": {
        "prompt_over_limit": Bad({"prompt": "x" * 1001}, ("1001 characters; the limit is 1000",)),
        "size_out_of_range": Bad({"size": "4096x1024"}, ("multiples of 16 from 64 to 2048",)),
        "size_too_small": Bad({"size": "32x32"}, ("multiples of 16 from 64 to 2048",)),
        "size_not_multiple_of_16": Bad({"size": "1000x1000"}, ("multiples of 16 from 64 to 2048",)),
        "size_malformed": Bad({"size": "big"}, ("WIDTHxHEIGHT", "1024x1024")),
        "n_below_range": Bad({"n": 0}, N_WORDS),
        "n_above_range": Bad({"n": 11}, N_WORDS),
    },
    "aigne": {
        "prompt_over_limit": Bad({"prompt": "x" * 32001}, ("32001 characters; the limit is 32000",)),
        "size_out_of_range": Bad({"size": "4096x1024"}, ("not allowed for openai/gpt-image-2", "at most 3840")),
        "size_not_multiple_of_16": Bad({"size": "custom", "width": 1000, "height": 1000}, ("multiples of 16",)),
        "size_ratio_beyond_3_to_1": Bad(
            {"size": "custom", "width": 3200, "height": 800}, ("aspect ratio may be at most 3:1",)
        ),
        "size_malformed": Bad({"model": "google/gemini-3-pro-image", "size": "big"}, ("WIDTHxHEIGHT",)),
        "n_below_range": Bad({"n": 0}, N_WORDS),
        "n_above_range": Bad({"n": 11}, N_WORDS),
        "n_above_model_limit": (
            "the hub's GPT image models make one image per call, so n makes n calls instead of being refused"
        ),
        "retired_model": Bad(
            {"model": "openai/dall-e-3"}, ("retired openai/dall-e-3 on 2026-05-12", "use openai/gpt-image-2.6-sunburst")
        ),
        "transparent_on_gpt_image_2": Bad(
            {"background": "transparent"}, ("openai/gpt-image-2 does not accept background", "only for gpt-image-1")
        ),
        "node_base_url_plain_http": Bad({"base_url": "http://hub.example.com/app"}, PLAIN_HTTP),
        "path_escaping_the_base_url": Bad({"path": "/../admin"}, ("starting with /", "/api/v2/image/generations")),
    },
    "agnic": {
        "prompt_over_limit": "Agnic documents no prompt length limit",
        "size_out_of_range": Bad({"aspect_ratio": "7:3"}, ("aspect_ratio '7:3' is not allowed", "1:1, 16:9, 9:16")),
        "image_size_not_offered": Bad({"model": "google/gemini-2.5-flash-image", "image_size": "8K"}, ("1K, 2K, 4K",)),
        "image_size_for_a_non_gemini_model": Bad(
            {"model": "black-forest-labs/flux.2-pro", "image_size": "2K"}, ("does not accept image_size", "auto")
        ),
        "ratio_the_model_does_not_take": Bad(
            {"model": "google/gemini-3-pro-image", "aspect_ratio": "8:1"},
            ("aspect_ratio '8:1' is not allowed for google/gemini-3-pro-image",),
        ),
        "not_an_image_model": Bad(
            {"model": "google/gemini-2.0-flash"},
            ("cannot be used for image generation", "google/gemini-nano-banana-2.1"),
        ),
        "size_not_multiple_of_16": "Agnic's sizes come from aspect_ratio and image_size, not WIDTHxHEIGHT",
        "n_below_range": Bad({"count": 0}, ("count is 0", "a whole number from 1 to 8")),
        "n_above_range": Bad({"count": 9}, ("count is 9", "a whole number from 1 to 8")),
    },
    "ovh": {
        "prompt_over_limit": Bad({"prompt": "x" * (2 * 1024 * 1024)}, ("OVH refuses bodies over 2,097,152 bytes",)),
        "negative_prompt_over_limit": Bad(
            {"negative_prompt": "x" * (2 * 1024 * 1024)}, ("OVH refuses bodies over 2,097,152 bytes",)
        ),
        "size_out_of_range": "OVH SDXL has no size parameter: every image is 1024x1024",
        "size_not_multiple_of_16": "OVH SDXL has no size parameter: every image is 1024x1024",
        "n_below_range": Bad({"count": 0}, ("count is 0", "a whole number from 1 to 10")),
        "n_above_range": Bad({"count": 11}, ("count is 11", "a whole number from 1 to 10")),
    },
    "openai_compat": {
        "prompt_over_limit": Bad({"prompt": "x" * 32001}, ("32001 characters; the limit is 32000",)),
        "size_out_of_range": Bad(
            {"size": "custom", "width": 4096, "height": 2048}, ("not allowed for gpt-image-2", "at most 3840")
        ),
        "size_below_the_pixel_floor": Bad(
            {"size": "custom", "width": 512, "height": 512}, ("655,360 to 8,294,400 pixels", "262,144")
        ),
        "size_not_multiple_of_16": Bad({"size": "1000x1000"}, ("multiples of 16",)),
        "retired_model": Bad(
            {"model": "gpt-image-1"},
            ("retired gpt-image-1 on 2026-10-23", "use gpt-image-2.6-sunburst"),
            base_url="https://api.openai.com/v1",  # OpenAI's dates refuse a model at OpenAI's own API only
        ),
        "transparent_on_gpt_image_2": Bad(
            {"model": "gpt-image-2", "background": "transparent"},
            ("background 'transparent' is not allowed for gpt-image-2", "auto, opaque"),
        ),
        "quality_beyond_the_model": Bad(
            {"model": "gpt-image-2", "quality": "max"},
            ("quality 'max' is not allowed for gpt-image-2", "auto, low, medium, high"),
        ),
        "input_fidelity_on_gpt_image_2": Bad(
            {"input_fidelity": "high"}, ("gpt-image-2 does not accept input_fidelity",), call="edit"
        ),
        "n_below_range": Bad({"n": 0}, N_WORDS),
        "n_above_range": Bad({"n": 11}, N_WORDS),
        "node_base_url_plain_http": Bad({"base_url": "http://images.example.com/v1"}, PLAIN_HTTP),
        "node_base_url_untrusted_host_with_a_key": Bad(
            {"base_url": "https://images.example.com/v1"}, ("not a trusted host", "HOSTED_IMAGES_TRUSTED_HOSTS")
        ),
        "key_in_place_of_the_variable_name": Bad(
            {"api_key_env": "sk-live-0123456789abcdef"}, ("NAME of an environment variable",)
        ),
    },
}

TABLE = {t.name: {**_cases(t), **SPECIFIC.get(t.name, {})} for t in TARGETS}  # SPECIFIC only adds
TRIED = [
    pytest.param(BY_NAME[p], name, bad, id=f"{p}-{name}")
    for p, cases in TABLE.items()
    for name, bad in cases.items()
    if isinstance(bad, Bad)
]
NOT_APPLICABLE = {(p, name): why for p, cases in TABLE.items() for name, why in cases.items() if isinstance(why, str)}


@pytest.mark.parametrize("target,name,bad", TRIED)
def test_bad_input_is_refused_before_any_request(target, name, bad, mount, monkeypatch, pack_logs):
    app = mount(target)
    if bad.base_url:
        monkeypatch.setenv(target.base_url_env, bad.base_url)
        monkeypatch.setenv("HTTPS_PROXY", closed_port_url())  # were anything sent, it would stay on loopback
    if bad.links_to:
        app.inject(rewrite=lambda reply: map_links(reply, lambda _: bad.links_to), path=target.api_path)
    run = {"run": target.run, "edit": target.run_edit, "links": target.run_with_links}[bad.call]
    with pytest.raises(errors.RemoteImageError) as caught:
        run(**bad.inputs)
    text = str(caught.value)
    for part in (target.label, *bad.words):
        assert part in text, f"{part!r} missing from: {text}"
    assert_no_secret(text)
    assert_no_secret(pack_logs.text)
    if bad.links_to:  # the reply came; the link it held was never fetched
        assert len(api_calls(app, target)) == 1 and downloads(app) == []
        assert not any(r.path.startswith("/etc") for r in app.requests)
    else:
        assert isinstance(caught.value, errors.InputError) and "nothing was sent" in text
        assert app.requests == [], "a refused input must not reach the provider"


def test_every_bad_input_is_tried_or_not_applicable_with_a_reason():
    names = {name for cases in TABLE.values() for name in cases}
    required = {
        "empty_prompt",
        "whitespace_prompt",
        "prompt_over_limit",
        "size_out_of_range",
        "size_not_multiple_of_16",
        "n_below_range",
        "n_above_range",
        "mask_size_mismatch",
        "mask_batch_mismatch",
        "image_1_channels",
        "image_2_channels",
        "image_4_channels",
        "empty_batch",
        "nan_values",
        "infinite_values",
        "base_url_not_http",
        "base_url_plain_http_remote",
        "result_url_not_http",
    }
    assert required <= names
    for provider, cases in TABLE.items():
        missing = required - set(cases)
        assert not missing, f"{provider}: bad inputs neither tried nor explained -- add them to SPECIFIC: {missing}"
    assert all(NOT_APPLICABLE.values())

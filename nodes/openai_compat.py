"""Nodes for any OpenAI-compatible Images API server: generate, edit with a mask, list models."""

from __future__ import annotations

import os

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    ListModelsNode,
    LiveModels,
    RemoteImageNode,
    count_input,
    fetch_payloads,
    images,
    model_input,
    node_id,
    prompt_input,
    seed_input,
    to_tensors,
)
from .providers import openai_compat as api

_CATEGORY = f"{CATEGORY}/OpenAI-compatible"


def _connection_inputs() -> dict:
    return {
        "base_url": ("STRING", {"default": "", "tooltip": (
            "The server's API root, e.g. http://127.0.0.1:8080/v1. Empty: OPENAI_BASE_URL, else "
            "https://api.openai.com/v1. A key is sent to a URL typed here only for loopback hosts, the "
            f"configured URL's host, or hosts listed in {api.TRUSTED_HOSTS_ENV}."
        )}),
        "api_key_env": ("STRING", {"default": api.DEFAULT_KEY_ENV, "tooltip": (
            "The NAME of the environment variable that holds the key (never the key itself). "
            "Empty: send no key (local servers without auth)."
        )}),
    }


def _options() -> dict:
    return {
        "quality": (api.QUALITIES, {"default": api.AUTO, "tooltip": "auto: not sent. dall-e-2: standard; dall-e-3: standard, hd; GPT image models: low, medium, high."}),
        "background": (api.BACKGROUNDS, {"default": api.AUTO, "tooltip": "GPT image models only; auto: not sent. transparent gives a MASK from the result's alpha (png or webp)."}),
        "output_format": (api.OUTPUT_FORMATS, {"default": api.AUTO, "tooltip": "GPT image models only: the file format returned; auto: not sent (png)."}),
        "output_compression": ("INT", {"default": api.DEFAULT_COMPRESSION, "min": 0, "max": 100, "tooltip": "GPT image models with jpeg or webp output: 0-100; 100 is the default and is not sent."}),
        "response_format": (api.RESPONSE_FORMATS, {"default": api.AUTO, "tooltip": "dall-e models only: url (downloaded at once, without your key) or b64_json; auto: not sent (url)."}),
    }


def _connect(operation: str, model: str, unique_id, base_url: str, api_key_env: str) -> Call:
    """A call with the key from the named variable, sent only where the user allows it."""
    base_url = (base_url or "").strip()
    with Call(api.PROVIDER, operation, model=model).context():
        provider = api.provider_for(api_key_env)
        call = Call(provider, operation, model=model, node_id=unique_id, base_url_override=base_url)
        api.check_key_destination(
            call.base_url,
            from_node=bool(base_url),
            configured_url=Call(provider, operation).base_url,
            trusted_hosts=os.environ.get(api.TRUSTED_HOSTS_ENV, ""),
            key_env=provider.key_env,
        )
    return call


_OUTPUTS = ("IMAGE", "MASK", "STRING")
_OUTPUT_NAMES = ("image", "mask", "info")


class OpenAICompatImageGenerate(RemoteImageNode):
    DESCRIPTION = (
        "Generate images with OpenAI's Images API or any server that speaks it (set base_url). Only the "
        "parameters the chosen model accepts are sent; 'auto' means not sent."
    )
    SEARCH_ALIASES = ["openai", "dall-e", "dalle", "gpt image", "gpt-image", "chatgpt image", "text to image", "txt2img", "local server"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = api.PROVIDER.label
    RETURN_TYPES = _OUTPUTS
    RETURN_NAMES = _OUTPUT_NAMES
    OUTPUT_TOOLTIPS = (
        "The generated images as one batch.",
        "1 where a result is transparent (background=transparent), else 0.",
        "revised_prompt (dall-e-3), usage and the other fields of the reply.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": model_input(api.GENERATE_MODELS, "gpt-image-1", provider="openai"),
                "prompt": prompt_input("What the image should show (dall-e-2: 1000 characters, dall-e-3: 4000, GPT image models: 32000)."),
                "n": count_input("Images per call (1-10; dall-e-3 makes one). 1 is not sent."),
                "size": ("STRING", {"default": api.AUTO, "tooltip": (
                    "WIDTHxHEIGHT. dall-e-2: 256x256, 512x512, 1024x1024; dall-e-3: 1024x1024, 1792x1024, "
                    "1024x1792; GPT image models: 1024x1024, 1536x1024, 1024x1536 or auto. auto: the model's "
                    "own choice (not sent to dall-e or other servers)."
                )}),
                "style": (api.STYLES, {"default": api.AUTO, "tooltip": "dall-e-3 only: vivid or natural; auto: not sent."}),
                **_options(),
                "seed": seed_input(False, "OpenAI's Images API"),
            },
            "optional": _connection_inputs(),
            **HIDDEN,
        }

    def call(self, model, prompt, n, size, style, quality, background, output_format, output_compression,
             response_format, seed=0, base_url="", api_key_env=api.DEFAULT_KEY_ENV, unique_id=None):
        call = _connect("image generation", model, unique_id, base_url, api_key_env)
        with call.context():
            body = api.generation_body(
                model=model, prompt=prompt, n=n, size=size, quality=quality, style=style, background=background,
                output_format=output_format, output_compression=output_compression, response_format=response_format,
            )
            result = api.parse_images(call.post_json("images/generations", body).json())
            image, mask = to_tensors(call, fetch_payloads(call, result))
        return image, mask, result.describe()


class OpenAICompatImageEdit(RemoteImageNode):
    DESCRIPTION = (
        "Edit images with OpenAI's Images API or any server that speaks it. The images go up as PNG files "
        "(a batch as image[] for GPT image models), the mask as a PNG whose alpha is 0 where MASK is 1."
    )
    SEARCH_ALIASES = ["openai", "dall-e", "gpt image", "gpt-image", "inpaint", "image to image", "img2img", "edit image", "mask"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = api.PROVIDER.label
    RETURN_TYPES = _OUTPUTS
    RETURN_NAMES = _OUTPUT_NAMES
    OUTPUT_TOOLTIPS = (
        "The edited images as one batch.",
        "1 where a result is transparent (background=transparent), else 0.",
        "Usage and the other fields of the reply.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit: GPT image models take a batch of up to 16 in one call; dall-e-2 one square image under 4 MB as PNG."}),
                "prompt": prompt_input("The change to make (dall-e-2: 1000 characters, GPT image models: 32000)."),
                "model": model_input(api.EDIT_MODELS, "gpt-image-1", provider="openai"),
                "n": count_input("Edited versions per call (1-10). 1 is not sent."),
                "size": ("STRING", {"default": api.AUTO, "tooltip": (
                    "WIDTHxHEIGHT. dall-e-2: 256x256, 512x512, 1024x1024; GPT image models: 1024x1024, "
                    "1536x1024, 1024x1536 or auto (sent as auto). auto is not sent to dall-e-2 or other servers."
                )}),
                **_options(),
                "seed": seed_input(False, "OpenAI's Images API"),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "Where to edit (1 = change), applied to the first image and resized to it. LoadImage's empty mask means the whole image."}),
                **_connection_inputs(),
            },
            **HIDDEN,
        }

    def call(self, image, prompt, model, n, size, quality, background, output_format, output_compression,
             response_format, seed=0, mask=None, base_url="", api_key_env=api.DEFAULT_KEY_ENV, unique_id=None):
        call = _connect("image edit", model, unique_id, base_url, api_key_env)
        with call.context():
            fields = api.check_edit(
                model=model, prompt=prompt, n=n, size=size, quality=quality, background=background,
                output_format=output_format, output_compression=output_compression, response_format=response_format,
            )
            images.check_image(image)
            width, height = images.image_size(image)
            masks = images.fit_masks(mask, image.shape[0], width, height)
            dall_e_2 = api.family_of(fields["model"]) == "dall-e-2"
            if dall_e_2 and masks is not None:
                uploads = images.encode_with_alpha(image, masks)  # dall-e-2 wants RGBA, L or LA files
            else:
                uploads = images.encode_images(image)
            mask_png = images.mask_to_alpha_png(masks[0]) if masks is not None else None
            api.check_uploads(fields["model"], uploads, width, height, mask_png)
            if dall_e_2:
                api.require_mask(masks is not None)
            result = api.parse_images(call.post_multipart("images/edits", api.edit_fields(fields, uploads, mask_png)).json())
            edited, alpha = to_tensors(call, fetch_payloads(call, result))
        return edited, alpha, result.describe()


class OpenAICompatListModels(ListModelsNode):
    DESCRIPTION = "List the models of an OpenAI-compatible server (GET /models), one id per line."
    SEARCH_ALIASES = ["openai models", "list models", "model ids", "local server"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = api.PROVIDER.label
    FILTER_EXAMPLE = "image"

    @classmethod
    def extra_inputs(cls) -> dict:
        return _connection_inputs()

    def list_models(self, unique_id=None, base_url="", api_key_env=api.DEFAULT_KEY_ENV) -> list[str]:
        call = _connect("model list", "", unique_id, base_url, api_key_env)
        with call.context():
            return api.parse_model_ids(call.get("models").json())


def live_models(base_url: str = "", api_key_env: str = api.DEFAULT_KEY_ENV) -> list[str]:
    """Image models of the node's server for the refresh button: its base_url and api_key_env, else
    OPENAI_BASE_URL and OPENAI_API_KEY, under the same key-destination rule as the node."""
    return api.image_model_ids(OpenAICompatListModels().list_models(base_url=base_url, api_key_env=api_key_env))


MODEL_LISTS = {"openai": LiveModels(api.PROVIDER.label, live_models, api.models_for, connection=("base_url", "api_key_env"))}
PROVIDERS = (api.PROVIDER,)

NODES = {
    node_id("OpenAICompatImageGenerate"): (OpenAICompatImageGenerate, "OpenAI-compatible Image Generate"),
    node_id("OpenAICompatImageEdit"): (OpenAICompatImageEdit, "OpenAI-compatible Image Edit"),
    node_id("OpenAICompatListModels"): (OpenAICompatListModels, "OpenAI-compatible List Models"),
}

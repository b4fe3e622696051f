"""OVH AI Endpoints, Stable Diffusion XL (docs/providers.md section 4): JSON in, raw image bytes out."""

from __future__ import annotations

import json

from ..core import validation as check
from ..core.errors import InputError, RemoteImageError
from ..core.payloads import ImageResult, ResultImage, quote_body, sniff_format
from ..core.provider import Anonymous, Provider, register
from ..core.validation import readable_size
from . import openai_wire, ovh_models
from .catalogue import GENERATE

KEY_ENV = "OVH_AI_ENDPOINTS_ACCESS_TOKEN"
# OVH_SDXL_URL is the whole endpoint (…/api/text2image), not a base the pack appends paths to.
DEFAULT_URL = "https://stable-diffusion-xl.endpoints.kepler.ai.cloud.ovh.net/api/text2image"
CATALOGUE = ovh_models.CATALOGUE
MODEL = CATALOGUE.models[0].id  # the endpoint URL picks the model; it is named in messages
ACCEPT = "application/octet-stream"
MAX_BODY_BYTES = 2 * 1024 * 1024  # AI Endpoints refuses larger request bodies
ANONYMOUS_PER_MINUTE = 2  # per IP and model
TOKEN_PER_MINUTE = 400  # per Public Cloud project and model

PROVIDER = register(
    Provider(
        id="ovh",
        label="OVH AI Endpoints",
        key_env=KEY_ENV,
        base_url_env="OVH_SDXL_URL",
        default_base_url=DEFAULT_URL,
        status_hints={
            413: f"OVH refuses request bodies over {readable_size(MAX_BODY_BYTES)}; shorten the prompts",
            422: "OVH could not read the request; check the prompt and negative prompt",
            429: f"calls with a token are limited to {TOKEN_PER_MINUTE} a minute per project",
        },
        # anonymous calls work, rate-limited per IP
        anonymous=Anonymous(
            note=f"anonymous: OVH allows {ANONYMOUS_PER_MINUTE} calls a minute without {KEY_ENV}",
            status_hints={
                429: f"anonymous calls are limited to {ANONYMOUS_PER_MINUTE} a minute per IP; set {KEY_ENV} for "
                f"{TOKEN_PER_MINUTE} a minute",
            },
        ),
        # OVH's error bodies are unconfirmed (docs/providers.md section 4); its gateway also fronts its
        # OpenAI-compatible endpoint, so the common envelopes are read
        error_reader=openai_wire.error_message,
        lasting_refusal=openai_wire.lasting_refusal,
        catalogue=CATALOGUE,
    )
)


def text2image_body(*, prompt: str, negative_prompt: str = "") -> dict:
    """``{"prompt", "negative_prompt"}``; an empty negative prompt is left out (it is optional).

    There is no seed, size or step count in the API: every call returns a new 1024x1024 image.
    """
    check.prompt(prompt)
    if not isinstance(negative_prompt, str):
        raise InputError(f"negative_prompt must be text, not {type(negative_prompt).__name__}")
    body = {"prompt": prompt}
    if negative_prompt.strip():
        body["negative_prompt"] = negative_prompt
    # Measured as requests will send it (json.dumps, ASCII escapes), so the check is exact.
    size = len(json.dumps(body, allow_nan=False).encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InputError(
            f"the request body would be {size:,} bytes; OVH refuses bodies over {MAX_BODY_BYTES:,} bytes "
            "(2 MB), so shorten the prompt or negative prompt"
        )
    return body


def check_count(count) -> int:
    """How many images (one call each), within the model's rules."""
    return CATALOGUE.rules(MODEL, GENERATE).check_number(MODEL, "count", count)


def parse_image(content: bytes, content_type: str, status: int) -> ImageResult:
    """The reply's image, judged by its magic bytes whatever Content-Type said; anything else
    (a JSON message, a maintenance page) is an error that quotes it."""
    if sniff_format(content) is None:
        raise RemoteImageError(
            f"the reply is {content_type or 'without Content-Type'}, not image bytes: "
            f"{quote_body(content) or 'an empty body'}",
            status=status,
            hint="the endpoint answered but sent no image; check OVH_SDXL_URL points at …/api/text2image",
        )
    return ImageResult(images=[ResultImage(data=content)])

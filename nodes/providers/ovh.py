"""OVH AI Endpoints, Stable Diffusion XL (PROVIDERS.md section 4): JSON in, raw image bytes out."""

from __future__ import annotations

import json

from ..core import validation as check
from ..core.credentials import Provider
from ..core.envelopes import quote_body
from ..core.errors import InputError, RemoteImageError
from ..core.payloads import sniff_format
from . import ovh_models

# OVH_SDXL_URL is the whole endpoint (…/api/text2image), not a base the pack appends paths to.
DEFAULT_URL = "https://stable-diffusion-xl.endpoints.kepler.ai.cloud.ovh.net/api/text2image"

PROVIDER = Provider(
    id="ovh",
    label="OVH AI Endpoints",
    key_env="OVH_AI_ENDPOINTS_ACCESS_TOKEN",
    base_url_env="OVH_SDXL_URL",
    default_base_url=DEFAULT_URL,
    key_required=False,  # anonymous calls work, rate-limited per IP
)

MODEL = ovh_models.CATALOGUE.models[0].id  # the endpoint URL picks the model; it is named in messages
ACCEPT = "application/octet-stream"
MAX_BODY_BYTES = 2 * 1024 * 1024  # AI Endpoints refuses larger request bodies
ANONYMOUS_PER_MINUTE = 2  # per IP and model
TOKEN_PER_MINUTE = 400  # per Public Cloud project and model
MAX_COUNT = 10

STATUS_HINTS = {
    413: f"OVH refuses request bodies over {MAX_BODY_BYTES // (1024 * 1024)} MB; shorten the prompts",
    422: "OVH could not read the request; check the prompt and negative prompt",
}


def anonymous_note() -> str:
    """Progress text while no token is set."""
    return f"anonymous: OVH allows {ANONYMOUS_PER_MINUTE} calls a minute without {PROVIDER.key_env}"


def rate_limit_hint(anonymous: bool) -> str:
    if anonymous:
        return (
            f"anonymous calls are limited to {ANONYMOUS_PER_MINUTE} a minute per IP; set "
            f"{PROVIDER.key_env} for {TOKEN_PER_MINUTE} a minute"
        )
    return f"calls with a token are limited to {TOKEN_PER_MINUTE} a minute per project"


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
    return check.count(count, high=MAX_COUNT, what="count")


def image_bytes(content: bytes, content_type: str, status: int) -> bytes:
    """The reply's image, judged by its magic bytes whatever Content-Type said; anything else
    (a JSON message, a maintenance page) is an error that quotes it."""
    if sniff_format(content) is None:
        raise RemoteImageError(
            f"the reply is {content_type or 'without Content-Type'}, not image bytes: "
            f"{quote_body(content) or 'an empty body'}",
            status=status,
            hint="the endpoint answered but sent no image; check OVH_SDXL_URL points at …/api/text2image",
        )
    return content

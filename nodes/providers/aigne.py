"""AIGNE Hub (PROVIDERS.md section 2): one JSON call that generates, or edits through ``image``.

The seed page and the hub's code disagree on the path and the reply's shape, so the path is an
input (the seed's path by default) and replies are read in both shapes: the seed's
``{created, data: [{url | b64_json}]}`` and the code's ``{images, data, model, usage}`` whose items
carry the base64 under ``b64_json``, ``base64`` and ``b64Json``.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.envelopes import default_error_message
from ..core import validation as check
from ..core.credentials import Provider
from ..core.errors import InputError
from . import openai_wire

PROVIDER = Provider(
    id="aigne",
    label="AIGNE Hub",
    key_env="AIGNE_HUB_API_KEY",
    base_url_env="AIGNE_HUB_BASE_URL",
    default_base_url="",  # every hub has its own URL (and mount path): the user must name it
)

SEED_PATH = "/api/images/generations"  # the seed page
HUB_PATH = "/api/v2/image/generations"  # what the hub's code serves to access-key users

MODELS = ["dall-e-2", "dall-e-3", "gpt-image-1", "openai/dall-e-2", "openai/dall-e-3", "openai/gpt-image-1"]
EDIT_MODEL = "gpt-image-1"  # the only model the hub hands ``image`` to (compared by exact name)
# Per-model sizes (OpenAI's rules, which the hub passes on); other models take any WIDTHxHEIGHT.
SIZES = {
    "dall-e-2": list(openai_wire.DALL_E_2_SIZES),
    "dall-e-3": list(openai_wire.DALL_E_3_SIZES),
    "gpt-image-1": [*openai_wire.GPT_IMAGE_SIZES, "auto"],
}
# OpenAI's prompt limits, which the hub passes on too; other models' limits are their own.
PROMPT_LIMITS = {
    "dall-e-2": openai_wire.PROMPT_LIMITS["dall-e-2"],
    "dall-e-3": openai_wire.PROMPT_LIMITS["dall-e-3"],
    "gpt-image-1": openai_wire.PROMPT_LIMITS["gpt-image"],
}
GENERATE_SIZES = ["1024x1024", "512x512", "256x256", "1792x1024", "1024x1792", "1536x1024", "1024x1536", "auto"]
QUALITIES = ["standard", "hd"]
STYLES = ["vivid", "natural"]
RESPONSE_FORMATS = ["b64_json", "url"]
MAX_N = 10
MAX_BODY_BYTES = 30 * 1024 * 1024  # the hub refuses larger request bodies

STATUS_HINTS = {
    402: "the AIGNE Hub credits of this key are used up; buy more at the link in the message (or ask "
    "the hub's admin), then run again",
    404: f"the hub has no such endpoint: AIGNE_HUB_BASE_URL must include the hub's mount path, and hubs "
    f"built from the hub's code serve path {HUB_PATH} (the docs show {SEED_PATH})",
    500: "the hub or its upstream provider failed (an upstream rate limit also shows as 500); try again later",
}

_PROVIDER_PREFIX = re.compile(r"^[\w.-]+/")
_PATH = re.compile(r"^/[\w./~-]*$")


def base_model(model: str) -> str:
    """``openai/dall-e-3`` -> ``dall-e-3``: the hub's provider/model names follow the bare model's rules."""
    return _PROVIDER_PREFIX.sub("", model.strip(), count=1).lower()


def check_path(path: Any) -> str:
    path = (path or "").strip() if isinstance(path, str) else path
    if not isinstance(path, str) or not _PATH.match(path) or ".." in path:
        raise InputError(
            f"path {path!r} must be the image endpoint below the base URL, starting with /: "
            f"{SEED_PATH} (the docs) or {HUB_PATH} (the hub's code)"
        )
    return path


def _check_size(size: Any, bare: str) -> str:
    allowed = SIZES.get(bare)
    if allowed is not None:
        if size not in allowed:
            raise InputError(f"size {size!r} is not allowed for {bare}; use one of: {', '.join(allowed)}")
        return size
    if size != "auto":
        check.parse_size(size)
    return size


def generation_body(
    *,
    prompt: str,
    model: str,
    n: int,
    size: str,
    quality: str,
    style: str,
    response_format: str,
) -> dict:
    """The JSON body for a generation; ``quality`` and ``style`` go only to dall-e-3."""
    model = check.model_name(model)
    bare = base_model(model)
    check.prompt(prompt, max_chars=PROMPT_LIMITS.get(bare))
    check.count(n, high=MAX_N)
    if bare == "dall-e-3" and n != 1:
        raise InputError(f"n is {n}; dall-e-3 makes one image per call, so n must be 1 (dall-e-2 and gpt-image-1 take 1-10)")
    _check_size(size, bare)
    check.choice(response_format, RESPONSE_FORMATS, what="response_format")
    body = {"prompt": prompt, "model": model, "n": n, "size": size}
    if not bare.startswith("gpt-image"):  # GPT image models refuse it (and always answer base64)
        body["response_format"] = response_format
    if bare == "dall-e-3":
        body["quality"] = check.choice(quality, QUALITIES, what="quality")
        body["style"] = check.choice(style, STYLES, what="style")
    return body


def check_edit(*, prompt: str, model: str, n: int, size: str) -> None:
    """Everything about an edit that can be checked before the images are encoded."""
    model = check.model_name(model)
    if base_model(model) != EDIT_MODEL:
        raise InputError(f"model {model!r} cannot edit on AIGNE Hub: the hub passes input images only to {EDIT_MODEL}")
    check.prompt(prompt, max_chars=PROMPT_LIMITS[EDIT_MODEL])
    check.count(n, high=MAX_N)
    _check_size(size, EDIT_MODEL)


def edit_body(*, prompt: str, model: str, n: int, size: str, image_urls: list[str]) -> dict:
    """The same call with the input images in ``image``: a string for one, an array for several."""
    check_edit(prompt=prompt, model=model, n=n, size=size)
    if not image_urls:
        raise InputError("no input image; connect at least one image to edit")
    if any(not url.startswith("data:image/") for url in image_urls):
        raise InputError("input images must be sent as data:image/... URLs")  # bare base64 fails in the hub
    total = sum(len(url) for url in image_urls) + len(prompt.encode("utf-8"))
    if total > MAX_BODY_BYTES:
        raise InputError(
            f"the input images come to {total / 1048576:.1f} MB as data URLs; AIGNE Hub accepts at most "
            f"{MAX_BODY_BYTES // 1048576} MB per request: send fewer or smaller images"
        )
    return {
        "prompt": prompt,
        # the hub compares the name with "gpt-image-1" exactly and ignores the images otherwise
        "model": EDIT_MODEL,
        "n": n,
        "size": size,
        "image": image_urls[0] if len(image_urls) == 1 else list(image_urls),
    }


def parse_images(body: Any):
    """Both reply shapes; base64 under any alias, or links to download at once."""
    return openai_wire.parse_images(body, data_keys=("data", "images"))


def credit_message(body: Any) -> str:
    """The 402 ``NOT_ENOUGH`` reply as one line that keeps its payment link, else ''.

    Every other envelope (``{"error": "..."}``, ``{"error": {"message": ...}}``) is read by the
    default reader (see ``error_message``).
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("type") != "NOT_ENOUGH":
        return ""
    link = error.get("link") if isinstance(error.get("link"), str) else ""
    text = str(error.get("message") or "not enough AIGNE Hub credits")
    if link:
        text = text.replace(link, "")
    text = " ".join(text.split()) + " (NOT_ENOUGH)"
    return f"{text} Buy credits: {link}" if link else text


def error_message(body: Any) -> str:
    """The hub's words from any of its envelopes, keeping the 402 payment link."""
    return credit_message(body) or default_error_message(body)

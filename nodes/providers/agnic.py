"""Agnic AI Gateway (PROVIDERS.md section 3): images through OpenRouter-style chat completions.

There is no ``n``: one call gives one reply, so the node runs several calls for several images.
Images come back as data URLs in ``choices[].message.images``; a 200 without any is an error.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from ..core.envelopes import default_error_message
from ..core import validation as check
from ..core.credentials import Provider
from ..core.errors import InputError, RemoteImageError
from . import openai_wire
from .results import ImageResult

PROVIDER = Provider(
    id="agnic",
    label="Agnic",
    key_env="AGNIC_API_KEY",
    base_url_env="AGNIC_BASE_URL",
    default_base_url="https://api.agnic.ai/v1",
)

# The seed's model first; the others are OpenRouter's image models (any name is accepted).
MODELS = [
    "google/gemini-2.0-flash",
    "google/gemini-2.5-flash-image",
    "google/gemini-3-pro-image-preview",
    "openai/gpt-5-image-mini",
    "black-forest-labs/flux.2-pro",
]
DEFAULT_MODEL = MODELS[0]

# Ratio -> the resolution it gives: the seed's five, then the ones OpenRouter documents.
# nodes/emulator/agnic.py writes the table out again on purpose, so a wrong entry fails the tests.
ASPECT_RATIOS = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "9:16": (768, 1344),
    "4:3": (1184, 864),
    "3:2": (1248, 832),
    "2:3": (832, 1248),
    "3:4": (864, 1184),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "21:9": (1536, 672),
}
AUTO = "auto"  # not sent: the model's default (for edits: the input's shape)
IMAGE_SIZES = ["1K", "2K", "4K"]
# What the modalities input offers -> what is sent. Image-only models (FLUX, ...) need ["image"].
MODALITIES = {"image+text": ["image", "text"], "image": ["image"]}
MAX_COUNT = 8  # calls per node run; each is billed
MAX_SEED = 2**31 - 1  # models take 32-bit seeds; larger ComfyUI seeds are folded into range

STATUS_HINTS = {
    402: "out of credits, or the key reached its spending limit: add credits or raise the limit in the Agnic dashboard",
    403: "refused by content moderation: change the prompt or the input image",
    404: "check the model id (Agnic List Models shows the image models) and the base URL",
}

_MODALITY_404 = re.compile(r"output modalit", re.I)


def is_gemini(model: str) -> bool:
    return "gemini" in model.lower()


def check_options(*, model: str, prompt: str, aspect_ratio: str, image_size: str, modalities: str, allow_auto_ratio: bool = False) -> str:
    """Refuse what the gateway would refuse, before anything is sent; returns the cleaned model."""
    model = check.model_name(model)
    check.prompt(prompt)
    ratios = [AUTO, *ASPECT_RATIOS] if allow_auto_ratio else list(ASPECT_RATIOS)
    check.choice(aspect_ratio, ratios, what="aspect_ratio")
    check.choice(image_size, [AUTO, *IMAGE_SIZES], what="image_size")
    if image_size != AUTO and not is_gemini(model):
        raise InputError(f"image_size {image_size} works only with Gemini models, not {model}; set image_size to {AUTO}")
    check.choice(modalities, MODALITIES, what="modalities")
    return model


def chat_body(
    *,
    model: str,
    prompt: str,
    aspect_ratio: str = "1:1",
    image_size: str = AUTO,
    modalities: str = "image+text",
    seed: int | None = None,
    image_urls: Sequence[str] = (),
) -> dict:
    """One ``POST /chat/completions`` body; input images become ``image_url`` parts after the text."""
    model = check_options(
        model=model,
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        image_size=image_size,
        modalities=modalities,
        allow_auto_ratio=bool(image_urls),
    )
    if image_urls:
        content: Any = [{"type": "text", "text": prompt}]
        content += [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    else:
        content = prompt
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "modalities": list(MODALITIES[modalities]),
    }
    image_config = {}
    if aspect_ratio != AUTO:
        image_config["aspect_ratio"] = aspect_ratio
    if image_size != AUTO:
        image_config["image_size"] = image_size
    if image_config:
        body["image_config"] = image_config
    if seed is not None:
        body["seed"] = int(seed) % (MAX_SEED + 1)
    return body


def chat_bodies(*, count: int, seed: int, **options) -> list[dict]:
    """``count`` bodies for ``count`` calls; call i gets seed + i, so the images differ."""
    check.count(count, high=MAX_COUNT, what="count")
    body = chat_body(**options)
    return [{**body, "seed": (seed + index) % (MAX_SEED + 1)} for index in range(count)]


def _text(content: Any) -> str:
    """``content`` as text: a string, or the text parts of a list; None is ''."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text")) for p in content if isinstance(p, dict) and p.get("text"))
    return ""


def parse_chat(body: Any) -> ImageResult:
    """A chat completion -> its images (data URLs or links), the model's text and the rest."""
    if not isinstance(body, dict):
        raise RemoteImageError(f"the reply is not a JSON object but {type(body).__name__}")
    error = body.get("error")
    if error:  # OpenRouter can report a failed generation inside HTTP 200
        said = error.get("message") if isinstance(error, dict) else error
        raise RemoteImageError(f"the gateway reported an error: {said}{error_details(body)}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise RemoteImageError("the reply has no 'choices', so no image came back")
    images, texts, reasons = [], [], []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        found = message.get("images")
        for item in found if isinstance(found, list) else []:
            url = item.get("image_url", item) if isinstance(item, dict) else item
            images.append(openai_wire.image_item(url, len(images)))
        texts += [t for t in (_text(message.get("content")), message.get("refusal")) if isinstance(t, str) and t.strip()]
        reason, native = choice.get("finish_reason"), choice.get("native_finish_reason")
        if reason or native:
            reasons.append(f"{reason} ({native})" if reason and native and native != reason else str(reason or native))
    text = "\n".join(texts).strip()
    if not images:
        said = f"the model answered: {text!r}" if text else "the model gave no text either"
        raise RemoteImageError(
            f"the reply has no image (finish reason: {', '.join(reasons) or 'none'}); {said}",
            hint="the model refused or answered in words: ask plainly for a picture, or pick a model whose "
            "output modalities include image (Agnic List Models)",
        )
    info = {key: body[key] for key in ("id", "model", "provider", "usage") if key in body}
    if reasons:
        info["finish_reason"] = reasons[0] if len(reasons) == 1 else reasons
    return ImageResult(images=images, info=info, text=text)


def error_details(body: Any) -> str:
    """What OpenRouter's ``{"error": {"code", "message", "metadata"}}`` adds to its message: the
    moderation reasons, the upstream provider and its words, and the fix for the modalities 404.
    ``error_message`` appends it to the default reading of an error reply, ``parse_chat`` to an
    error reported inside HTTP 200."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    details = ""
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    reasons = metadata.get("reasons")
    if reasons:
        details += f"; flagged for: {', '.join(map(str, reasons)) if isinstance(reasons, list) else reasons}"
    if metadata.get("provider_name"):
        details += f"; upstream provider: {metadata['provider_name']}"
    raw = metadata.get("raw")
    if isinstance(raw, str) and raw:
        details += f"; it said: {raw[:300]}"
    if _MODALITY_404.search(str(error.get("message", ""))):
        details += (
            ". This model cannot answer in the requested modalities: image-only models (e.g. FLUX) need "
            "modalities 'image' instead of 'image+text'"
        )
    return details


def image_model_ids(body: Any) -> list[str]:
    """``/models`` -> sorted ids; only image-output models when entries carry
    ``architecture.output_modalities`` (OpenRouter's shape), every model otherwise (plain OpenAI list)."""
    items = body.get("data") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise RemoteImageError("the model list reply has no 'data' list")

    def outputs(item):
        architecture = item.get("architecture") if isinstance(item, dict) else None
        return architecture.get("output_modalities") if isinstance(architecture, dict) else None

    if any(isinstance(outputs(item), list) for item in items):
        items = [item for item in items if "image" in (outputs(item) or [])]
    return openai_wire.parse_model_ids(items)


def error_message(body: Any) -> str:
    """OpenRouter's or Agnic's envelope, plus the metadata that says why (moderation, provider)."""
    return default_error_message(body) + error_details(body)

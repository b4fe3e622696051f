"""Agnic AI Gateway (docs/providers.md section 3): images through OpenRouter-style chat completions.

There is no ``n``: one call gives one reply, so the node runs several calls for several images.
Images come back as data URLs in ``choices[].message.images``; a 200 without any is an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..core import validation as check
from ..core.errors import RemoteImageError
from ..core.payloads import ImageResult, Uploads
from ..core.provider import Provider, register
from . import agnic_models, openai_wire
from .catalogue import EDIT, GENERATE, Operation

CATALOGUE = agnic_models.CATALOGUE
ASPECT_RATIOS = agnic_models.RATIOS  # what the nodes offer; each model's own list is its catalogue entry
AUTO = "auto"  # not sent: the model's default (for edits: the input's shape); for modalities: from the model list
IMAGE_SIZES = list(agnic_models.IMAGE_SIZES)
# What the modalities input offers -> what is sent. Image-only models (FLUX, ...) need ["image"].
MODALITIES = {"image+text": ["image", "text"], "image": ["image"]}
MODALITY_CHOICES = [AUTO, *MODALITIES]
MAX_COUNT = CATALOGUE.endpoint[GENERATE].ranges["count"].high  # calls per node run, each billed: the widget's top
MAX_SEED = 2**31 - 1  # models take 32-bit seeds; larger ComfyUI seeds are folded into range
UPLOADS = Uploads(data_url=True)  # every input image as a data URL in the chat message

_MODALITY_404 = re.compile(r"output modalit", re.I)
_UNKNOWN_MODEL = re.compile(r"not a valid model", re.I)


def aspect_ratio_choices(edit: bool) -> list[str]:
    """An edit may leave the ratio to the model (auto: the input's shape); a generation names one."""
    return [AUTO, *ASPECT_RATIOS] if edit else list(ASPECT_RATIOS)


def _limits(rules: Operation | None, edit: bool) -> Operation:
    """The model's rules, else the gateway's own (a model the catalogue does not know)."""
    return rules or CATALOGUE.endpoint[EDIT if edit else GENERATE]


def check_options(
    *,
    model: str,
    prompt: str,
    aspect_ratio: str,
    image_size: str,
    modalities: str,
    count: int = 1,
    edit: bool = False,
    on=None,
) -> str:
    """Refuse what the gateway would refuse, before anything is sent; returns the cleaned model.
    A model the catalogue knows gets only the aspect ratios and image sizes it takes, and at most
    the count of calls its rules give."""
    model = check.model_name(model)
    rules = CATALOGUE.rules(model, EDIT if edit else GENERATE, on)
    limits = _limits(rules, edit)
    check.prompt(prompt, max_chars=limits.prompt_limit)
    check.choice(aspect_ratio, aspect_ratio_choices(edit), what="aspect_ratio")
    check.choice(image_size, [AUTO, *IMAGE_SIZES], what="image_size")
    check.choice(modalities, MODALITY_CHOICES, what="modalities")
    limits.check_number(model, "count", count)
    if rules is not None:
        for name, value in (("aspect_ratio", aspect_ratio), ("image_size", image_size)):
            if value != AUTO:
                rules.check_option(model, name, value, AUTO)
    return model


def modalities_for(choice: str, model: str, live_outputs: dict[str, list[str]] | None) -> list[str]:
    """What to send for the modalities input: "auto" asks for image only when the model answers
    in images only (the gateway's model list says so when it is at hand, else the catalogue),
    image and text otherwise."""
    if choice != AUTO:
        return list(MODALITIES[choice])
    outputs = (live_outputs or {}).get(model)
    if outputs is None:
        entry = CATALOGUE.find(model)
        outputs = entry.output_modalities if entry is not None else ()
    return ["image"] if "image" in outputs and "text" not in outputs else ["image", "text"]


def knows_outputs(model: str) -> bool:
    """Whether the catalogue knows what ``model`` answers in (so "auto" needs no model list)."""
    entry = CATALOGUE.find(model)
    return entry is not None and bool(entry.output_modalities)


def chat_body(
    *,
    model: str,
    prompt: str,
    aspect_ratio: str = "1:1",
    image_size: str = AUTO,
    modalities: str = AUTO,
    seed: int | None = None,
    image_urls: Sequence[str] = (),
    live_outputs: dict[str, list[str]] | None = None,
) -> dict:
    """One ``POST /chat/completions`` body from inputs ``check_options`` passed; input images
    become ``image_url`` parts after the text."""
    if image_urls:
        content: Any = [{"type": "text", "text": prompt}]
        content += [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    else:
        content = prompt
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "modalities": modalities_for(modalities, model, live_outputs),
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


def check_count(count, *, edit: bool = False) -> int:
    """The count, checked against the gateway's rules before a model is chosen (``check_options``
    checks it again against the model's own), so a bad count reads no model list."""
    return _limits(None, edit).check_number(AUTO, "count", count)


def chat_bodies(*, count: int, seed: int, **options) -> list[dict]:
    """``count`` bodies for ``count`` calls; call i gets seed + i, so the images differ."""
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
        texts += [
            t for t in (_text(message.get("content")), message.get("refusal")) if isinstance(t, str) and t.strip()
        ]
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
            "modalities 'image' (or 'auto', which reads them from the model list) instead of 'image+text'"
        )
    return details


def _outputs(item: Any) -> list | None:
    architecture = item.get("architecture") if isinstance(item, dict) else None
    outputs = architecture.get("output_modalities") if isinstance(architecture, dict) else None
    return outputs if isinstance(outputs, list) else None


def model_outputs(body: Any) -> dict[str, list[str]]:
    """``/models`` -> id: its ``architecture.output_modalities``, for the entries that carry them."""
    return {
        item["id"]: _outputs(item)
        for item in openai_wire.model_items(body)
        if _outputs(item) is not None and isinstance(item.get("id"), str)
    }


def image_model_ids(body: Any) -> list[str]:
    """``/models`` -> sorted ids; only image-output models when entries carry
    ``architecture.output_modalities`` (OpenRouter's shape), every model otherwise (plain OpenAI list)."""
    items = openai_wire.model_items(body)
    if any(_outputs(item) is not None for item in items):
        items = [item for item in items if "image" in (_outputs(item) or [])]
    return openai_wire.parse_model_ids(items)


def read_reply(body: Any) -> tuple[int, Any, str]:
    """(images, usage, generation id) of a chat completion, for the spend journal."""
    if not isinstance(body, dict):
        return 0, None, ""
    count = 0
    for choice in body.get("choices") if isinstance(body.get("choices"), list) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        images = message.get("images") if isinstance(message, dict) else None
        count += len(images) if isinstance(images, list) else 0
    return count, body.get("usage"), body["id"] if isinstance(body.get("id"), str) else ""


def is_unknown_model(error: RemoteImageError) -> bool:
    """OpenRouter's "<id> is not a valid model ID" (HTTP 400)."""
    return bool(_UNKNOWN_MODEL.search(error.message))


def error_message(body: Any) -> str:
    """OpenRouter's or Agnic's envelope, plus the metadata that says why (moderation, provider)."""
    return openai_wire.error_message(body) + error_details(body)


PROVIDER = register(
    Provider(
        id="agnic",
        label="Agnic",
        key_env="AGNIC_API_KEY",
        base_url_env="AGNIC_BASE_URL",
        default_base_url="https://api.agnic.ai/v1",
        status_hints={
            402: (
                "out of credits, or the key reached its spending limit: "
                "add credits or raise the limit in the Agnic dashboard"
            ),
            403: "refused by content moderation: change the prompt or the input image",
            404: "check the model id (Agnic List Models shows the image models) and the base URL",
        },
        error_reader=error_message,
        lasting_refusal=openai_wire.lasting_refusal,
        key_patterns=(r"agnic_tok_[A-Za-z0-9_-]+",),
        catalogue=CATALOGUE,
        count_asked=lambda json_body, files: 1,  # one reply, one image: the API has no n
        read_reply=read_reply,
        usage_names={
            "prompt_tokens": "input_tokens",
            "completion_tokens": "output_tokens",
            "total_tokens": "total_tokens",
            "cost": "cost",  # OpenRouter's usage accounting, in USD
        },
    )
)

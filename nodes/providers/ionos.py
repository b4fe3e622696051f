"""IONOS AI Model Hub (docs/providers.md section 1): OpenAI-style generation, text-only multipart edits."""

from __future__ import annotations

from typing import Any

from ..core import validation as check
from ..core.payloads import Uploads
from ..core.provider import Provider, register
from . import ionos_models, openai_wire
from .catalogue import AUTO, EDIT, GENERATE, SizeRule, parse_size, size_text

CATALOGUE = ionos_models.CATALOGUE


def error_message(body: Any) -> str:
    """IONOS's envelope ``{"httpStatus": 401, "messages": [{"errorCode", "message"}]}``; its
    OpenAI-compatible routes may also answer OpenAI's (docs/providers.md section 1)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        parts = []
        for item in messages:
            if isinstance(item, dict):
                code, text = item.get("errorCode"), str(item.get("message") or "")
                parts.append(f"{text} ({code})" if code else text)
            elif item:
                parts.append(str(item))
        if any(parts):
            return "; ".join(p for p in parts if p)
    return openai_wire.error_message(body)


PROVIDER = register(
    Provider(
        id="ionos",
        label="IONOS",
        key_env="IONOS_API_TOKEN",
        base_url_env="IONOS_BASE_URL",
        default_base_url="https://openai.inference.de-txl.ionos.com/v1",
        status_hints={
            401: "AI Model Hub tokens are long JWTs that start with eyJ",
            429: "IONOS allows 10 images a minute (burst 20); wait a minute and run again",
        },
        key_patterns=(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+){0,2}",),  # AI Model Hub tokens are JWTs
        error_reader=error_message,
        lasting_refusal=openai_wire.lasting_refusal,  # its OpenAI-compatible gateway may answer so
        catalogue=CATALOGUE,
        count_asked=openai_wire.count_asked,
        read_reply=openai_wire.read_reply,
        usage_names=openai_wire.USAGE_NAMES,
    )
)
UPLOADS = Uploads(data_url=True, masks="each")  # one edit call per image, its mask beside it, both as data URLs
KNOWN_IDS = tuple(entry.id for entry in CATALOGUE.models)
GENERATION_SIZES = [size_text(size) for size in CATALOGUE.endpoint[GENERATE].sizes]
OUTPUT_FORMATS = list(ionos_models.EDIT_FORMATS)


def generation_body(*, model: str, prompt: str, size: str, n: int) -> dict:
    model = check.model_name(model)
    rules = CATALOGUE.rules(model, GENERATE)
    limits = rules or CATALOGUE.endpoint[GENERATE]  # the endpoint's rules for models it does not list
    check.prompt(prompt, max_chars=limits.prompt_limit)
    size = rules.check_size(model, size) if rules else check.choice(size, GENERATION_SIZES, what="size")
    limits.check_number(model, "n", n)
    return openai_wire.request_body(model=model, prompt=prompt, size=size, n=n, response_format="b64_json")


def _edit_size(rule: SizeRule, size: str, input_width: int, input_height: int) -> str:
    """``auto`` is the input's own size fit to the edit rule (IONOS: multiples of 16, 64..2048)."""
    if not isinstance(size, str) or size.strip().lower() in ("", AUTO):
        return size_text(rule.fit(input_width, input_height))
    return size_text(rule.check_sides(*parse_size(size)))


def check_edit(*, model: str, prompt: str, size: str, n: int, output_format: str, input_size: tuple[int, int]) -> dict:
    """The edit's text fields, checked (``input_size``: the input image's width and height, which
    ``auto`` keeps)."""
    model = check.model_name(model)
    rules = CATALOGUE.rules(model, EDIT) or CATALOGUE.endpoint[EDIT]  # the endpoint's rules for models it does not list
    check.prompt(prompt, max_chars=rules.prompt_limit)
    rules.check_number(model, "n", n)
    check.choice(output_format, OUTPUT_FORMATS, what="output_format")
    return {
        "model": model,
        "prompt": prompt,
        "size": _edit_size(rules.size_rule, size, *input_size),
        "n": n,
        "output_format": output_format,
    }


def edit_fields(fields: dict, images: list[str], mask: str | None) -> list[tuple[str, str]]:
    """One edit call's multipart parts, every one a text part: IONOS takes the image and the mask
    as (data) URLs, not files -- one image per call."""
    (image_url,) = images
    parts = [
        ("model", fields["model"]),
        ("prompt", fields["prompt"]),
        ("url", image_url),
        ("size", fields["size"]),
        ("n", str(fields["n"])),
        ("output_format", fields["output_format"]),
    ]
    if mask:
        parts.append(("mask_image", mask))
    return parts


def image_model_ids(body: Any) -> list[str]:
    """The image models of a ``GET /models`` reply: IONOS lists chat, embedding and image models
    together, with no capability field."""
    return openai_wire.image_like_ids(parse_model_ids(body), KNOWN_IDS)


parse_images = openai_wire.parse_images
parse_model_ids = openai_wire.parse_model_ids

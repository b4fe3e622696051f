"""IONOS AI Model Hub (PROVIDERS.md section 1): OpenAI-style generation, text-only multipart edits."""

from __future__ import annotations

from ..core import validation as check
from ..core.credentials import Provider
from ..core.errors import InputError
from . import openai_wire

PROVIDER = Provider(
    id="ionos",
    label="IONOS",
    key_env="IONOS_API_TOKEN",
    base_url_env="IONOS_BASE_URL",
    default_base_url="https://openai.inference.de-txl.ionos.com/v1",
)

GENERATE_MODELS = [
    "black-forest-labs/FLUX.1-schnell",
    "black-forest-labs/FLUX.2-klein-4B",
    "stabilityai/stable-diffusion-xl-base-1.0",
]
EDIT_MODELS = ["black-forest-labs/FLUX.2-klein-4B"]
GENERATION_ONLY = {"black-forest-labs/FLUX.1-schnell", "stabilityai/stable-diffusion-xl-base-1.0"}
GENERATION_SIZES = ["1024x1024", "1024x1792", "1792x1024"]
OUTPUT_FORMATS = ["png", "jpeg", "jpg", "webp"]
EDIT_PROMPT_LIMIT = 1000
EDIT_SIZE_RULE = {"low": 64, "high": 2048, "multiple": 16}
MAX_N = 10

STATUS_HINTS = {
    401: "AI Model Hub tokens are long JWTs that start with eyJ",
    429: "IONOS allows 10 images a minute (burst 20); wait a minute and run again",
}


def generation_body(*, model: str, prompt: str, size: str, n: int) -> dict:
    model = check.model_name(model)
    check.prompt(prompt)
    check.choice(size, GENERATION_SIZES, what="size")
    check.count(n, high=MAX_N)
    return openai_wire.request_body(model=model, prompt=prompt, size=size, n=n, response_format="b64_json")


def edit_size(size: str, input_width: int, input_height: int) -> str:
    """``auto`` is the input's own size fit to IONOS's rules (multiples of 16, 64..2048)."""
    if not isinstance(size, str) or size.strip().lower() in ("", "auto"):
        width, height = check.fit_size(input_width, input_height, **EDIT_SIZE_RULE)
    else:
        width, height = check.size_in_range(size, **EDIT_SIZE_RULE)
    return f"{width}x{height}"


def check_edit(*, model: str, prompt: str, n: int, output_format: str) -> str:
    model = check.model_name(model)
    if model in GENERATION_ONLY:
        raise InputError(f"{model} cannot edit images on IONOS; use one of: {', '.join(EDIT_MODELS)}")
    check.prompt(prompt, max_chars=EDIT_PROMPT_LIMIT)
    check.count(n, high=MAX_N)
    check.choice(output_format, OUTPUT_FORMATS, what="output_format")
    return model


def edit_fields(*, model: str, prompt: str, image_url: str, mask_url: str | None, size: str, n: int, output_format: str) -> list[tuple[str, str]]:
    """Every field a plain text part: IONOS takes the image and mask as (data) URLs, not files."""
    fields = [
        ("model", model),
        ("prompt", prompt),
        ("url", image_url),
        ("size", size),
        ("n", str(n)),
        ("output_format", output_format),
    ]
    if mask_url:
        fields.append(("mask_image", mask_url))
    return fields


def image_model_ids(ids: list[str]) -> list[str]:
    """IONOS lists chat, embedding and image models together, with no capability field."""
    return openai_wire.image_like_ids(ids, GENERATE_MODELS)


parse_images = openai_wire.parse_images
parse_model_ids = openai_wire.parse_model_ids


def models_for(ids: list[str], operation: str) -> list[str]:
    """The ids of a live list that can do ``operation`` ("generate" or "edit"), by the known lists."""
    return [i for i in ids if i not in GENERATION_ONLY] if operation == "edit" else ids

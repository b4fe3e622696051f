"""OpenAI's image models (api.openai.com), checked on 2026-11-29.

Sources:
- Deprecations: https://platform.openai.com/docs/deprecations -- dall-e-2 and dall-e-3 shut down
  2026-05-12, gpt-image-1 2026-10-23; gpt-image-1-mini, gpt-image-1.5 and chatgpt-image-latest
  shut down 2026-12-01 with gpt-image-2 as the replacement (announced 2026-06-02).
- Image API reference and OpenAI's OpenAPI document (openai/openai-openapi, CreateImageRequest and
  CreateImageEditRequest): gpt-image-2 sizes (multiples of 16, ratio up to 3:1, at most 3840x2160),
  moderation on generations only, input_fidelity on edits, no response_format for GPT image models.
- ComfyUI's comfy_api_nodes/nodes_openai.py (2026): the presets, the custom-size limits (longest
  side 3840, 655,360 to 8,294,400 pixels), quality xhigh/max for 2.5, no transparent background
  on gpt-image-2; docs.comfy.org (OpenAIGPTImageNodeV3): 2.6 takes the same parameters as 2.5.
- Sources disagree on whether 2.5 or 2.6 is the recommended successor; both are listed as served.
"""

from __future__ import annotations

from datetime import date

from .catalogue import AUTO, EDIT, GENERATE, Catalogue, Model, Operation, SizeRule

DEPRECATIONS = "https://platform.openai.com/docs/deprecations"
IMAGE_API = "https://platform.openai.com/docs/api-reference/images"
COMFY_NODES = "https://github.com/Comfy-Org/ComfyUI/blob/master/comfy_api_nodes/nodes_openai.py"

PROMPT_LIMIT = 32000
MAX_N = 10
FORMATS = ("png", "jpeg", "webp")
LEGACY_SIZES = ("1024x1024", "1536x1024", "1024x1536", AUTO)
GPT_IMAGE_2_SIZES = (
    AUTO,
    "1024x1024",
    "1536x1024",
    "1024x1536",
    "2048x2048",
    "2048x1152",
    "1152x2048",
    "3840x2160",
    "2160x3840",
)
GPT_IMAGE_2_RULE = SizeRule(multiple=16, max_edge=3840, max_ratio=3, min_pixels=655_360, max_pixels=8_294_400)
# Streaming: stream plus partial_images 1-3 (CreateImageRequest / CreateImageEditRequest: "only
# supported for the GPT image models"); a model without this option is refused it before sending.
PARTIAL_IMAGES = (1, 2, 3)
QUALITIES = ("low", "medium", "high")
QUALITIES_2_5 = (*QUALITIES, "xhigh", "max")
WITH_TRANSPARENCY = ("transparent", "opaque")


def _gpt_image(*, sizes, rule=None, qualities=QUALITIES, backgrounds=WITH_TRANSPARENCY, fidelity=()) -> dict:
    """Generate and edit rules of one GPT image model (``fidelity``: its input_fidelity values)."""
    shared = {
        "quality": qualities,
        "background": backgrounds,
        "output_format": FORMATS,
        "output_compression": (),
        "partial_images": PARTIAL_IMAGES,
    }
    generate = Operation(sizes, rule, {**shared, "moderation": ("low",)}, MAX_N, PROMPT_LIMIT)
    edit = Operation(sizes, rule, {**shared, **({"input_fidelity": fidelity} if fidelity else {})}, MAX_N, PROMPT_LIMIT)
    return {GENERATE: generate, EDIT: edit}


_GPT_IMAGE_2 = _gpt_image(sizes=GPT_IMAGE_2_SIZES, rule=GPT_IMAGE_2_RULE, backgrounds=("opaque",))
_GPT_IMAGE_2_5 = _gpt_image(sizes=GPT_IMAGE_2_SIZES, rule=GPT_IMAGE_2_RULE, qualities=QUALITIES_2_5)
_LAST_DAY_OF_1_X = date(2026, 12, 1)

CATALOGUE = Catalogue(
    provider="OpenAI",
    checked=date(2026, 11, 29),
    source=DEPRECATIONS,
    models=(
        Model("gpt-image-2", _GPT_IMAGE_2, aliases=("gpt-image-2-2026-04-21",), source=IMAGE_API),
        Model("gpt-image-2.5-flare", _GPT_IMAGE_2_5, source=COMFY_NODES),
        Model("gpt-image-2.5-sunburst", _GPT_IMAGE_2_5, source=COMFY_NODES),
        Model(
            "gpt-image-2.6-flare", _GPT_IMAGE_2_5, source="https://docs.comfy.org/built-in-nodes/OpenAIGPTImageNodeV3"
        ),
        Model(
            "gpt-image-2.6-sunburst",
            _GPT_IMAGE_2_5,
            source="https://docs.comfy.org/built-in-nodes/OpenAIGPTImageNodeV3",
        ),
        Model(
            "gpt-image-1.5",
            _gpt_image(sizes=LEGACY_SIZES, fidelity=("high", "low")),
            _LAST_DAY_OF_1_X,
            "gpt-image-2",
            DEPRECATIONS,
        ),
        Model("gpt-image-1-mini", _gpt_image(sizes=LEGACY_SIZES), _LAST_DAY_OF_1_X, "gpt-image-2", DEPRECATIONS),
        # edits only: the generation endpoint does not list it
        Model(
            "chatgpt-image-latest",
            {EDIT: _gpt_image(sizes=LEGACY_SIZES)[EDIT]},
            _LAST_DAY_OF_1_X,
            "gpt-image-2",
            DEPRECATIONS,
        ),
        Model("gpt-image-1", {}, date(2026, 10, 23), "gpt-image-2", DEPRECATIONS),
        Model("dall-e-3", {}, date(2026, 5, 12), "gpt-image-2", DEPRECATIONS),
        Model("dall-e-2", {}, date(2026, 5, 12), "gpt-image-2", DEPRECATIONS),
    ),
)
DEFAULT_MODEL = "gpt-image-2"

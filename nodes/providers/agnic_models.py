"""The Agnic AI Gateway's image models (OpenRouter ids), checked on 2026-11-29.

Sources:
- Agnic's own code: agnicpay/pixelai (src/lib/models.ts, April 2026: default
  google/gemini-2.5-flash-image, the live list from /models?output_modalities=image) and
  agnicpay/agnic-wallet-skills (skills/ai-gateway/reference/models-and-options.md, April 2026:
  gemini-3-pro-image-preview, gemini-3.1-flash-image-preview, openai/gpt-5-image, flux.2 models).
- Google's Gemini deprecations page (https://ai.google.dev/gemini-api/docs/deprecations):
  gemini-2.0-flash shut down 2026-06-01, gemini-2.5-flash-image 2026-10-02. Whether the gateway
  still routes a shut-down id is unknown, so those are announced on the node rather than refused;
  the gateway's "not a valid model ID" then lists its models.
- The Gemini 3 image models under two ids each: Google says the GA ids (gemini-3-pro-image,
  gemini-3.1-flash-image, GA since 2026-05-28) replaced the previews on 2026-06-25, while Agnic's
  own April 2026 lists carry the -preview ids. Which one the gateway serves today is unknown, so
  each pair is one model with the other id as its alias: the node sends the id the gateway's live
  list carries (when it has the list at hand), and retries a "not a valid model ID" once with the
  other id, remembering per gateway which one answered.
- Aspect ratios 1:4, 4:1, 1:8, 8:1 and image_size 0.5K: Gemini 3.1 Flash Image (Google's
  image_config enums; OpenRouter passes them on). Resolutions at 1K from Google's table.
"""

from __future__ import annotations

from datetime import date

from .catalogue import EDIT, GENERATE, Catalogue, Model, Operation

GEMINI_DEPRECATIONS = "https://ai.google.dev/gemini-api/docs/deprecations"
AGNIC_SKILLS = (
    "https://github.com/agnicpay/agnic-wallet-skills/blob/main/skills/ai-gateway/reference/models-and-options.md"
)

# aspect_ratio -> the resolution it gives at 1K: the five of Agnic's doc page, OpenRouter's others, then Gemini 3.1's
RATIOS = {
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
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}
STANDARD_RATIOS = tuple(list(RATIOS)[:10])
IMAGE_SIZES = ("0.5K", "1K", "2K", "4K")
IMAGE_AND_TEXT = ("image", "text")
IMAGE_ONLY = ("image",)


def _chat(*, ratios=(), image_sizes=None) -> dict:
    """Generate and edit: a chat call with images in and out. ``ratios`` () = any the gateway
    takes; ``image_sizes`` None = the model takes no image_size."""
    options = {"aspect_ratio": ratios, **({"image_size": image_sizes} if image_sizes else {})}
    operation = Operation(options=options, max_n=1)
    return {GENERATE: operation, EDIT: operation}


_FLASH_3_1 = _chat(ratios=tuple(RATIOS), image_sizes=IMAGE_SIZES)
_PRO_3 = _chat(ratios=STANDARD_RATIOS, image_sizes=IMAGE_SIZES[1:])
_ANY_RATIO = _chat()

CATALOGUE = Catalogue(
    provider="Agnic",
    checked=date(2026, 11, 29),
    source=AGNIC_SKILLS,
    refuses_after_shutdown=False,
    models=(
        Model(
            "google/gemini-3.1-flash-image",
            _FLASH_3_1,
            source=GEMINI_DEPRECATIONS,
            output_modalities=IMAGE_AND_TEXT,
            aliases=("google/gemini-3.1-flash-image-preview",),
        ),
        Model(
            "google/gemini-3-pro-image",
            _PRO_3,
            source=GEMINI_DEPRECATIONS,
            output_modalities=IMAGE_AND_TEXT,
            aliases=("google/gemini-3-pro-image-preview",),
        ),
        Model("openai/gpt-5-image", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_AND_TEXT),
        Model("openai/gpt-5-image-mini", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_AND_TEXT),
        Model("black-forest-labs/flux.2-pro", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_ONLY),
        Model("black-forest-labs/flux.2-max", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_ONLY),
        Model("black-forest-labs/flux.2-klein-4b", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_ONLY),
        Model(
            "google/gemini-2.5-flash-image",
            _chat(ratios=STANDARD_RATIOS),
            date(2026, 10, 2),
            "google/gemini-3.1-flash-image",
            GEMINI_DEPRECATIONS,
            output_modalities=IMAGE_AND_TEXT,
        ),
        # the example of Agnic's doc page: a text model, never an image one
        Model("google/gemini-2.0-flash", {}, date(2026, 6, 1), "google/gemini-3.1-flash-image", GEMINI_DEPRECATIONS),
    ),
)
DEFAULT_MODEL = "google/gemini-3.1-flash-image"

"""The Agnic AI Gateway's image models (OpenRouter ids), checked on 2026-12-06.

Sources:
- Agnic's own code: agnicpay/pixelai (src/lib/models.ts, April 2026: the live list from
  /models?output_modalities=image) and agnicpay/agnic-wallet-skills
  (skills/ai-gateway/reference/models-and-options.md, April 2026: openai/gpt-5-image, flux.2 models).
- Google's Gemini changelog and deprecations page (https://ai.google.dev/gemini-api/docs/changelog,
  .../deprecations, read 2026-12-06): gemini-nano-banana-2.1 GA on 2026-10-06 (1K, 2K, 4K; no
  0.5K; every aspect ratio of 3.1 Flash Image), and on the same day gemini-3.1-flash-image
  deprecated for it -- two secondary sources (LiteLLM discussion #44983, October 2026) report it
  shut down on 2026-10-29; gemini-3-pro-image GA since 2026-05-28 with no shutdown date; the
  -preview ids shut down 2026-06-25; gemini-2.5-flash-image 2026-10-02; gemini-2.0-flash
  2026-06-01. gemini-3.1-flash-lite-image ("Nano Banana 2 Lite", 2026-06-30): 1K only.
- OpenAI's deprecations page: gpt-5 shuts down 2026-12-11; whether the gateway keeps routing
  openai/gpt-5-image after that is unknown, so it stays listed with a note.
Whether the gateway still routes a shut-down id is unknown, so those are announced on the node
rather than refused (``shutdown_hosts=()``); the gateway's "not a valid model ID" then lists its
models. The OpenRouter id google/gemini-nano-banana-2.1 follows Google's id; no stored OpenRouter
page confirms it yet.
"""

from __future__ import annotations

from datetime import date

from .catalogue import ANY, EDIT, GENERATE, ONE, Catalogue, Model, Operation, Price, Range

GEMINI_DEPRECATIONS = "https://ai.google.dev/gemini-api/docs/deprecations"
GEMINI_CHANGELOG = "https://ai.google.dev/gemini-api/docs/changelog"
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
# The API has no n: a reply is one image, and the node's count is that many billed calls
NUMBERS = {"n": ONE, "count": Range(1, 8)}
# A model the catalogue does not know: any ratio and image size the gateway takes, the same numbers
GATEWAY = Operation(ranges=NUMBERS)


def _chat(*, ratios=(), image_sizes=None) -> dict:
    """Generate and edit: a chat call with images in and out. ``ratios`` () = any the gateway
    takes; ``image_sizes`` None = the model takes no image_size."""
    options = {"aspect_ratio": ratios, **({"image_size": image_sizes} if image_sizes else {})}
    operation = Operation(options=options, ranges=NUMBERS)
    return {GENERATE: operation, EDIT: operation}


_NANO_BANANA_2_1 = _chat(ratios=tuple(RATIOS), image_sizes=IMAGE_SIZES[1:])
_PRO_3 = _chat(ratios=STANDARD_RATIOS, image_sizes=IMAGE_SIZES[1:])
_LITE = _chat(image_sizes=("1K",))
_ANY_RATIO = _chat()
# Prices (USD): Google's list prices per image by image_size; the gateway reports what each call
# cost (usage.cost), which the journal keeps as reported. Image output tokens: $30 per million.
_NB_PRICE = Price(
    "https://ngrok.com/changelog/ai-gateway-gemini-image-output",
    date(2026, 12, 6),
    per_image={("1K", ANY): 0.0336},
    per_million_tokens={"input_tokens": 1.50, "output_tokens": 30.00},
)
_PRO_PRICE = Price(
    "https://ngrok.com/changelog/ai-gateway-gemini-image-output",
    date(2026, 12, 6),
    per_image={("1K", ANY): 0.134, ("2K", ANY): 0.134, ("4K", ANY): 0.24},
    per_million_tokens={"output_tokens": 120.00},
)
NANO_BANANA = "google/gemini-nano-banana-2.1"
PRO = "google/gemini-3-pro-image"

CATALOGUE = Catalogue(
    provider="Agnic",
    checked=date(2026, 12, 6),
    source=AGNIC_SKILLS,
    shutdown_hosts=(),
    prices="Google's list prices per image (the gateway reports each call's cost, which counts as reported)",
    endpoint={GENERATE: GATEWAY, EDIT: GATEWAY},
    preferred={
        GENERATE: (NANO_BANANA, PRO, "google/gemini-3.1-flash-lite-image", "black-forest-labs/flux.2-pro"),
        EDIT: (NANO_BANANA, PRO, "google/gemini-3.1-flash-lite-image", "black-forest-labs/flux.2-pro"),
    },
    models=(
        Model(
            NANO_BANANA, _NANO_BANANA_2_1, source=GEMINI_CHANGELOG, output_modalities=IMAGE_AND_TEXT, price=_NB_PRICE
        ),
        Model(PRO, _PRO_3, source=GEMINI_DEPRECATIONS, output_modalities=IMAGE_AND_TEXT, price=_PRO_PRICE),
        Model("google/gemini-3.1-flash-lite-image", _LITE, source=GEMINI_CHANGELOG, output_modalities=IMAGE_AND_TEXT),
        Model(
            "openai/gpt-5-image",
            _ANY_RATIO,
            source=AGNIC_SKILLS,
            output_modalities=IMAGE_AND_TEXT,
            note="OpenAI shuts gpt-5 down on 2026-12-11; the gateway's plans for gpt-5-image are unknown",
        ),
        Model("openai/gpt-5-image-mini", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_AND_TEXT),
        Model("black-forest-labs/flux.2-pro", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_ONLY),
        Model("black-forest-labs/flux.2-max", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_ONLY),
        Model("black-forest-labs/flux.2-klein-4b", _ANY_RATIO, source=AGNIC_SKILLS, output_modalities=IMAGE_ONLY),
        # retired: kept to name the successor (the gateway may still route some of them)
        Model(
            "google/gemini-3.1-flash-image",
            _chat(ratios=tuple(RATIOS), image_sizes=IMAGE_SIZES),
            date(2026, 10, 29),
            NANO_BANANA,
            GEMINI_CHANGELOG,
            output_modalities=IMAGE_AND_TEXT,
        ),
        Model("google/gemini-3.1-flash-image-preview", {}, date(2026, 6, 25), NANO_BANANA, GEMINI_DEPRECATIONS),
        Model("google/gemini-3-pro-image-preview", {}, date(2026, 6, 25), PRO, GEMINI_DEPRECATIONS),
        Model(
            "google/gemini-2.5-flash-image",
            _chat(ratios=STANDARD_RATIOS),
            date(2026, 10, 2),
            NANO_BANANA,
            GEMINI_DEPRECATIONS,
            output_modalities=IMAGE_AND_TEXT,
        ),
        # the example of Agnic's doc page: a text model, never an image one
        Model("google/gemini-2.0-flash", {}, date(2026, 6, 1), NANO_BANANA, GEMINI_DEPRECATIONS, text_only=True),
    ),
)

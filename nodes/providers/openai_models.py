"""OpenAI's image models (api.openai.com), checked on 2026-12-06.

Sources:
- Deprecations: https://platform.openai.com/docs/deprecations -- dall-e-2 and dall-e-3 shut down
  2026-05-12, gpt-image-1 2026-10-23; gpt-image-1-mini, gpt-image-1.5 (and its snapshot
  gpt-image-1.5-2025-12-16) and chatgpt-image-latest shut down 2026-12-01. As of 2026-12-06 the
  page names gpt-image-2.6-sunburst or gpt-image-2.6-flare as their successors (it named the 2.5
  pair until late October): the successor given here is gpt-image-2.6-sunburst.
- Image API reference (generate and edit, read 2026-12-06): the served ids with their dated
  snapshots (gpt-image-2-2026-04-21, gpt-image-2.5-sunburst-2026-09-08,
  gpt-image-2.5-flare-2026-09-08; 2.6 has none yet); gpt-image-2 sizes (multiples of 16, ratio up
  to 3:1, at most 3840x2160), moderation on generations (and on JSON edits, which the pack does
  not send), input_fidelity on edits, no response_format for GPT image models. The 2.6 family
  (2026-11-04) adds ``complexity`` (low, medium, high; high when omitted) and the output formats
  gif (with frame_count and frame_duration_ms, needing GIF preview access; no streaming, partial
  images, masks or compression) and svg.
- ComfyUI's comfy_api_nodes/nodes_openai.py (2026): the presets, the custom-size limits (longest
  side 3840, 655,360 to 8,294,400 pixels), quality xhigh/max for 2.5 and 2.6, no transparent
  background on gpt-image-2 (OpenAI's reference now calls it "preview" there; the pack keeps
  refusing it until the contract says otherwise).

gif and svg are not offered: an IMAGE is pixels, and svg would need a renderer ComfyUI does not
ship; gif needs per-account preview access and two more inputs, and would come back as one frame
of a still image. The pack refuses both before sending, saying so.
"""

from __future__ import annotations

from datetime import date

from .catalogue import AUTO, EDIT, GENERATE, Catalogue, Model, Operation, Price, Range, SizeRule

DEPRECATIONS = "https://platform.openai.com/docs/deprecations"
IMAGE_API = "https://platform.openai.com/docs/api-reference/images"
COMFY_NODES = "https://github.com/Comfy-Org/ComfyUI/blob/master/comfy_api_nodes/nodes_openai.py"

PROMPT_LIMIT = 32000
# The Images API's numbers (CreateImageRequest, CreateImageEditRequest): n, output_compression (a
# percentage) and partial_images (the spec's PartialImages; 0: no stream)
RANGES = {"n": Range(1, 10), "output_compression": Range(0, 100), "partial_images": Range(0, 3)}
FORMATS = ("png", "jpeg", "webp")
LEGACY_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536), AUTO)
GPT_IMAGE_2_SIZES = (
    AUTO,
    (1024, 1024),
    (1536, 1024),
    (1024, 1536),
    (2048, 2048),
    (2048, 1152),
    (1152, 2048),
    (3840, 2160),
    (2160, 3840),
)
GPT_IMAGE_2_RULE = SizeRule(multiple=16, max_edge=3840, max_ratio=3, min_pixels=655_360, max_pixels=8_294_400)
# Streaming: stream plus partial_images 1-3 (CreateImageRequest / CreateImageEditRequest: "only
# supported for the GPT image models"); a model without this option is refused it before sending.
PARTIAL_IMAGES = tuple(range(1, RANGES["partial_images"].high + 1))
QUALITIES = ("low", "medium", "high")
QUALITIES_2_5 = (*QUALITIES, "xhigh", "max")
WITH_TRANSPARENCY = ("transparent", "opaque")
COMPLEXITIES = ("low", "medium", "high")  # gpt-image-2.6: planning effort, independent of quality


def _gpt_image(
    *, sizes, rule=None, qualities=QUALITIES, backgrounds=WITH_TRANSPARENCY, fidelity=(), complexities=()
) -> dict:
    """Generate and edit rules of one GPT image model (``fidelity``: its input_fidelity values;
    ``complexities``: its complexity values, () for a model without the option)."""
    shared = {
        "quality": qualities,
        "background": backgrounds,
        "output_format": FORMATS,
        "output_compression": (),
        "partial_images": PARTIAL_IMAGES,
        **({"complexity": complexities} if complexities else {}),
    }
    edit_options = {**shared, **({"input_fidelity": fidelity} if fidelity else {})}
    generate = Operation(sizes, rule, {**shared, "moderation": ("low",)}, RANGES, PROMPT_LIMIT)
    return {GENERATE: generate, EDIT: Operation(sizes, rule, edit_options, RANGES, PROMPT_LIMIT)}


# Another server's model (or one newer than this catalogue): only the API's own bounds on its numbers;
# its sizes and options are its own
ANY_MODEL = Operation(ranges=RANGES)


_GPT_IMAGE_2 = _gpt_image(sizes=GPT_IMAGE_2_SIZES, rule=GPT_IMAGE_2_RULE, backgrounds=("opaque",))
_GPT_IMAGE_2_5 = _gpt_image(sizes=GPT_IMAGE_2_SIZES, rule=GPT_IMAGE_2_RULE, qualities=QUALITIES_2_5)
_GPT_IMAGE_2_6 = _gpt_image(
    sizes=GPT_IMAGE_2_SIZES, rule=GPT_IMAGE_2_RULE, qualities=QUALITIES_2_5, complexities=COMPLEXITIES
)
# Prices (USD). gpt-image-2 per image: OpenAI's own output examples, as quoted on 2026-05-06; the
# 2.5 and 2.6 models are priced by tokens only (no per-image table is published for them).
GPT_IMAGE_2_PER_IMAGE = "https://yingtu.ai/en/blog/gpt-image-2-cost-per-image"
TOKEN_RATES = {"input_text_tokens": 5.00, "input_image_tokens": 8.00, "output_tokens": 30.00}
_TALL, _WIDE = "1024x1536", "1536x1024"
_GPT_IMAGE_2_PRICE = Price(
    GPT_IMAGE_2_PER_IMAGE,
    date(2026, 12, 6),
    per_image={
        **{("1024x1024", q): usd for q, usd in (("low", 0.006), ("medium", 0.053), ("high", 0.211))},
        **{(s, q): usd for s in (_TALL, _WIDE) for q, usd in (("low", 0.005), ("medium", 0.041), ("high", 0.165))},
    },
    per_million_tokens=TOKEN_RATES,
)
_LAST_DAY_OF_1_X = date(2026, 12, 1)
SUCCESSOR = "gpt-image-2.6-sunburst"  # the deprecations page, 2026-12-06: "gpt-image-2.6-sunburst or -flare"
MODEL_PAGE_2_6 = "https://platform.openai.com/docs/models/gpt-image-2.6-sunburst"
_GPT_IMAGE_2_6_PRICE = Price(MODEL_PAGE_2_6, date(2026, 12, 6), per_million_tokens=TOKEN_RATES)
_GPT_IMAGE_2_5_PRICE = Price(
    "https://apifox.com/apiskills/gpt-image-2-5-api-cn", date(2026, 12, 6), per_million_tokens=TOKEN_RATES
)

CATALOGUE = Catalogue(
    provider="OpenAI",
    checked=date(2026, 12, 6),
    source=DEPRECATIONS,
    shutdown_hosts=("api.openai.com",),
    prices="OpenAI's public prices at api.openai.com (another server's prices are its own)",
    price_hosts=("api.openai.com",),
    endpoint={GENERATE: ANY_MODEL, EDIT: ANY_MODEL},
    preferred={
        GENERATE: ("gpt-image-2", "gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "gpt-image-2.5-sunburst"),
        EDIT: ("gpt-image-2", "gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "gpt-image-2.5-sunburst"),
    },
    models=(
        Model(
            "gpt-image-2",
            _GPT_IMAGE_2,
            aliases=("gpt-image-2-2026-04-21",),
            source=IMAGE_API,
            price=_GPT_IMAGE_2_PRICE,
        ),
        Model(
            "gpt-image-2.5-flare",
            _GPT_IMAGE_2_5,
            aliases=("gpt-image-2.5-flare-2026-09-08",),
            source=IMAGE_API,
            price=_GPT_IMAGE_2_5_PRICE,
        ),
        Model(
            "gpt-image-2.5-sunburst",
            _GPT_IMAGE_2_5,
            aliases=("gpt-image-2.5-sunburst-2026-09-08",),
            source=IMAGE_API,
            price=_GPT_IMAGE_2_5_PRICE,
        ),
        Model("gpt-image-2.6-flare", _GPT_IMAGE_2_6, source=MODEL_PAGE_2_6, price=_GPT_IMAGE_2_6_PRICE),
        Model("gpt-image-2.6-sunburst", _GPT_IMAGE_2_6, source=MODEL_PAGE_2_6, price=_GPT_IMAGE_2_6_PRICE),
        Model(
            "gpt-image-1.5",
            _gpt_image(sizes=LEGACY_SIZES, fidelity=("high", "low")),
            _LAST_DAY_OF_1_X,
            SUCCESSOR,
            DEPRECATIONS,
            aliases=("gpt-image-1.5-2025-12-16",),
        ),
        Model("gpt-image-1-mini", _gpt_image(sizes=LEGACY_SIZES), _LAST_DAY_OF_1_X, SUCCESSOR, DEPRECATIONS),
        # edits only: the generation endpoint does not list it
        Model(
            "chatgpt-image-latest",
            {EDIT: _gpt_image(sizes=LEGACY_SIZES)[EDIT]},
            _LAST_DAY_OF_1_X,
            SUCCESSOR,
            DEPRECATIONS,
        ),
        Model("gpt-image-1", {}, date(2026, 10, 23), SUCCESSOR, DEPRECATIONS),
        Model("dall-e-3", {}, date(2026, 5, 12), SUCCESSOR, DEPRECATIONS),
        Model("dall-e-2", {}, date(2026, 5, 12), SUCCESSOR, DEPRECATIONS),
    ),
)
# refused before sending, with why (see the module's docstring)
UNOFFERED_FORMATS = {
    "gif": "gif output needs GIF preview access on the account and comes back as frames the nodes do not return",
    "svg": "svg output is vector markup, and an IMAGE is pixels: ComfyUI ships no SVG renderer",
}

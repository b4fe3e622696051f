"""The IONOS AI Model Hub's image models, checked on 2026-12-06.

Sources: IONOS's model cards, moved to
https://docs.ionos.com/cloud/ai/ai-model-hub/models/image-generation-models/ (read 2026-12-06),
for FLUX.1-schnell (generation only; end of life: none announced) and FLUX.2-klein-4B
(generation and editing, also the image-edits how-to); the image API
reference for the edit rules (prompt up to 1000 characters, sizes multiples of 16 from 64 to
2048, n up to 10, output formats); IONOS's own tooling for the three generation sizes (others are
unconfirmed). The SDXL id only appears in an older tutorial: unconfirmed, kept so it stays usable.
"""

from __future__ import annotations

from datetime import date

from .catalogue import AUTO, EDIT, GENERATE, Catalogue, Model, Operation, Range, SizeRule

MODEL_CARDS = "https://docs.ionos.com/cloud/ai/ai-model-hub/models/image-generation-models"
SCHNELL = "black-forest-labs/FLUX.1-schnell"
KLEIN = "black-forest-labs/FLUX.2-klein-4B"
N = Range(1, 10)  # images one call returns (the image API reference)
# Each endpoint's rules, which apply to any model sent to it (``endpoint`` below): the generation
# sizes, and the edit rule -- auto is the input's own size fit to it
GENERATION = Operation(sizes=((1024, 1024), (1024, 1792), (1792, 1024)), ranges={"n": N})
EDIT_SIZE_RULE = SizeRule(multiple=16, min_edge=64, max_edge=2048)
EDIT_FORMATS = ("png", "jpeg", "jpg", "webp")
EDITING = Operation(
    sizes=(AUTO,), size_rule=EDIT_SIZE_RULE, options={"output_format": EDIT_FORMATS}, ranges={"n": N}, prompt_limit=1000
)

CATALOGUE = Catalogue(
    provider="IONOS",
    checked=date(2026, 12, 6),
    source=MODEL_CARDS,
    prices="no public price: IONOS publishes no per-image price for its image models (checked 2026-12-06)",
    preferred={GENERATE: (SCHNELL, KLEIN), EDIT: (KLEIN,)},
    endpoint={GENERATE: GENERATION, EDIT: EDITING},
    models=(
        Model(SCHNELL, {GENERATE: GENERATION}, source=f"{MODEL_CARDS}/flux-1-schnell"),
        Model(KLEIN, {GENERATE: GENERATION, EDIT: EDITING}, source=f"{MODEL_CARDS}/flux-2-klein-4b"),
        Model(
            "stabilityai/stable-diffusion-xl-base-1.0", {GENERATE: GENERATION}, note="only in an older IONOS tutorial"
        ),
    ),
)

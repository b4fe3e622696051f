"""OVH AI Endpoints' text-to-image model, checked on 2026-12-06 (unchanged since 2026-11-29).

Source: https://www.ovhcloud.com/en/public-cloud/ai-endpoints/catalog/stable-diffusion-xl/ --
one model per endpoint URL, prompt and negative prompt only, one 1024x1024 image per call. (OVH's
OpenAI-compatible unified endpoint is used through the OpenAI-compatible nodes by base URL.)
"""

from __future__ import annotations

from datetime import date

from .catalogue import GENERATE, ONE, Catalogue, Model, Operation, Range

CATALOGUE_PAGE = "https://www.ovhcloud.com/en/public-cloud/ai-endpoints/catalog/stable-diffusion-xl/"
# one image per call; the node's count is that many calls
SDXL = Operation(sizes=((1024, 1024),), ranges={"n": ONE, "count": Range(1, 10)})

CATALOGUE = Catalogue(
    provider="OVH AI Endpoints",
    checked=date(2026, 12, 6),
    source=CATALOGUE_PAGE,
    prices="no public price: OVH's catalogue page gives none for SDXL (checked 2026-12-06)",
    models=(Model("stable-diffusion-xl-base-1.0", {GENERATE: SDXL}, source=CATALOGUE_PAGE),),
)

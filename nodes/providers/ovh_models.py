"""OVH AI Endpoints' text-to-image model, checked on 2026-12-06 (unchanged since 2026-11-29).

Source: https://www.ovhcloud.com/en/public-cloud/ai-endpoints/catalog/stable-diffusion-xl/ --
one model per endpoint URL, prompt and negative prompt only, one 1024x1024 image per call. (OVH's
OpenAI-compatible unified endpoint is used through the OpenAI-compatible nodes by base URL.)
"""

from __future__ import annotations

from datetime import date

from .catalogue import GENERATE, Catalogue, Model, Operation

CATALOGUE_PAGE = "https://www.ovhcloud.com/en/public-cloud/ai-endpoints/catalog/stable-diffusion-xl/"

CATALOGUE = Catalogue(
    provider="OVH AI Endpoints",
    checked=date(2026, 12, 6),
    source=CATALOGUE_PAGE,
    models=(
        Model(
            "stable-diffusion-xl-base-1.0", {GENERATE: Operation(sizes=((1024, 1024),), max_n=1)}, source=CATALOGUE_PAGE
        ),
    ),
)

"""The models AIGNE Hub routes to, checked on 2026-12-06.

The hub (AIGNE-io/aigne-hub, blocklets/core/api/src/routes/v2.ts and libs/constants.ts) names
models ``provider/model`` (Google's as ``google/...``, never ``gemini/...``) and hands each call to
the published framework (AIGNE-io/aigne-framework; ``@aigne/openai`` and ``@aigne/gemini`` 0.16.x
and 0.14.x, March to May 2026). That framework, not OpenAI's API, decides what a hub can do:

- OpenAI (models/openai/src/openai-image-model.ts): ``SUPPORTED_PARAMS`` keeps the GPT options
  only for gpt-image-1, which OpenAI shut down; every later model falls back to dall-e-2's list --
  prompt, size and ``n`` -- so quality, background, output_format, output_compression and
  moderation never reach OpenAI, while ``n`` does (one call makes n images). The catalogue gives
  those models no options: the node refuses them before sending instead of paying for an image
  that silently ignores them. ``SUPPORT_EDIT_MODELS = ["gpt-image-1"]``: no OpenAI model can edit
  through the hub, so the edit node's models are Google's.
- Google (models/gemini/src/gemini-image-model.ts): Gemini image models take the input images on
  the native route (``input.image`` FileContent -> inlineData), ignore ``size``, and turn ``n``
  into candidateCount, which Gemini's image models are not known to honour: the node makes one
  call per image. Imagen models ignore input images (and Google shut all of them down on
  2026-08-17). Which Google ids a given hub serves is its admin's choice (its model-rate list,
  ``GET {mount}/api/ai-providers/models?type=image``); ``auto`` picks from that list. The ids below
  are those Google serves on 2026-12-06 (see ``agnic_models`` for Google's sources); every Google
  id written in the hub's own repository has been shut down upstream.
OpenAI's retirements apply on every hub (it always calls OpenAI's API). The hub's Cloudflare
build (branch feat/cloudflare-migration) drops input images and model options on its native
route; which build a hub runs cannot be told from outside.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from . import agnic_models, openai_models
from .catalogue import AUTO, EDIT, GENERATE, ONE, Catalogue, Model, Operation, Range

HUB_CODE = "https://github.com/AIGNE-io/aigne-hub/blob/main/blocklets/core/api/src/routes/v2.ts"
OPENAI_MODEL_CODE = "https://github.com/AIGNE-io/aigne-framework/blob/main/models/openai/src/openai-image-model.ts"
GEMINI_MODEL_CODE = "https://github.com/AIGNE-io/aigne-framework/blob/main/models/gemini/src/gemini-image-model.ts"
# what the framework passes upstream for each OpenAI model (its SUPPORTED_PARAMS), besides prompt and size
GPT_IMAGE_1_OPTIONS = {"quality", "background", "output_format", "output_compression", "moderation"}
NOT_ON_EDITS = {"moderation"}
EDITS_WITH = ("gpt-image-1",)  # SUPPORT_EDIT_MODELS
# The hub's own rules, whatever the model: n up to 10 (its validation: '"n" must be less than or equal
# to 10'). A model it does not know otherwise gets what the user set, unchecked.
HUB = Operation(ranges={"n": Range(1, 10)})


def through_hub(entry: Model) -> Model:
    """An OpenAI model as the hub offers it: ``openai/<id>``; options and edits only as the
    framework passes them (gpt-image-1), ``n`` as OpenAI takes it for the others."""
    operations = {}
    for name, operation in entry.operations.items():
        if name == EDIT and entry.id not in EDITS_WITH:
            continue
        if entry.id in EDITS_WITH:
            passed = GPT_IMAGE_1_OPTIONS - (NOT_ON_EDITS if name == EDIT else set())
            options = {option: values for option, values in operation.options.items() if option in passed}
            operations[name] = dataclasses.replace(operation, options=options, ranges={**operation.ranges, "n": ONE})
        else:
            operations[name] = dataclasses.replace(operation, options={})
    return dataclasses.replace(
        entry,
        id=f"openai/{entry.id}",
        operations=operations,
        successor=f"openai/{entry.successor}" if entry.successor else "",
        aliases=(entry.id, *(f"openai/{alias}" for alias in entry.aliases), *entry.aliases),
        source=OPENAI_MODEL_CODE,
        price=None,  # the hub bills in its own credits
    )


def google_through_hub(entry: Model) -> Model:
    """A Google model of the Agnic catalogue (the same ``google/`` ids) as the hub offers it:
    generate and edit on the native route, one image per call, the model's own size."""
    gemini = Operation(sizes=(AUTO,), ranges={"n": ONE})
    operations = {GENERATE: gemini, EDIT: gemini} if entry.operations else {}
    successor = entry.successor if entry.successor.startswith("google/") else ""
    return dataclasses.replace(
        entry,
        operations=operations,
        successor=successor,
        source=GEMINI_MODEL_CODE,
        output_modalities=(),
        price=None,  # the hub bills in its own credits
    )


_GOOGLE = tuple(google_through_hub(entry) for entry in agnic_models.CATALOGUE.models if entry.id.startswith("google/"))

CATALOGUE = Catalogue(
    provider="AIGNE Hub",
    checked=date(2026, 12, 6),
    source=HUB_CODE,
    retired_by="its maker",
    prices="no public price: the hub bills in its own credits, which each reply reports (a hub admin sets the rates)",
    endpoint={GENERATE: HUB, EDIT: HUB},
    preferred={
        GENERATE: ("openai/gpt-image-2", agnic_models.NANO_BANANA, agnic_models.PRO),
        EDIT: (agnic_models.NANO_BANANA, agnic_models.PRO, "google/gemini-3.1-flash-lite-image"),
    },
    models=(*(through_hub(entry) for entry in openai_models.CATALOGUE.models), *_GOOGLE),
)

"""The models AIGNE Hub routes to, checked on 2026-11-29.

The hub (AIGNE-io/aigne-hub, blocklets/core/api/src/routes/v2.ts) names models ``provider/model``
and rewrites a bare name to that form; its OpenAI models follow OpenAI's own rules and
retirements (``openai_models``), with two differences of the hub's framework
(AIGNE-io/aigne-framework, models/openai/src/openai-image-model.ts): only quality, background,
output_format, output_compression and moderation are passed upstream (no input_fidelity, and no
moderation on edits, which OpenAI's edit endpoint refuses), and ``n`` is dropped for GPT image
models -- so one call gives one image and the node makes n calls. Other providers' models (e.g.
``ideogram/ideogram-v3``, ``google/...``) are the hub's to check: they are sent unchecked.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from . import openai_models
from .catalogue import EDIT, Catalogue, Model

HUB_CODE = "https://github.com/AIGNE-io/aigne-hub/blob/main/blocklets/core/api/src/routes/v2.ts"
PASSED_UPSTREAM = {"quality", "background", "output_format", "output_compression", "moderation"}
NOT_ON_EDITS = {"moderation"}


def through_hub(entry: Model) -> Model:
    """An OpenAI model as the hub offers it: ``openai/<id>``, one image per call, the options it passes."""
    operations = {}
    for name, operation in entry.operations.items():
        passed = PASSED_UPSTREAM - (NOT_ON_EDITS if name == EDIT else set())
        options = {option: values for option, values in operation.options.items() if option in passed}
        operations[name] = dataclasses.replace(operation, options=options, max_n=1)
    return dataclasses.replace(
        entry,
        id=f"openai/{entry.id}",
        operations=operations,
        successor=f"openai/{entry.successor}" if entry.successor else "",
        aliases=(entry.id, *(f"openai/{alias}" for alias in entry.aliases), *entry.aliases),
    )


CATALOGUE = Catalogue(
    provider="AIGNE Hub",
    checked=date(2026, 11, 29),
    source=HUB_CODE,
    models=tuple(through_hub(entry) for entry in openai_models.CATALOGUE.models),
)
DEFAULT_MODEL = "openai/gpt-image-2"

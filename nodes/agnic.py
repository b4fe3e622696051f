"""Agnic AI Gateway nodes: generate and edit images through chat completions, list image models."""

from __future__ import annotations

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    ListModelsNode,
    ModelList,
    ModelListCache,
    RemoteImageError,
    RemoteImageNode,
    count_input,
    encode_edit_inputs,
    fetch_model_list,
    model_input,
    node_id,
    prompt_input,
    run_calls,
    seed_input,
    with_chosen_model,
)
from .providers import agnic

_CATEGORY = f"{CATEGORY}/Agnic"


def _listed() -> tuple[dict[str, list[str]], list[str]]:
    """The gateway's model list: each model's output modalities, and the image models."""
    return fetch_model_list(agnic.PROVIDER, parse=lambda body: (agnic.model_outputs(body), agnic.image_model_ids(body)))


# per base URL: what auto becomes, modalities "auto" for models the catalogue does not describe, the models to suggest
_live = ModelListCache(_listed)


def _seed_input() -> tuple:
    kind, options = seed_input(True, "Agnic")
    tooltip = (
        options["tooltip"] + " Call i of a count gets seed + i (folded into 0..2^31-1); models without seeds ignore it."
    )
    return kind, {**options, "tooltip": tooltip}


def _options(*, edit: bool) -> dict:
    ratio_tip = (
        "Sent as image_config.aspect_ratio: 1:1 is 1024x1024, 16:9 1344x768, 9:16 768x1344, "
        "4:3 1184x864, 3:2 1248x832 … 1:4, 4:1, 1:8 and 8:1 only with google/gemini-nano-banana-2.1."
    )
    if edit:
        ratio_tip += " auto: not sent, the model keeps the input's shape."
    return {
        "aspect_ratio": (
            agnic.aspect_ratio_choices(edit),
            {"default": agnic.AUTO if edit else "1:1", "tooltip": ratio_tip},
        ),
        "image_size": (
            [agnic.AUTO, *agnic.IMAGE_SIZES],
            {
                "default": agnic.AUTO,
                "tooltip": (
                    "Gemini image models: image_config.image_size 1K, 2K or 4K (gemini-3.1-flash-lite-image: 1K only). "
                    "auto: not sent."
                ),
            },
        ),
        "modalities": (
            agnic.MODALITY_CHOICES,
            {
                "default": agnic.AUTO,
                "tooltip": "Output modalities asked for. auto: 'image' for models that answer only in images (FLUX and "
                "the like; the gateway's model list says which), 'image+text' for the others.",
            },
        ),
        "count": count_input(
            f"How many images (1-{agnic.MAX_COUNT}): the API has no n, so each image is one billed call; "
            "they run a few at a time and come back in order.",
            high=agnic.MAX_COUNT,
        ),
        "seed": _seed_input(),
    }


def _join_texts(texts: list[str]) -> str:
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"[{index + 1}] {text}" for index, text in enumerate(texts) if text)


def _generate(call: Call, *, count: int, seed: int, image=None, more: dict | None = None, **options):
    """Check everything (then encode the input ``image`` and ``more`` images by name: an edit), then
    run ``count`` chat calls concurrently -> (IMAGE, text)."""
    edit = image is not None
    operation = agnic.EDIT if edit else agnic.GENERATE
    with call.context():
        agnic.check_count(count, edit=edit)  # before the model list is fetched: a bad input sends nothing
        image_urls = encode_edit_inputs(image, how=agnic.UPLOADS, more=more).images if edit else ()
        gateway = call.base_url

        def listed():
            found = _live.get(gateway)
            return found[1] if found is not None else None

        model = with_chosen_model(
            call,
            agnic.CATALOGUE,
            operation,
            listed,
            lambda chosen: agnic.check_options(model=chosen, count=count, **options, edit=edit),
        )
        call.model = model
        # the model list is fetched only when nothing else says what the model answers in
        needs_list = options["modalities"] == agnic.AUTO and not agnic.knows_outputs(model)
        known = _live.get(gateway) if needs_list else _live.cached(gateway)
        options["model"] = model
        bodies = agnic.chat_bodies(
            count=count, seed=seed, image_urls=image_urls, live_outputs=known and known[0], **options
        )
        call.note = agnic.CATALOGUE.notice(model)
        size = options.get("image_size", agnic.AUTO)
        size = "1K" if size == agnic.AUTO else size  # a Gemini image is 1K unless image_size says otherwise
        call.quote(agnic.CATALOGUE.estimate(model, count, size=size))

    def one(job: Call, index: int):
        try:
            reply = job.post_json("chat/completions", bodies[index])
        except RemoteImageError as exc:
            if agnic.is_unknown_model(exc):
                found = _live.get(job.base_url)
                exc.hint = agnic.CATALOGUE.unknown_model_hint(model, operation, found and found[1])
            raise
        return agnic.parse_chat(reply.json())

    batch = run_calls(call, one, count=count)
    return batch.image, _join_texts([result.text for result in batch.results])


class _AgnicImageNode(RemoteImageNode):
    CATEGORY = _CATEGORY
    PROVIDER = agnic.PROVIDER
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "text")
    OUTPUT_TOOLTIPS = ("The images, one per call, in order.", "What the model wrote next to its images.")


class AgnicImageGenerate(_AgnicImageNode):
    DESCRIPTION = (
        "Generate images with a model of the Agnic AI Gateway (OpenRouter-style chat completions; needs "
        "AGNIC_API_KEY). A reply without an image is an error that quotes the model's words."
    )
    SEARCH_ALIASES = ["agnic", "openrouter", "gemini", "nano banana", "flux", "gpt image", "text to image", "txt2img"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input(),
                "model": model_input(agnic.CATALOGUE, agnic.GENERATE, provider="agnic", managed=("image_size",)),
                **_options(edit=False),
            },
            **HIDDEN,
        }

    def call(
        self, model, count, seed=0, unique_id=None, **options
    ):  # options: prompt, aspect_ratio, image_size, modalities
        call = Call(agnic.PROVIDER, agnic.GENERATE, model=model, node_id=unique_id)
        return _generate(call, count=count, seed=seed, **options)


class AgnicImageEdit(_AgnicImageNode):
    DESCRIPTION = (
        "Edit or combine images with a model of the Agnic AI Gateway: every input image (each batch item, "
        "then image_2, image_3) is sent with the prompt in one chat message."
    )
    SEARCH_ALIASES = [
        "agnic",
        "openrouter",
        "gemini",
        "nano banana",
        "image to image",
        "img2img",
        "edit image",
        "combine images",
    ]

    @classmethod
    def INPUT_TYPES(cls):
        more = "Another image (any size) sent after the ones above, e.g. a style or object reference."
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit; every batch item is sent as a PNG data URL."}),
                "prompt": prompt_input("The change to make, or how to combine the images."),
                "model": model_input(agnic.CATALOGUE, agnic.EDIT, provider="agnic", managed=("image_size",)),
                **_options(edit=True),
            },
            "optional": {
                "image_2": ("IMAGE", {"tooltip": more}),
                "image_3": ("IMAGE", {"tooltip": more}),
            },
            **HIDDEN,
        }

    def call(self, image, model, count, seed=0, image_2=None, image_3=None, unique_id=None, **options):
        call = Call(agnic.PROVIDER, agnic.EDIT, model=model, node_id=unique_id)
        more = {"image_2": image_2, "image_3": image_3}
        return _generate(call, count=count, seed=seed, image=image, more=more, **options)


class AgnicListModels(ListModelsNode):
    DESCRIPTION = (
        "List the Agnic AI Gateway's image models, one id per line: those whose output modalities include "
        "image when the gateway says so, every model when its list carries no modalities."
    )
    SEARCH_ALIASES = ["agnic models", "openrouter models", "list models", "model ids"]
    CATEGORY = _CATEGORY
    PROVIDER = agnic.PROVIDER
    FILTER_EXAMPLE = "gemini"

    def list_models(self, unique_id=None) -> list[str]:
        return fetch_model_list(agnic.PROVIDER, parse=agnic.image_model_ids, node_id=unique_id)


MODEL_LIST = ModelList(agnic.PROVIDER, AgnicListModels().list_models)

NODES = {
    node_id("AgnicImageGenerate"): (AgnicImageGenerate, "Agnic Image Generate"),
    node_id("AgnicImageEdit"): (AgnicImageEdit, "Agnic Image Edit"),
    node_id("AgnicListModels"): (AgnicListModels, "Agnic List Models"),
}

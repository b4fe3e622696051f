"""IONOS AI Model Hub nodes: generate, edit with a mask, list models."""

from __future__ import annotations

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    ListModelsNode,
    ModelList,
    ModelListCache,
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
from .providers import ionos

_CATEGORY = f"{CATEGORY}/IONOS"


class IonosImageGenerate(RemoteImageNode):
    DESCRIPTION = "Generate images from a prompt with the IONOS AI Model Hub (needs IONOS_API_TOKEN)."
    SEARCH_ALIASES = ["ionos", "text to image", "txt2img", "flux", "sdxl", "stable diffusion", "generate image"]
    CATEGORY = _CATEGORY
    PROVIDER = ionos.PROVIDER
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", "What the reply said besides the images (usage).")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input(),
                "model": model_input(ionos.CATALOGUE, ionos.GENERATE, provider="ionos"),
                "size": (ionos.GENERATION_SIZES, {"default": "1024x1024", "tooltip": "Width x height of the result."}),
                "n": count_input("How many images one call returns (1-10); IONOS bills per image."),
                "seed": seed_input(False, "IONOS"),
            },
            **HIDDEN,
        }

    def call(self, model, prompt, size, n, seed=0, unique_id=None):
        call = Call(ionos.PROVIDER, ionos.GENERATE, model=model, node_id=unique_id)
        with call.context():
            body = _for_model(
                call, ionos.GENERATE, lambda chosen: ionos.generation_body(model=chosen, prompt=prompt, size=size, n=n)
            )
            call.quote(ionos.CATALOGUE.estimate(call.model, n), per_call=n)
        batch = run_calls(
            call, lambda job, _: ionos.parse_images(job.post_json("images/generations", body).json()), per_call=n
        )
        return batch.image, batch.describe()


class IonosImageEdit(RemoteImageNode):
    DESCRIPTION = (
        "Edit images with the IONOS AI Model Hub. Paint a mask (white = change) to edit only part of "
        "the image; each image of a batch is one call, run concurrently."
    )
    SEARCH_ALIASES = ["ionos", "inpaint", "image to image", "img2img", "edit image", "mask", "flux"]
    CATEGORY = _CATEGORY
    PROVIDER = ionos.PROVIDER
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The edited images, n per input image, in input order.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit; a batch makes one call per image."}),
                "prompt": prompt_input("The change to make (at most 1000 characters)."),
                "model": model_input(ionos.CATALOGUE, ionos.EDIT, provider="ionos"),
                "size": (
                    "STRING",
                    {
                        "default": "auto",
                        "tooltip": (
                            "WIDTHxHEIGHT, both multiples of 16 from 64 to 2048; "
                            "'auto' keeps the input's size and aspect."
                        ),
                    },
                ),
                "n": count_input("Edited versions per input image (1-10)."),
                "output_format": (ionos.OUTPUT_FORMATS, {"default": "png", "tooltip": "File format IONOS returns."}),
                "seed": seed_input(False, "IONOS"),
            },
            "optional": {
                "mask": (
                    "MASK",
                    {
                        "tooltip": (
                            "Where to edit (1 = change). Sent as a PNG whose alpha is 0 there. "
                            "LoadImage's empty mask means the whole image."
                        )
                    },
                ),
            },
            **HIDDEN,
        }

    def images_asked(self, inputs: dict) -> int:
        shape = getattr(inputs.get("image"), "shape", None)
        return super().images_asked(inputs) * (int(shape[0]) if shape else 1)  # n for each input image, one call each

    def call(self, image, prompt, model, size, n, output_format, seed=0, mask=None, unique_id=None):
        call = Call(ionos.PROVIDER, ionos.EDIT, model=model, node_id=unique_id)
        with call.context():
            inputs = encode_edit_inputs(image, mask, how=ionos.UPLOADS)
            fields = _for_model(
                call,
                ionos.EDIT,
                lambda chosen: ionos.check_edit(
                    model=chosen,
                    prompt=prompt,
                    size=size,
                    n=n,
                    output_format=output_format,
                    input_size=(inputs.width, inputs.height),
                ),
            )
            call.model = fields["model"]
            call.quote(ionos.CATALOGUE.estimate(call.model, n * len(inputs.images)), per_call=n)

        def edit_one(job: Call, index: int):
            mask_url = inputs.masks[index] if inputs.masks else None
            parts = ionos.edit_fields(fields, [inputs.images[index]], mask_url)
            return ionos.parse_images(job.post_multipart("images/edits", parts).json())

        # this node has no info output: a shortfall is said in the progress text only
        batch = run_calls(call, edit_one, count=len(inputs.images), per_call=n, what="edit")
        return (batch.image,)


class IonosListModels(ListModelsNode):
    DESCRIPTION = (
        "List the models of the IONOS AI Model Hub, one id per line (chat, embedding and image models together)."
    )
    SEARCH_ALIASES = ["ionos models", "list models", "model ids"]
    CATEGORY = _CATEGORY
    PROVIDER = ionos.PROVIDER

    def list_models(self, unique_id=None) -> list[str]:
        return ionos.parse_model_ids(_models(unique_id))


def _models(unique_id=None):
    return fetch_model_list(ionos.PROVIDER, node_id=unique_id)


_live = ModelListCache(lambda: ionos.parse_model_ids(_models()))  # per endpoint: what auto becomes


def _for_model(call: Call, operation: str, build):
    """``build(model)`` for the model named, or for what ``auto`` becomes among the models IONOS lists."""
    return with_chosen_model(call, ionos.CATALOGUE, operation, lambda: _live.get(call.base_url), build)


# the image models of the live list, for the refresh button (the key stays on the server)
MODEL_LIST = ModelList(ionos.PROVIDER, lambda: ionos.image_model_ids(_models()))

NODES = {
    node_id("IonosImageGenerate"): (IonosImageGenerate, "IONOS Image Generate"),
    node_id("IonosImageEdit"): (IonosImageEdit, "IONOS Image Edit"),
    node_id("IonosListModels"): (IonosListModels, "IONOS List Models"),
}

"""IONOS AI Model Hub nodes: generate, edit with a mask, list models."""

from __future__ import annotations

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    ListModelsNode,
    LiveModels,
    RemoteImageNode,
    count_input,
    fetch_payloads,
    images,
    model_input,
    node_id,
    prompt_input,
    run_in_order,
    seed_input,
    shortfall,
    to_tensors,
)
from .providers import ionos

_CATEGORY = f"{CATEGORY}/IONOS"


def _call(operation: str, model: str = "", unique_id=None) -> Call:
    return Call(ionos.PROVIDER, operation, model=model, node_id=unique_id, status_hints=ionos.STATUS_HINTS)


class IonosImageGenerate(RemoteImageNode):
    DESCRIPTION = "Generate images from a prompt with the IONOS AI Model Hub (needs IONOS_API_TOKEN)."
    SEARCH_ALIASES = ["ionos", "text to image", "txt2img", "flux", "sdxl", "stable diffusion", "generate image"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = ionos.PROVIDER.label
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", "What the reply said besides the images (usage).")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": model_input(ionos.GENERATE_MODELS, ionos.GENERATE_MODELS[0], provider="ionos"),
                "prompt": prompt_input(),
                "size": (ionos.GENERATION_SIZES, {"default": "1024x1024", "tooltip": "Width x height of the result."}),
                "n": count_input("How many images one call returns (1-10); IONOS bills per image."),
                "seed": seed_input(False, "IONOS"),
            },
            **HIDDEN,
        }

    def call(self, model, prompt, size, n, seed=0, unique_id=None):
        call = _call("image generation", model, unique_id)
        with call.context():
            body = ionos.generation_body(model=model, prompt=prompt, size=size, n=n)
            result = ionos.parse_images(call.post_json("images/generations", body).json())
            warning = shortfall(call, n, len(result.images))
            if warning:
                result.info["warning"] = warning
            image, _ = to_tensors(call, fetch_payloads(call, result, asked=n))
        return image, result.describe()


class IonosImageEdit(RemoteImageNode):
    DESCRIPTION = (
        "Edit images with the IONOS AI Model Hub. Paint a mask (white = change) to edit only part of "
        "the image; each image of a batch is one call, run concurrently."
    )
    SEARCH_ALIASES = ["ionos", "inpaint", "image to image", "img2img", "edit image", "mask", "flux"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = ionos.PROVIDER.label
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The edited images, n per input image, in input order.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit; a batch makes one call per image."}),
                "prompt": prompt_input("The change to make (at most 1000 characters)."),
                "model": model_input(ionos.EDIT_MODELS, ionos.EDIT_MODELS[0], provider="ionos"),
                "size": ("STRING", {"default": "auto", "tooltip": "WIDTHxHEIGHT, both multiples of 16 from 64 to 2048; 'auto' keeps the input's size and aspect."}),
                "n": count_input("Edited versions per input image (1-10)."),
                "output_format": (ionos.OUTPUT_FORMATS, {"default": "png", "tooltip": "File format IONOS returns."}),
                "seed": seed_input(False, "IONOS"),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "Where to edit (1 = change). Sent as a PNG whose alpha is 0 there. LoadImage's empty mask means the whole image."}),
            },
            **HIDDEN,
        }

    def call(self, image, prompt, model, size, n, output_format, seed=0, mask=None, unique_id=None):
        call = _call("image edit", model, unique_id)
        with call.context():
            model = ionos.check_edit(model=model, prompt=prompt, n=n, output_format=output_format)
            images.check_image(image)
            width, height = images.image_size(image)
            size = ionos.edit_size(size, width, height)
            masks = images.fit_masks(mask, image.shape[0], width, height)
            pixels = images.to_uint8(image)

        def edit_one(index: int):
            job = _call("image edit", model, unique_id)
            with job.context():
                mask_url = images.data_url(images.mask_to_alpha_png(masks[index])) if masks is not None else None
                fields = ionos.edit_fields(
                    model=model,
                    prompt=prompt,
                    image_url=images.data_url(images.encode_array(pixels[index])),
                    mask_url=mask_url,
                    size=size,
                    n=n,
                    output_format=output_format,
                )
                result = ionos.parse_images(job.post_multipart("images/edits", fields).json())
                return fetch_payloads(job, result, asked=n)

        batches = run_in_order([lambda i=i: edit_one(i) for i in range(len(pixels))], node_id=unique_id, what="edit")
        blobs = [blob for batch in batches for blob in batch]
        shortfall(call, n * len(pixels), len(blobs))  # this node has no info output: the progress text says it
        edited, _ = to_tensors(call, blobs)
        return (edited,)


class IonosListModels(ListModelsNode):
    DESCRIPTION = "List the models of the IONOS AI Model Hub, one id per line (chat, embedding and image models together)."
    SEARCH_ALIASES = ["ionos models", "list models", "model ids"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = ionos.PROVIDER.label

    def list_models(self, unique_id=None) -> list[str]:
        call = _call("model list", unique_id=unique_id)
        with call.context():
            return ionos.parse_model_ids(call.get("models").json())


def live_models() -> list[str]:
    """The image models of the live list, for the refresh button (the key stays on the server)."""
    return ionos.image_model_ids(IonosListModels().list_models())


MODEL_LISTS = {"ionos": LiveModels(ionos.PROVIDER.label, live_models, ionos.CATALOGUE.able)}
PROVIDERS = (ionos.PROVIDER,)

NODES = {
    node_id("IonosImageGenerate"): (IonosImageGenerate, "IONOS Image Generate"),
    node_id("IonosImageEdit"): (IonosImageEdit, "IONOS Image Edit"),
    node_id("IonosListModels"): (IonosListModels, "IONOS List Models"),
}

"""AIGNE Hub nodes: generate, and edit by sending input images in ``image`` (gpt-image-1)."""

from __future__ import annotations

from .common import (
    CATEGORY,
    EXPIRED_LINK_STATUSES,
    HIDDEN,
    Call,
    RemoteImageError,
    RemoteImageNode,
    count_input,
    fetch_payloads,
    images,
    model_input,
    node_id,
    prompt_input,
    seed_input,
    to_tensors,
)
from .providers import aigne

_CATEGORY = f"{CATEGORY}/AIGNE Hub"

_OPTIONAL = {
    "path": (
        "STRING",
        {
            "default": aigne.SEED_PATH,
            "tooltip": f"The image endpoint below the base URL. {aigne.SEED_PATH} is the documented path; hubs "
            f"built from the hub's current code serve {aigne.HUB_PATH}. Try that one if this gives HTTP 404.",
        },
    ),
    "base_url": (
        "STRING",
        {
            "default": "",
            "tooltip": "Your hub's URL including its mount path, e.g. https://hub.example.com/app. Empty: "
            "AIGNE_HUB_BASE_URL. Not secret; the key always comes from AIGNE_HUB_API_KEY.",
        },
    ),
}
_INFO_TOOLTIP = "The reply besides the images: the model the hub used and its usage (aigneHubCredits)."


def _call(operation: str, model: str, unique_id, base_url: str) -> Call:
    return Call(
        aigne.PROVIDER,
        operation,
        model=model,
        node_id=unique_id,
        base_url_override=base_url,
        error_message=aigne.error_message,
        status_hints=aigne.STATUS_HINTS,
    )


def _run(call: Call, path: str, body: dict):
    """Post, read either reply shape, download links at once (without the key) -> (IMAGE, info)."""
    result = aigne.parse_images(call.post_json(path, body).json())
    try:
        blobs = fetch_payloads(call, result)
    except RemoteImageError as exc:
        if exc.status in EXPIRED_LINK_STATUSES:
            exc.message = (
                f"the hub answered with a link to the image, but the link no longer works (HTTP {exc.status}): "
                f"it has expired or was removed; such links last about an hour. {exc.message}"
            )
            exc.hint = "run the node again; set response_format to b64_json to get the image inside the reply"
        raise
    image, _ = to_tensors(call, blobs)
    return image, result.describe()


class AigneHubImageGenerate(RemoteImageNode):
    DESCRIPTION = (
        "Generate images with an AIGNE Hub (needs AIGNE_HUB_BASE_URL and AIGNE_HUB_API_KEY). "
        "dall-e-2, dall-e-3, gpt-image-1 or any provider/model name the hub offers."
    )
    SEARCH_ALIASES = ["aigne", "arcblock", "dall-e", "gpt image", "text to image", "txt2img"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = aigne.PROVIDER.label
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", _INFO_TOOLTIP)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input(),
                "model": model_input(aigne.MODELS, "dall-e-2"),
                "size": (
                    aigne.GENERATE_SIZES,
                    {
                        "default": "1024x1024",
                        "tooltip": "dall-e-2: 256x256, 512x512, 1024x1024. dall-e-3: 1024x1024, 1792x1024, "
                        "1024x1792. gpt-image-1: 1024x1024, 1536x1024, 1024x1536, auto.",
                    },
                ),
                "n": count_input("Images per call (1-10); dall-e-3 makes only 1."),
                "quality": (aigne.QUALITIES, {"default": "standard", "tooltip": "dall-e-3 only (hd costs more); not sent for other models."}),
                "style": (aigne.STYLES, {"default": "vivid", "tooltip": "dall-e-3 only; not sent for other models."}),
                "response_format": (
                    aigne.RESPONSE_FORMATS,
                    {
                        "default": "b64_json",
                        "tooltip": "b64_json: the image comes inside the reply. url: the hub returns a link "
                        "(valid about an hour) that the node downloads at once, without your key.",
                    },
                ),
                "seed": seed_input(False, "AIGNE Hub"),
            },
            "optional": dict(_OPTIONAL),
            **HIDDEN,
        }

    def call(self, prompt, model, size, n, quality, style, response_format, seed=0, path=aigne.SEED_PATH, base_url="", unique_id=None):
        call = _call("image generation", model, unique_id, base_url)
        with call.context():
            path = aigne.check_path(path)
            body = aigne.generation_body(
                prompt=prompt, model=model, n=n, size=size, quality=quality, style=style, response_format=response_format
            )
            return _run(call, path, body)


class AigneHubImageEdit(RemoteImageNode):
    DESCRIPTION = (
        "Edit images with gpt-image-1 through an AIGNE Hub: the input images travel in the call's "
        "`image` field as data URLs (every image of the batch, plus the optional second input)."
    )
    SEARCH_ALIASES = ["aigne", "arcblock", "gpt image", "image to image", "img2img", "edit image", "combine images"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = aigne.PROVIDER.label
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The edited images as one batch.", _INFO_TOOLTIP)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit; every image of the batch is sent in one call."}),
                "prompt": prompt_input("The change to make, or how to combine the images."),
                "model": model_input(
                    [aigne.EDIT_MODEL, f"openai/{aigne.EDIT_MODEL}"],
                    aigne.EDIT_MODEL,
                    "Only gpt-image-1 edits on AIGNE Hub; it is sent as gpt-image-1 because the hub ignores the "
                    "images for any other name.",
                ),
                "size": (aigne.SIZES[aigne.EDIT_MODEL], {"default": "auto", "tooltip": "Size of the result; auto lets the model pick one close to the input's aspect."}),
                "n": count_input("Edited versions to make (1-10)."),
                "seed": seed_input(False, "AIGNE Hub"),
            },
            "optional": {
                "image_2": ("IMAGE", {"tooltip": "More input images (any size), sent after the first input's images."}),
                **_OPTIONAL,
            },
            **HIDDEN,
        }

    def call(self, image, prompt, model, size, n, seed=0, image_2=None, path=aigne.SEED_PATH, base_url="", unique_id=None):
        call = _call("image edit", model, unique_id, base_url)
        with call.context():
            path = aigne.check_path(path)
            aigne.check_edit(prompt=prompt, model=model, n=n, size=size)
            blobs = images.encode_images(image)
            if image_2 is not None:
                blobs += images.encode_images(image_2, what="image_2")
            body = aigne.edit_body(prompt=prompt, model=model, n=n, size=size, image_urls=[images.data_url(b) for b in blobs])
            return _run(call, path, body)


NODES = {
    node_id("AigneHubImageGenerate"): (AigneHubImageGenerate, "AIGNE Hub Image Generate"),
    node_id("AigneHubImageEdit"): (AigneHubImageEdit, "AIGNE Hub Image Edit"),
}

PROVIDERS = (aigne.PROVIDER,)

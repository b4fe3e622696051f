"""OVH AI Endpoints node: Stable Diffusion XL text to image (token optional)."""

from __future__ import annotations

import contextlib

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    RemoteImageError,
    RemoteImageNode,
    count_input,
    key_status,
    node_id,
    prompt_input,
    run_in_order,
    seed_input,
    to_tensors,
)
from .providers import ovh

_OPERATION = "SDXL text to image"


def _call(unique_id, anonymous: bool) -> Call:
    call = Call(ovh.PROVIDER, _OPERATION, model=ovh.MODEL, node_id=unique_id, status_hints=ovh.STATUS_HINTS)
    if anonymous:
        call.note = ovh.anonymous_note()
    return call


@contextlib.contextmanager
def _name_the_rate_limit(anonymous: bool):
    """A 429 that outlasted the capped wait says which of OVH's two limits was hit."""
    try:
        yield
    except RemoteImageError as exc:
        if exc.status == 429:
            exc.hint = f"{exc.hint}; {ovh.rate_limit_hint(anonymous)}" if exc.hint else ovh.rate_limit_hint(anonymous)
        raise


class OvhSdxlTextToImage(RemoteImageNode):
    DESCRIPTION = (
        "Generate 1024x1024 images with Stable Diffusion XL on OVH AI Endpoints. Works without a token "
        "(2 calls a minute per IP); set OVH_AI_ENDPOINTS_ACCESS_TOKEN for 400 a minute. One call per image."
    )
    SEARCH_ALIASES = ["ovh", "sdxl", "stable diffusion", "stable diffusion xl", "text to image", "txt2img", "no key"]
    CATEGORY = f"{CATEGORY}/OVH"
    PROVIDER_LABEL = ovh.PROVIDER.label
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The generated 1024x1024 images as one batch, in order.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input("What the image should show (SDXL understands English best)."),
                "negative_prompt": ("STRING", {"multiline": True, "default": "", "tooltip": "What the image should not show; left out of the request when empty."}),
                "count": count_input(
                    "How many images (1-10). The API returns one per call, so this many calls run, a few at a time; "
                    "anonymous calls are limited to 2 a minute."
                ),
                "seed": seed_input(False, "OVH"),
            },
            **HIDDEN,
        }

    def call(self, prompt, negative_prompt="", count=1, seed=0, unique_id=None):
        anonymous = not key_status(ovh.PROVIDER)["configured"]
        call = _call(unique_id, anonymous)
        with call.context():
            body = ovh.text2image_body(prompt=prompt, negative_prompt=negative_prompt)
            count = ovh.check_count(count)
            endpoint = call.base_url  # checked (https, or http to loopback) before anything is sent
        call.progress(f"{count} image{'s' if count > 1 else ''}")

        def generate_one() -> bytes:
            job = _call(unique_id, anonymous)
            with job.context(), _name_the_rate_limit(anonymous):
                reply = job.post_json(endpoint, body, accept=ovh.ACCEPT)
                return ovh.image_bytes(reply.content, reply.content_type, reply.status)

        blobs = run_in_order([generate_one] * count, node_id=unique_id, what="call")
        image, _ = to_tensors(call, blobs)
        return (image,)

    def progress_note(self) -> str:
        return "" if key_status(ovh.PROVIDER)["configured"] else ovh.anonymous_note()


NODES = {
    node_id("OvhSdxlTextToImage"): (OvhSdxlTextToImage, "OVH SDXL Text to Image"),
}

PROVIDERS = (ovh.PROVIDER,)

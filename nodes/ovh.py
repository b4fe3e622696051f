"""OVH AI Endpoints node: Stable Diffusion XL text to image (token optional)."""

from __future__ import annotations

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    RemoteImageNode,
    count_input,
    node_id,
    prompt_input,
    run_calls,
    seed_input,
)
from .providers import ovh


class OvhSdxlTextToImage(RemoteImageNode):
    DESCRIPTION = (
        "Generate 1024x1024 images with Stable Diffusion XL on OVH AI Endpoints. Works without a token "
        "(2 calls a minute per IP); set OVH_AI_ENDPOINTS_ACCESS_TOKEN for 400 a minute. One call per image."
    )
    SEARCH_ALIASES = ["ovh", "sdxl", "stable diffusion", "stable diffusion xl", "text to image", "txt2img", "no key"]
    CATEGORY = f"{CATEGORY}/OVH"
    PROVIDER = ovh.PROVIDER
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The generated 1024x1024 images as one batch, in order.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input("What the image should show (SDXL understands English best)."),
                "negative_prompt": (
                    "STRING",
                    {
                        "multiline": True,
                        "default": "",
                        "tooltip": "What the image should not show; left out of the request when empty.",
                    },
                ),
                "count": count_input(
                    "How many images (1-10). The API returns one per call, so this many calls run, a few at a time; "
                    "anonymous calls are limited to 2 a minute."
                ),
                "seed": seed_input(False, "OVH"),
            },
            **HIDDEN,
        }

    def call(self, prompt, negative_prompt="", count=1, seed=0, unique_id=None):
        call = Call(ovh.PROVIDER, ovh.GENERATE, model=ovh.MODEL, node_id=unique_id)
        with call.context():
            body = ovh.text2image_body(prompt=prompt, negative_prompt=negative_prompt)
            count = ovh.check_count(count)
        call.progress(f"{count} image{'s' if count > 1 else ''}")
        call.quote(ovh.CATALOGUE.estimate(ovh.MODEL, count))

        def generate_one(job: Call, _):
            reply = job.post_json("", body, accept=ovh.ACCEPT)  # OVH_SDXL_URL is the whole endpoint
            return ovh.parse_image(reply.content, reply.content_type, reply.status)

        return (run_calls(call, generate_one, count=count).image,)


NODES = {
    node_id("OvhSdxlTextToImage"): (OvhSdxlTextToImage, "OVH SDXL Text to Image"),
}

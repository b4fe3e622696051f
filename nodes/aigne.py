"""AIGNE Hub nodes: generate on the hub's v2 route, edit on its native route."""

from __future__ import annotations

from .common import (
    CATEGORY,
    EXPIRED_LINK_STATUSES,
    HIDDEN,
    Call,
    LiveList,
    LiveModels,
    RemoteImageError,
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
    size_inputs,
    to_tensors,
)
from .providers import aigne

_CATEGORY = f"{CATEGORY}/AIGNE Hub"
_BASE_URL = (
    "STRING",
    {
        "default": "",
        "tooltip": "Your hub's URL including its mount path, e.g. https://hub.example.com/app. Empty: "
        "AIGNE_HUB_BASE_URL. Not secret; the key comes from AIGNE_HUB_API_KEY (or [aigne] in the credentials file) "
        "and is sent to a URL typed here only for the configured hub's host, loopback, or hosts listed in "
        "HOSTED_IMAGES_TRUSTED_HOSTS.",
    },
)
_SIZE_TOOLTIP = (
    "openai/gpt-image-2 and later: auto, the presets, or custom (width x height below: multiples of 16, longest side "
    "at most 3840, aspect ratio up to 3:1, 655,360 to 8,294,400 pixels). gpt-image-1.5 and 1-mini: 1024x1024, "
    "1536x1024, 1024x1536 or auto. Other models: whatever the hub's model takes."
)
_INFO_TOOLTIP = "The reply besides the images: the model the hub used and its usage (aigneHubCredits, added up over the calls)."
_N_TOOLTIP = (
    "Images to make (1-10). The hub returns one image per call for OpenAI's GPT image models (gpt-image*, chatgpt-image*), "
    "so n calls run, a few at a time; other models get n in one call."
)

# hub base URL -> the generation path that answered there (this process's memory)
_paths: dict[str, str] = {}


def _call(operation: str, model: str, unique_id, base_url: str, reader=aigne.error_message) -> Call:
    return Call(
        aigne.PROVIDER,
        operation,
        model=model,
        node_id=unique_id,
        base_url_override=base_url,
        error_message=reader,
        status_hints=aigne.STATUS_HINTS,
    )


def _hub_models(base_url: str = "") -> list[str]:
    """The hub's image models, from its public model list."""
    call = _call("model list", "", None, base_url)
    with call.context():
        return aigne.parse_hub_models(call.get(aigne.MODELS_PATH).json())


_live = LiveList(_hub_models)


def _gpt_options() -> dict:
    return {
        "quality": (aigne.QUALITIES, {"default": aigne.AUTO, "tooltip": "GPT image models: low, medium, high (2.5 and 2.6 also xhigh, max); auto: not sent."}),
        "background": (aigne.BACKGROUNDS, {"default": aigne.AUTO, "tooltip": "GPT image models: transparent (not gpt-image-2) or opaque; auto: not sent."}),
        "output_format": (aigne.OUTPUT_FORMATS, {"default": aigne.AUTO, "tooltip": "GPT image models: the file format returned; auto: not sent (png)."}),
        "output_compression": ("INT", {"default": aigne.DEFAULT_COMPRESSION, "min": 0, "max": 100, "tooltip": "jpeg or webp output: 0-100; 100 is not sent."}),
    }


def _download(call: Call, result, asked: int) -> list[bytes]:
    """The result files, links downloaded at once (without the key; they expire)."""
    try:
        return fetch_payloads(call, result, asked=asked)
    except RemoteImageError as exc:
        if exc.status in EXPIRED_LINK_STATUSES:
            exc.message = (
                f"the hub answered with a link to the image, but the link no longer works (HTTP {exc.status}): "
                f"it has expired or was removed; such links last about an hour. {exc.message}"
            )
            exc.hint = "run the node again; set response_format to b64_json to get the image inside the reply"
        raise


def _failed(call: Call, operation: str, error: RemoteImageError, reader) -> RemoteImageError:
    """The hub's "no such model" names the models to use instead (its live list, else the catalogue)."""
    if aigne.is_unknown_model(error, reader):
        error.hint = aigne.CATALOGUE.unknown_model_hint(call.model, operation, _live.get(call.base_url, call.base_url))
    return error


def _generate_once(plan, body: dict, unique_id, base_url: str, path: str, note: str):
    """One call on the path that works for this hub: the remembered one, else ``path`` and then the
    other known paths (a hub answers a path it does not serve with a 404 that costs nothing)."""
    hub = _call("image generation", plan.model, unique_id, base_url).base_url
    candidates = aigne.paths_to_try(path, _paths.get(hub))
    for position, candidate in enumerate(candidates, 1):
        reader = aigne.ErrorReader()
        call = _call("image generation", plan.model, unique_id, base_url, reader)
        call.note = note
        with call.context():
            try:
                reply = call.post_json(candidate, body)
            except RemoteImageError as exc:
                if not aigne.is_missing_route(exc, reader):
                    raise _failed(call, aigne.GENERATE, exc, reader) from None
                if position == len(candidates):
                    exc.message = f"the hub serves none of the known generation paths ({', '.join(candidates)}): {exc.message}"
                    raise
                continue
            _paths[hub] = candidate
            result = aigne.parse_images(reply.json())
            return _download(call, result, plan.n), result.info


def _in_calls(plan, one, unique_id, first_alone: bool) -> tuple[list[bytes], list[dict]]:
    """Run ``plan.calls`` calls of ``one(index) -> (blobs, info)`` a few at a time, in order."""
    infos: list = [None] * plan.calls

    def job(index: int) -> list[bytes]:
        blobs, infos[index] = one(index)
        return blobs

    jobs = [lambda i=i: job(i) for i in range(plan.calls)]
    if first_alone and plan.calls > 1:  # the first call finds the path the others then use
        first = job(0)
        jobs[0] = lambda: first
    batches = run_in_order(jobs, node_id=unique_id, what="call")
    return [blob for batch in batches for blob in batch], infos


class AigneHubImageGenerate(RemoteImageNode):
    DESCRIPTION = (
        "Generate images with an AIGNE Hub (needs AIGNE_HUB_BASE_URL and AIGNE_HUB_API_KEY): openai/gpt-image-2 by "
        "default, or any provider/model name the hub offers."
    )
    SEARCH_ALIASES = ["aigne", "arcblock", "dall-e", "gpt image", "text to image", "txt2img"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = aigne.PROVIDER.label
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", _INFO_TOOLTIP)

    @classmethod
    def VALIDATE_INPUTS(cls, model=None, size=None):
        return True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input(),
                "model": model_input(aigne.GENERATE_MODELS, aigne.DEFAULT_MODEL, provider="aigne"),
                **size_inputs(aigne.GENERATE_SIZES, _SIZE_TOOLTIP),
                "n": count_input(_N_TOOLTIP),
                **_gpt_options(),
                "moderation": (aigne.MODERATIONS, {"default": aigne.AUTO, "tooltip": "GPT image models: low filters less strictly; auto: not sent."}),
                "response_format": (
                    aigne.RESPONSE_FORMATS,
                    {
                        "default": "b64_json",
                        "tooltip": "Models other than GPT image models (those always answer base64): b64_json brings the "
                        "image inside the reply; url makes the hub answer with a link (valid about an hour) that the node "
                        "downloads at once, without your key.",
                    },
                ),
                "seed": seed_input(False, "AIGNE Hub"),
            },
            "optional": {
                "path": (
                    "STRING",
                    {
                        "default": aigne.GENERATION_PATH,
                        "tooltip": f"The generation endpoint below the base URL. If the hub answers 404 there, the node tries "
                        f"{', '.join(aigne.GENERATION_PATHS[1:])} and remembers what worked.",
                    },
                ),
                "base_url": _BASE_URL,
            },
            **HIDDEN,
        }

    def call(self, prompt, model, size, width, height, n, quality, background, output_format, output_compression, moderation,
             response_format, seed=0, path=aigne.GENERATION_PATH, base_url="", unique_id=None):
        call = _call("image generation", model, unique_id, base_url)
        with call.context():
            path = aigne.check_path(path)
            plan = aigne.generation_plan(
                model=model, prompt=prompt, n=n, size=aigne.chosen_size(size, width, height), quality=quality,
                background=background, output_format=output_format, output_compression=output_compression, moderation=moderation,
            )
            body = aigne.generation_body(plan, response_format)
            note = aigne.CATALOGUE.notice(plan.model)
            remembered = call.base_url in _paths
        blobs, infos = _in_calls(plan, lambda i: _generate_once(plan, body, unique_id, base_url, path, note), unique_id, not remembered)
        image, _ = to_tensors(call, blobs)
        return image, aigne.describe_calls(infos, note, shortfall(call, plan.calls * plan.n, len(blobs)))


class AigneHubImageEdit(RemoteImageNode):
    DESCRIPTION = (
        "Edit images through an AIGNE Hub's native image route: every input image (each batch item, then image_2) "
        "goes up as a FileContent, with openai/gpt-image-2 by default."
    )
    SEARCH_ALIASES = ["aigne", "arcblock", "gpt image", "image to image", "img2img", "edit image", "combine images"]
    CATEGORY = _CATEGORY
    PROVIDER_LABEL = aigne.PROVIDER.label
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The edited images as one batch.", _INFO_TOOLTIP)

    @classmethod
    def VALIDATE_INPUTS(cls, model=None, size=None):
        return True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit; every image of the batch is sent in each call."}),
                "prompt": prompt_input("The change to make, or how to combine the images."),
                "model": model_input(aigne.EDIT_MODELS, aigne.DEFAULT_MODEL, provider="aigne"),
                **size_inputs(aigne.EDIT_SIZES, _SIZE_TOOLTIP),
                "n": count_input(_N_TOOLTIP),
                **_gpt_options(),
                "seed": seed_input(False, "AIGNE Hub"),
            },
            "optional": {
                "image_2": ("IMAGE", {"tooltip": "More input images (any size), sent after the first input's images."}),
                "base_url": _BASE_URL,
            },
            **HIDDEN,
        }

    def call(self, image, prompt, model, size, width, height, n, quality, background, output_format, output_compression,
             seed=0, image_2=None, base_url="", unique_id=None):
        call = _call("image edit", model, unique_id, base_url)
        with call.context():
            plan = aigne.edit_plan(
                model=model, prompt=prompt, n=n, size=aigne.chosen_size(size, width, height), quality=quality,
                background=background, output_format=output_format, output_compression=output_compression,
            )
            blobs = images.encode_images(image)
            if image_2 is not None:
                blobs += images.encode_images(image_2, what="image_2")
            body = aigne.edit_body(plan, [aigne.file_content(blob, index) for index, blob in enumerate(blobs)])
            note = aigne.CATALOGUE.notice(plan.model)

        def edit_once(index: int):
            reader = aigne.ErrorReader()
            job = _call("image edit", plan.model, unique_id, base_url, reader)
            job.note = note
            with job.context():
                try:
                    reply = job.post_json(aigne.NATIVE_PATH, body)
                except RemoteImageError as exc:
                    if aigne.is_missing_route(exc, reader):
                        exc.hint = f"this hub does not serve the native image route {aigne.NATIVE_PATH}, which edits need; update the hub"
                        raise
                    raise _failed(job, aigne.EDIT, exc, reader) from None
                result = aigne.parse_native(reply.json())
                return _download(job, result, plan.n), result.info

        edited, infos = _in_calls(plan, edit_once, unique_id, False)
        image, _ = to_tensors(call, edited)
        return image, aigne.describe_calls(infos, note, shortfall(call, plan.calls * plan.n, len(edited)))


MODEL_LISTS = {"aigne": LiveModels(aigne.PROVIDER.label, _hub_models, aigne.CATALOGUE.able, connection=("base_url",))}
PROVIDERS = (aigne.PROVIDER,)

NODES = {
    node_id("AigneHubImageGenerate"): (AigneHubImageGenerate, "AIGNE Hub Image Generate"),
    node_id("AigneHubImageEdit"): (AigneHubImageEdit, "AIGNE Hub Image Edit"),
}

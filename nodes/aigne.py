"""AIGNE Hub nodes: generate on the hub's v2 route, edit on its native route."""

from __future__ import annotations

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
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
    size_inputs,
    with_chosen_model,
)
from .providers import aigne

_CATEGORY = f"{CATEGORY}/AIGNE Hub"
_BASE_URL = (
    "STRING",
    {
        "default": "",
        "tooltip": "Your hub's URL including its mount path, e.g. https://hub.example.com/app. Empty: "
        "AIGNE_HUB_BASE_URL. Not secret; the key comes from AIGNE_HUB_API_KEY (or [aigne] in the credentials file) "
        "and is sent to a URL typed here only for the configured hub's host (and port, on loopback) or hosts "
        "listed in HOSTED_IMAGES_TRUSTED_HOSTS.",
        "advanced": True,
    },
)
_SIZE_TOOLTIP = (
    "openai/gpt-image-2 and later: auto, the presets, or custom (width x height below: multiples of 16, longest side "
    "at most 3840, aspect ratio up to 3:1, 655,360 to 8,294,400 pixels). Google's models: auto (they pick the size; "
    "an edit keeps the input's shape). Other models: whatever the hub's model takes."
)
_INFO_TOOLTIP = (
    "The reply besides the images: the model the hub used and its usage (aigneHubCredits, added up over the calls)."
)
_N_TOOLTIP = (
    "Images to make (1-10): one call with n for OpenAI's models and models the pack does not know; for Google's "
    "models one call per image, a few at a time."
)

# hub base URL -> the generation path that answered there (this process's memory)
_paths: dict[str, str] = {}


def _hub_models(base_url: str = "") -> list[str]:
    """The hub's image models, from its public model list."""
    return fetch_model_list(aigne.PROVIDER, aigne.MODELS_PATH, aigne.image_model_ids, base_url_override=base_url)


_live = ModelListCache(_hub_models)


def _for_model(call: Call, operation: str, build):
    """``build(model)`` for the model named, or for what ``auto`` becomes among the hub's listed models."""
    return with_chosen_model(call, aigne.CATALOGUE, operation, lambda: _live.get(call.base_url, call.base_url), build)


_PASSED_ON = (
    "The hub's framework passes it on to OpenAI only for gpt-image-1 (shut down), so it is refused for OpenAI's "
    "current models and hidden for them; models the pack does not know get it as set."
)


def _gpt_options() -> dict:
    return {
        "quality": (
            aigne.QUALITIES,
            {"default": aigne.AUTO, "tooltip": f"low, medium, high, xhigh or max; auto: not sent. {_PASSED_ON}"},
        ),
        "background": (
            aigne.BACKGROUNDS,
            {"default": aigne.AUTO, "tooltip": f"transparent or opaque; auto: not sent. {_PASSED_ON}"},
        ),
        "output_format": (
            aigne.OUTPUT_FORMATS,
            {"default": aigne.AUTO, "tooltip": f"The file format returned; auto: not sent. {_PASSED_ON}"},
        ),
        "output_compression": (
            "INT",
            {
                "default": aigne.DEFAULT_COMPRESSION,
                "min": 0,
                "max": 100,
                "tooltip": f"jpeg or webp output: 0-100; 100 is not sent. {_PASSED_ON}",
                "advanced": True,
            },
        ),
    }


_SIZE = ("size", "width", "height")
_GENERATE_ONLY = ("moderation", "response_format")  # options of the generation node besides the GPT ones


def _failed(call: Call, operation: str, error: RemoteImageError) -> RemoteImageError:
    """The hub's "no such model" names the models to use instead (its live list, else the catalogue)."""
    if aigne.is_unknown_model(error):
        error.hint = aigne.CATALOGUE.unknown_model_hint(call.model, operation, _live.get(call.base_url, call.base_url))
    return error


def _generate_once(job: Call, body: dict, path: str):
    """One call on the path that works for this hub: the remembered one, else ``path`` and then the
    other known paths (a hub answers a path it does not serve with a 404 that costs nothing)."""
    hub = job.base_url
    candidates = aigne.paths_to_try(path, _paths.get(hub))
    for position, candidate in enumerate(candidates, 1):
        attempt = job.sibling()
        try:
            reply = attempt.post_json(candidate, body)
        except RemoteImageError as exc:
            if not aigne.is_missing_route(exc):
                raise _failed(attempt, aigne.GENERATE, exc) from None
            if position == len(candidates):
                exc.message = (
                    f"the hub serves none of the known generation paths ({', '.join(candidates)}): {exc.message}"
                )
                raise
            continue
        _paths[hub] = candidate
        return aigne.parse_images(reply.json())


class _AigneHubImageNode(RemoteImageNode):
    CATEGORY = _CATEGORY
    PROVIDER = aigne.PROVIDER
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")

    @classmethod
    def VALIDATE_INPUTS(cls, model=None, size=None):
        # model and size are checked at run time: API-format workflows may name any model and any WIDTHxHEIGHT
        return True


class AigneHubImageGenerate(_AigneHubImageNode):
    DESCRIPTION = (
        "Generate images with an AIGNE Hub (needs AIGNE_HUB_BASE_URL and AIGNE_HUB_API_KEY): model auto picks the "
        "preferred model the hub lists (openai/gpt-image-2 first), or name any provider/model the hub offers."
    )
    SEARCH_ALIASES = ["aigne", "arcblock", "dall-e", "gpt image", "text to image", "txt2img"]
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", _INFO_TOOLTIP)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input(),
                "model": model_input(
                    aigne.CATALOGUE,
                    aigne.GENERATE,
                    provider="aigne",
                    managed=(*_SIZE, *_gpt_options(), *_GENERATE_ONLY),
                ),
                **size_inputs(aigne.size_choices(aigne.CATALOGUE, aigne.GENERATE), _SIZE_TOOLTIP),
                "n": count_input(_N_TOOLTIP),
                **_gpt_options(),
                "moderation": (
                    aigne.MODERATIONS,
                    {
                        "default": aigne.AUTO,
                        "tooltip": f"low filters less strictly; auto: not sent. {_PASSED_ON}",
                        "advanced": True,
                    },
                ),
                "response_format": (
                    aigne.RESPONSE_FORMATS,
                    {
                        "default": "b64_json",
                        "tooltip": (
                            "Models the pack does not know (the others answer base64 and are not sent it): "
                            "b64_json brings the image inside the reply; url makes the hub answer with a link "
                            "(valid about an hour) that the node downloads at once, without your key."
                        ),
                        "advanced": True,
                    },
                ),
                "seed": seed_input(False, "AIGNE Hub"),
            },
            "optional": {
                "path": (
                    "STRING",
                    {
                        "default": aigne.GENERATION_PATH,
                        "tooltip": (
                            "The generation endpoint below the base URL. If the hub answers 404 there, the node "
                            f"tries {', '.join(aigne.GENERATION_PATHS[1:])} and remembers what worked."
                        ),
                        "advanced": True,
                    },
                ),
                "base_url": _BASE_URL,
            },
            **HIDDEN,
        }

    def call(
        self,
        prompt,
        model,
        size,
        width,
        height,
        n,
        response_format,
        seed=0,
        path=aigne.GENERATION_PATH,
        base_url="",
        unique_id=None,
        **options,  # the _gpt_options() inputs and moderation, checked by the provider module
    ):
        call = Call(aigne.PROVIDER, aigne.GENERATE, model=model, node_id=unique_id, base_url_override=base_url)
        with call.context():
            path = aigne.check_path(path)
            plan = _for_model(
                call,
                aigne.GENERATE,
                lambda chosen: aigne.generation_plan(
                    model=chosen, prompt=prompt, n=n, size=aigne.chosen_size(size, width, height), **options
                ),
            )
            body = plan.generation_body(response_format)
            call.model, call.note = plan.model, aigne.CATALOGUE.notice(plan.model)
            call.quote(aigne.CATALOGUE.estimate(plan.model, n), per_call=plan.n)
            remembered = call.base_url in _paths
        # unless this hub's path is known, the first call finds it before the others start
        batch = run_calls(
            call,
            lambda job, _: _generate_once(job, body, path),
            count=plan.calls,
            per_call=plan.n,
            first_alone=not remembered,
        )
        return batch.image, batch.describe(call.note)


class AigneHubImageEdit(_AigneHubImageNode):
    DESCRIPTION = (
        "Edit images through an AIGNE Hub's native image route with a Google Gemini image model (OpenAI's models "
        "cannot edit through a hub): every input image (each batch item, then image_2) goes up as a FileContent."
    )
    SEARCH_ALIASES = ["aigne", "arcblock", "gpt image", "image to image", "img2img", "edit image", "combine images"]
    OUTPUT_TOOLTIPS = ("The edited images as one batch.", _INFO_TOOLTIP)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit; every image of the batch is sent in each call."}),
                "prompt": prompt_input("The change to make, or how to combine the images."),
                "model": model_input(aigne.CATALOGUE, aigne.EDIT, provider="aigne", managed=(*_SIZE, *_gpt_options())),
                **size_inputs(aigne.size_choices(aigne.CATALOGUE, aigne.EDIT), _SIZE_TOOLTIP),
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

    def call(
        self,
        image,
        prompt,
        model,
        size,
        width,
        height,
        n,
        seed=0,
        image_2=None,
        base_url="",
        unique_id=None,
        **options,  # the _gpt_options() inputs, checked by the provider module
    ):
        call = Call(aigne.PROVIDER, aigne.EDIT, model=model, node_id=unique_id, base_url_override=base_url)
        with call.context():
            images = encode_edit_inputs(image, how=aigne.UPLOADS, more={"image_2": image_2}).images
            aigne.check_upload(images, prompt)  # before the hub's model list is read
            plan = _for_model(
                call,
                aigne.EDIT,
                lambda chosen: aigne.edit_plan(
                    model=chosen, prompt=prompt, n=n, size=aigne.chosen_size(size, width, height), **options
                ),
            )
            body = plan.edit_body(images)
            call.model, call.note = plan.model, aigne.CATALOGUE.notice(plan.model)
            call.quote(aigne.CATALOGUE.estimate(plan.model, n), per_call=plan.n)

        def edit_once(job: Call, _):
            try:
                reply = job.post_json(aigne.NATIVE_PATH, body)
            except RemoteImageError as exc:
                if aigne.is_missing_route(exc):
                    exc.hint = (
                        f"this hub does not serve the native image route {aigne.NATIVE_PATH}, which edits need; "
                        "update the hub"
                    )
                    raise
                raise _failed(job, aigne.EDIT, exc) from None
            return aigne.parse_native(reply.json())

        batch = run_calls(call, edit_once, count=plan.calls, per_call=plan.n)
        return batch.image, batch.describe(call.note)


MODEL_LIST = ModelList(aigne.PROVIDER, _hub_models, connection=("base_url",), public=True)

NODES = {
    node_id("AigneHubImageGenerate"): (AigneHubImageGenerate, "AIGNE Hub Image Generate"),
    node_id("AigneHubImageEdit"): (AigneHubImageEdit, "AIGNE Hub Image Edit"),
}

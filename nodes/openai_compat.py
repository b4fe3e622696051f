"""Nodes for any OpenAI-compatible Images API server: generate, edit with a mask, list models."""

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
    size_inputs,
    stream_images,
    with_chosen_model,
)
from .providers import openai_compat as api

_CATEGORY = f"{CATEGORY}/OpenAI-compatible"
_SIZE_TOOLTIP = (
    "auto: the model picks (not sent to servers the pack does not know). gpt-image-2 and later: the presets, or "
    "custom (width x height below): both multiples of 16, longest side at most 3840, aspect ratio up to 3:1, "
    "655,360 to 8,294,400 pixels. "
    "API-format workflows may also give WIDTHxHEIGHT here."
)


def _connection_inputs() -> dict:
    return {
        "base_url": (
            "STRING",
            {
                "default": "",
                "tooltip": (
                    "The server's API root, e.g. http://127.0.0.1:8080/v1. Empty: OPENAI_BASE_URL, else "
                    "https://api.openai.com/v1. A key is sent to a URL typed here only for the configured URL's host "
                    "(and port, on loopback) or hosts listed in HOSTED_IMAGES_TRUSTED_HOSTS (with their port)."
                ),
                "advanced": True,
            },
        ),
        "api_key_env": (
            "STRING",
            {
                "default": api.DEFAULT_KEY_ENV,
                "tooltip": (
                    "The NAME of the environment variable that holds the key (never the key itself): OPENAI_API_KEY, "
                    "a variable listed in HOSTED_IMAGES_KEY_VARIABLES, or a section of the credentials file. "
                    "Empty: send no key (local servers without auth)."
                ),
                "advanced": True,
            },
        ),
    }


def _newer_inputs() -> dict:
    # the last inputs, in the order they were added, so that workflows saved before them keep their values in place
    return {
        "partial_images": (
            "INT",
            {
                "default": 0,
                "min": 0,
                "max": api.MAX_PARTIAL_IMAGES,
                "tooltip": (
                    "Live previews: 1-3 partial images streamed while the model works, each shown on the node as it "
                    "arrives. Each partial image is billed as extra output tokens. 0: no stream (not sent). "
                    "Only GPT image models stream; a server that does not simply answers when done."
                ),
                "advanced": True,
            },
        ),
        "complexity": (
            api.COMPLEXITIES,
            {
                "default": api.AUTO,
                "tooltip": (
                    "gpt-image-2.6: how much effort goes into planning the image (low, medium, high), apart from "
                    "quality; auto: not sent (OpenAI's default, high)."
                ),
                "advanced": True,
            },
        ),
    }


def _options(*, edit: bool) -> dict:
    options = {
        "quality": (
            api.QUALITIES,
            {
                "default": api.AUTO,
                "tooltip": (
                    "auto: not sent. gpt-image-2: low, medium, high; "
                    "gpt-image-2.5 and 2.6 also xhigh and max. Other servers: whatever they take."
                ),
            },
        ),
        "background": (
            api.BACKGROUNDS,
            {
                "default": api.AUTO,
                "tooltip": (
                    "auto: not sent. transparent (gpt-image-2.5 and 2.6; not gpt-image-2) gives a MASK "
                    "from the result's alpha; it needs png or webp output."
                ),
            },
        ),
        "output_format": (
            api.OUTPUT_FORMATS,
            {"default": api.AUTO, "tooltip": "GPT image models: the file format returned; auto: not sent (png)."},
        ),
        "output_compression": (
            "INT",
            {
                "default": api.DEFAULT_COMPRESSION,
                "min": 0,
                "max": 100,
                "tooltip": "jpeg or webp output: 0-100; 100 is the default and is not sent.",
                "advanced": True,
            },
        ),
    }
    if edit:
        options["input_fidelity"] = (
            api.INPUT_FIDELITIES,
            {
                "default": api.AUTO,
                "tooltip": (
                    "How closely the edit keeps the input's faces and details: high or low, for other servers' models "
                    "(gpt-image-1.5 took it until its shutdown); "
                    "gpt-image-2 and later always work at high fidelity and refuse it. auto: not sent."
                ),
                "advanced": True,
            },
        )
    else:
        options["moderation"] = (
            api.MODERATIONS,
            {
                "default": api.AUTO,
                "tooltip": "GPT image models: low filters less strictly; auto: not sent (OpenAI's default).",
                "advanced": True,
            },
        )
    options["response_format"] = (
        api.RESPONSE_FORMATS,
        {
            "default": api.AUTO,
            "tooltip": (
                "Other servers only: url (downloaded at once, without your key) or b64_json. "
                "GPT image models always answer base64 and refuse it. auto: not sent."
            ),
            "advanced": True,
        },
    )
    return options


def _managed(*, edit: bool) -> tuple[str, ...]:
    """The inputs that only some models take: hidden while the chosen model does not take them."""
    return (*_options(edit=edit), *_newer_inputs())


def _models(base_url: str, api_key_env: str, unique_id=None):
    """The server's ``GET /models`` reply, with the key from what api_key_env names (the
    transport decides where it may go)."""
    return fetch_model_list(api.PROVIDER, node_id=unique_id, base_url_override=base_url, key_from=api_key_env)


def _server_models(call: Call):
    return fetch_model_list(call.provider, parse=api.parse_models, base_url_override=call.base_url)


_live = ModelListCache(_server_models)  # per base URL and key variable: OpenAI's list carries shutdown dates


def _endpoint(call: Call) -> str:
    return f"{call.base_url} {call.provider.key_env}"


def _for_model(call: Call, operation: str, build):
    """``build(model)`` for the model named, or for what ``auto`` becomes among the server's listed models."""

    def listed():
        models = _live.get(_endpoint(call), call)
        return [m.id for m in models] if models is not None else None

    return with_chosen_model(call, api.CATALOGUE, operation, listed, build)


def _run(call: Call, operation: str, send, n: int, partial_images: int):
    """Send (``send(job, stream)``; ``stream`` None unless partial images stream), first announcing
    on the node a shutdown the catalogue knows; nothing else is sent before the image call. With
    partial images the reply is read as a stream, each one shown on the node as it arrives. After
    it: a "no such model" answer names the models to use instead (from the server's live list,
    else the catalogue); a success announces a shutdown date the server's list gives (fetched at
    most every ten minutes; a failed fetch is ignored); fewer images than ``n`` are said on the
    node. -> (IMAGE, MASK, info)"""
    endpoint, host = _endpoint(call), api.host_of(call.base_url)
    call.note = api.CATALOGUE.notice(call.model, host=host)
    if call.note:
        call.progress()

    def one(job: Call, _):
        try:
            if partial_images:
                result = stream_images(job, lambda stream: send(job, stream), api.ImageStream(n, partial_images))
            else:
                result = api.parse_images(send(job, None).json())
        except RemoteImageError as exc:
            if api.is_unknown_model(exc):
                models = _live.get(endpoint, job)
                live = api.image_ids(models) if models is not None else None
                exc.hint = api.CATALOGUE.unknown_model_hint(job.model, operation, live)
            raise
        return result

    batch = run_calls(call, one, per_call=n)
    # after the images are in hand (their links fetched): the list only adds a notice
    with batch.kept_if_cancelled(call.node_id):
        live_shutdown = api.live_shutdown(_live.get(endpoint, call), call.model)
    notice = api.CATALOGUE.notice(call.model, live_shutdown=live_shutdown, host=host)
    if notice != call.note:
        call.note = notice
        call.progress()
    return batch.image, batch.mask, batch.describe(notice)


class _OpenAICompatImageNode(RemoteImageNode):
    CATEGORY = _CATEGORY
    PROVIDER = api.PROVIDER
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "mask", "info")

    @classmethod
    def VALIDATE_INPUTS(cls, model=None, size=None):
        # model and size are checked at run time: API-format workflows may name any model and any WIDTHxHEIGHT
        return True


_MASK_AND_INFO = (
    "1 where a result is transparent (background=transparent), else 0.",
    "usage, a shutdown notice and the other fields of the reply.",
)


class OpenAICompatImageGenerate(_OpenAICompatImageNode):
    DESCRIPTION = (
        "Generate images with OpenAI's Images API (model auto: the preferred model the server lists) or any server "
        "that speaks it (set "
        "base_url). Only the parameters the chosen model accepts are sent; 'auto' means not sent."
    )
    SEARCH_ALIASES = [
        "openai",
        "dall-e",
        "dalle",
        "gpt image",
        "gpt-image",
        "chatgpt image",
        "text to image",
        "txt2img",
        "local server",
    ]
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", *_MASK_AND_INFO)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "prompt": prompt_input("What the image should show (GPT image models: up to 32000 characters)."),
                "model": model_input(api.CATALOGUE, api.GENERATE, provider="openai", managed=_managed(edit=False)),
                "n": count_input("Images per call (1-10). 1 is not sent."),
                **size_inputs(api.size_choices(api.CATALOGUE, api.GENERATE), _SIZE_TOOLTIP),
                **_options(edit=False),
                "seed": seed_input(False, "OpenAI's Images API"),
            },
            "optional": {**_connection_inputs(), **_newer_inputs()},
            **HIDDEN,
        }

    def call(
        self,
        model,
        prompt,
        n,
        size,
        width,
        height,
        seed=0,
        base_url="",
        api_key_env=api.DEFAULT_KEY_ENV,
        partial_images=0,
        unique_id=None,
        **options,  # the _options() inputs, checked by the provider module
    ):
        call = Call(
            api.PROVIDER,
            api.GENERATE,
            model=model,
            node_id=unique_id,
            base_url_override=base_url,
            key_from=api_key_env,
        )
        with call.context():
            body = _for_model(
                call,
                api.GENERATE,
                lambda chosen: api.generation_body(
                    model=chosen,
                    prompt=prompt,
                    n=n,
                    size=api.chosen_size(size, width, height),
                    partial_images=partial_images,
                    host=api.host_of(call.base_url),
                    **options,
                ),
            )
            _quote(call, n, api.chosen_size(size, width, height), options)
        return _run(
            call,
            api.GENERATE,
            lambda job, stream: job.post_json("images/generations", body, stream=stream),
            n,
            partial_images,
        )


class OpenAICompatImageEdit(_OpenAICompatImageNode):
    DESCRIPTION = (
        "Edit images with OpenAI's Images API (model auto: the preferred model the server lists) or any server that "
        "speaks it. The images go "
        "up as PNG files (a batch as image[]), the mask as a PNG whose alpha is 0 where MASK is 1."
    )
    SEARCH_ALIASES = [
        "openai",
        "dall-e",
        "gpt image",
        "gpt-image",
        "inpaint",
        "image to image",
        "img2img",
        "edit image",
        "mask",
    ]
    OUTPUT_TOOLTIPS = ("The edited images as one batch.", *_MASK_AND_INFO)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The image(s) to edit: a batch of up to 16 goes up in one call."}),
                "prompt": prompt_input("The change to make (GPT image models: up to 32000 characters)."),
                "model": model_input(api.CATALOGUE, api.EDIT, provider="openai", managed=_managed(edit=True)),
                "n": count_input("Edited versions per call (1-10). 1 is not sent."),
                **size_inputs(api.size_choices(api.CATALOGUE, api.EDIT), _SIZE_TOOLTIP),
                **_options(edit=True),
                "seed": seed_input(False, "OpenAI's Images API"),
            },
            "optional": {
                "mask": (
                    "MASK",
                    {
                        "tooltip": (
                            "Where to edit (1 = change), applied to the first image and resized to it. "
                            "LoadImage's empty mask means the whole image."
                        )
                    },
                ),
                **_connection_inputs(),
                **_newer_inputs(),
            },
            **HIDDEN,
        }

    def call(
        self,
        image,
        prompt,
        model,
        n,
        size,
        width,
        height,
        seed=0,
        mask=None,
        base_url="",
        api_key_env=api.DEFAULT_KEY_ENV,
        partial_images=0,
        unique_id=None,
        **options,  # the _options(edit=True) inputs, checked by the provider module
    ):
        call = Call(
            api.PROVIDER, api.EDIT, model=model, node_id=unique_id, base_url_override=base_url, key_from=api_key_env
        )
        with call.context():
            inputs = encode_edit_inputs(image, mask, how=api.UPLOADS)
            parts = _for_model(
                call,
                api.EDIT,
                lambda chosen: api.edit_fields(
                    api.check_edit(
                        model=chosen,
                        prompt=prompt,
                        n=n,
                        size=api.chosen_size(size, width, height),
                        partial_images=partial_images,
                        host=api.host_of(call.base_url),
                        **options,
                    ),
                    inputs.images,
                    inputs.masks[0] if inputs.masks else None,
                ),
            )
            _quote(call, n, api.chosen_size(size, width, height), options)
        return _run(
            call,
            api.EDIT,
            lambda job, stream: job.post_multipart("images/edits", parts, stream=stream),
            n,
            partial_images,
        )


def _quote(call: Call, n: int, size: str, options: dict) -> None:
    """The run's estimate, before sending: OpenAI's list price where the call goes to OpenAI."""
    estimate = api.CATALOGUE.estimate(
        call.model, n, size=size, quality=options.get("quality", "auto"), host=api.host_of(call.base_url)
    )
    call.quote(estimate, per_call=n)


class OpenAICompatListModels(ListModelsNode):
    DESCRIPTION = "List the models of an OpenAI-compatible server (GET /models), one id per line."
    SEARCH_ALIASES = ["openai models", "list models", "model ids", "local server"]
    CATEGORY = _CATEGORY
    PROVIDER = api.PROVIDER
    FILTER_EXAMPLE = "image"

    @classmethod
    def extra_inputs(cls) -> dict:
        return _connection_inputs()

    def list_models(self, unique_id=None, base_url="", api_key_env=api.DEFAULT_KEY_ENV) -> list[str]:
        return [model.id for model in api.parse_models(_models(base_url, api_key_env, unique_id))]


def live_models(base_url: str = "", api_key_env: str = api.DEFAULT_KEY_ENV) -> list[str]:
    """Image models of the node's server for the refresh button: its base_url and api_key_env, else
    OPENAI_BASE_URL and OPENAI_API_KEY, under the same key-destination rule as the node."""
    return api.image_model_ids(_models(base_url, api_key_env))


MODEL_LIST = ModelList(api.PROVIDER, live_models, connection=("base_url", "api_key_env"))

NODES = {
    node_id("OpenAICompatImageGenerate"): (OpenAICompatImageGenerate, "OpenAI-compatible Image Generate"),
    node_id("OpenAICompatImageEdit"): (OpenAICompatImageEdit, "OpenAI-compatible Image Edit"),
    node_id("OpenAICompatListModels"): (OpenAICompatListModels, "OpenAI-compatible List Models"),
}

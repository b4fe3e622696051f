"""AIGNE Hub (docs/providers.md section 2): generations on the hub's v2 OpenAI-style route,
edits on its native route with FileContent images.

Hubs differ in which generation path they serve (``/api/v2/image/generations``; a newer branch
also ``/api/v2/images/generations``; the docs show ``/api/images/generations``, which no hub
built from the current code serves), so a path that answers "no such route" (a 404 that is not
JSON; such a 404 is not billed) gives way to the next. Replies are read in every shape: the
v2 route's ``{images, data, model, usage}`` with the base64 under ``b64_json``, ``base64`` and
``b64Json``, OpenAI's ``{created, data}``, and the native ``{images: [FileContent], usage}``.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ..core import validation as check
from ..core.errors import InputError, RemoteImageError
from ..core.payloads import ImageResult, ResultImage, Uploads, b64decode, b64encode, mime_type, split_data_url
from ..core.provider import Provider, register
from ..core.validation import readable_size
from . import aigne_models, catalogue, openai_wire
from .catalogue import AUTO, EDIT, GENERATE, chosen_size, host_of, parse_size, size_choices  # noqa: F401 -- the nodes'

CATALOGUE = aigne_models.CATALOGUE

GENERATION_PATH = "/api/v2/image/generations"  # the hub's current code
DOCS_PATH = "/api/images/generations"  # the path in the hub's docs, no longer served: saved workflows still name it
GENERATION_PATHS = (GENERATION_PATH, "/api/v2/images/generations", DOCS_PATH)  # in the order tried
NATIVE_PATH = "/api/v2/image"  # the hub's own route, which its SDK uses; it takes FileContent images
MODELS_PATH = "/api/ai-providers/models?type=image"  # the hub's public model list

QUALITIES = [AUTO, "low", "medium", "high", "xhigh", "max"]
BACKGROUNDS = [AUTO, "transparent", "opaque"]
OUTPUT_FORMATS = [AUTO, "png", "jpeg", "webp"]
MODERATIONS = [AUTO, "low"]
RESPONSE_FORMATS = ["b64_json", "url"]
DEFAULT_COMPRESSION = 100
UNSET = {"output_compression": DEFAULT_COMPRESSION}
MAX_BODY_BYTES = 30 * 1024 * 1024  # the hub refuses larger request bodies
# the native route's option names (the framework reads camelCase)
NATIVE_NAMES = {"output_format": "outputFormat", "output_compression": "outputCompression"}
UPLOADS = Uploads()  # PNG files, sent as FileContent (base64 in the JSON body)

_PATH = re.compile(r"^/[\w./~-]*$")
# OpenAI's GPT image models, by name: they always answer base64 and refuse response_format, including
# those newer than the catalogue
_GPT_IMAGE = re.compile(r"^(openai/)?(gpt-image|chatgpt-image)", re.I)
# The hub relays an upstream "no such model" (OpenAI: "The model `x` does not exist", code
# model_not_found) as a JSON 404, a newer hub says "No available provider for model: x".
_UNKNOWN_MODEL = re.compile(r"does not exist|model_not_found|no available provider|not a valid model", re.I)


def check_path(path: Any) -> str:
    path = (path or "").strip() if isinstance(path, str) else path
    if not isinstance(path, str) or not _PATH.match(path) or ".." in path:
        raise InputError(
            f"path {path!r} must be the generation endpoint below the base URL, starting with /, e.g. {GENERATION_PATH}"
        )
    return path


def paths_to_try(path: str, remembered: str | None) -> list[str]:
    """The chosen path first (the one that worked for this hub, when the input is left at the
    default or at the docs' path that saved workflows carry), then the other known paths."""
    first = remembered if remembered and path in (GENERATION_PATH, DOCS_PATH) else path
    return [first, *(known for known in GENERATION_PATHS if known != first)]


# --- requests -----------------------------------------------------------------------------------


def hub_name(model: str) -> str:
    """The name to send: a bare name the catalogue knows gets its provider (``gpt-image-2`` ->
    ``openai/gpt-image-2``), since the native route takes only provider/model; others as typed."""
    entry = CATALOGUE.find(model) if "/" not in model else None
    if entry is None:
        return model
    return next((i for i in (entry.id, *entry.aliases) if i.lower().endswith(f"/{model.lower()}")), entry.id)


class Plan:
    """A checked request: its options and how many calls make the ``n`` images asked for."""

    def __init__(self, *, model: str, prompt: str, n: int, size: str, options: dict, operation: str, on=None):
        self.model = hub_name(check.model_name(model))
        self.rules = CATALOGUE.rules(self.model, operation, on)
        hub = CATALOGUE.endpoint[operation]
        limits = self.rules or hub  # a model the catalogue does not know: the hub's own rules
        check.prompt(prompt, max_chars=limits.prompt_limit)
        hub.check_number(self.model, "n", n)  # the images to make, whatever the model: the hub's limit
        size = (size or "").strip() or AUTO
        self.size = self.rules.check_size(self.model, size) if self.rules else (size if size == AUTO else _form(size))
        # an OpenAI model newer than the catalogue gets dall-e-2's parameter list from the framework too
        takes = self.rules or (catalogue.Operation() if self.model.lower().startswith("openai/") else None)
        try:
            self.options = catalogue.chosen_options(self.model, takes, options, UNSET)
        except InputError as exc:
            if self.model.startswith("openai/") and " does not accept " in exc.message:
                exc.message += (
                    f": the hub's framework passes OpenAI's options on only for gpt-image-1, so {self.model} "
                    "would make the image without it"
                )
            raise
        limits.check_numbers(self.model, self.options)
        catalogue.refuse_transparent_jpeg(self.model, self.options)
        catalogue.refuse_compression_without_format(self.model, self.options)
        self.prompt = prompt
        self.gpt_image = bool(_GPT_IMAGE.match(self.model))
        # n in one call where the framework passes it on; one call per image where a model makes one
        # (Google's image models: the framework's candidateCount is not known to work for them)
        self.calls = n if limits.max_n == 1 else 1
        self.n = 1 if self.calls > 1 else n
        limits.check_number(self.model, "n", self.n)  # what one call asks of the model

    def generation_body(self, response_format: str) -> dict:
        """One call's JSON body for the v2 (OpenAI-style) route; response_format only goes to models
        other than GPT image models (those always answer base64 and refuse it)."""
        check.choice(response_format, RESPONSE_FORMATS, what="response_format")
        body = {"prompt": self.prompt, "model": self.model, "n": self.n, "size": self.size, **self.options}
        if self.rules is None and not self.gpt_image:
            body["response_format"] = response_format
        return body

    def edit_body(self, images: list[bytes]) -> dict:
        """The native route's body: ``{"input": {prompt, image: [FileContent], n, size, outputFileType,
        modelOptions: {model, ...options}}}``; "file" asks for the images inside the reply."""
        files = check_upload(images, self.prompt)
        model_options = {"model": self.model, **{NATIVE_NAMES.get(k, k): v for k, v in self.options.items()}}
        return {
            "input": {
                "prompt": self.prompt,
                "image": files,
                "n": self.n,
                "size": self.size,
                "outputFileType": "file",
                "modelOptions": model_options,
            }
        }


def check_upload(images: list[bytes], prompt: str) -> list[dict]:
    """The images as FileContent, refused when they would take the body past the hub's cap."""
    files = [_file_content(blob, index) for index, blob in enumerate(images)]
    total = sum(len(f["data"]) for f in files) + len(prompt.encode("utf-8"))
    if total > MAX_BODY_BYTES:
        raise InputError(
            f"the input images come to {readable_size(total)} as base64; AIGNE Hub accepts at most "
            f"{readable_size(MAX_BODY_BYTES)} per request: send fewer or smaller images"
        )
    return files


def _form(size: str) -> str:
    width, height = parse_size(size)
    return f"{width}x{height}"


def generation_plan(*, model: str, prompt: str, n: int, size: str, on: datetime.date | None = None, **options) -> Plan:
    """``options``: quality, background, output_format, output_compression, moderation ("auto" = not sent)."""
    return Plan(model=model, prompt=prompt, n=n, size=size, options=options, operation=GENERATE, on=on)


def edit_plan(*, model: str, prompt: str, n: int, size: str, on: datetime.date | None = None, **options) -> Plan:
    """``options``: quality, background, output_format, output_compression."""
    return Plan(model=model, prompt=prompt, n=n, size=size, options=options, operation=EDIT, on=on)


def _file_content(blob: bytes, index: int) -> dict:
    """One input image as the framework's FileContent."""
    return {"type": "file", "data": b64encode(blob), "mimeType": mime_type(blob), "filename": f"image_{index + 1}.png"}


# --- replies ------------------------------------------------------------------------------------


def parse_images(body: Any) -> ImageResult:
    """The generation routes' shapes; base64 under any alias, or links to download at once."""
    return openai_wire.parse_images(body, data_keys=("data", "images"))


def parse_native(body: Any) -> ImageResult:
    """The native route's ``{"images": [FileContent], "usage": {...}, "modelWithProvider"}``."""
    if not isinstance(body, dict):
        raise RemoteImageError(f"the reply is not a JSON object but {type(body).__name__}")
    items = body.get("images")
    if not isinstance(items, list) or not items:
        raise RemoteImageError("the reply has no 'images', so no image came back")
    results = []
    for index, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "file" and isinstance(item.get("data"), str):
            data = item["data"]
            results.append(ResultImage(data=split_data_url(data)[1] if data.startswith("data:") else b64decode(data)))
        elif kind == "url" and isinstance(item.get("url"), str):
            results.append(openai_wire.image_item({"url": item["url"]}, index))
        else:
            raise RemoteImageError(f"result {index + 1} is neither a file nor a url FileContent (type {kind!r})")
    return ImageResult(images=results, info={k: v for k, v in body.items() if k != "images"})


def image_model_ids(body: Any) -> list[str]:
    """The image models of the hub's ``GET /api/ai-providers/models?type=image``:
    ``[{"key": "provider/model", "type"}]``."""
    items = body if isinstance(body, list) else body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise RemoteImageError("the hub's model list is not a list")
    keys = (
        item.get("key")
        for item in items
        if isinstance(item, dict) and item.get("type", "image_generation") == "image_generation"
    )
    return sorted({key for key in keys if isinstance(key, str) and key})


def count_asked(json_body: Any, files: list | None) -> int:
    """The images one hub request asks for: ``n`` of the generation body, or of the native ``input``."""
    inner = json_body.get("input") if isinstance(json_body, dict) else None
    if isinstance(inner, dict):
        return openai_wire.positive_count(inner.get("n"))
    return openai_wire.count_asked(json_body, files)


def read_reply(body: Any) -> tuple[int, Any, str]:
    """(images, usage, '') of any of the hub's replies, for the spend journal."""
    return openai_wire.read_reply(body, data_keys=("data", "images"))


# --- errors -------------------------------------------------------------------------------------


def is_missing_route(error: RemoteImageError) -> bool:
    """A 404 that is not JSON: a route this hub does not serve (Express's "Cannot POST ..." page)."""
    return error.status == 404 and not error.json_reply


def is_unknown_model(error: RemoteImageError) -> bool:
    return (error.status == 404 and error.json_reply) or bool(_UNKNOWN_MODEL.search(error.message))


def credit_message(body: Any) -> str:
    """The 402 ``NOT_ENOUGH`` reply as one line that keeps its payment link, else ''.

    Every other envelope (``{"error": "..."}``, ``{"error": {"message": ...}}``) is read by the
    default reader (see ``error_message``).
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("type") != "NOT_ENOUGH":
        return ""
    link = error.get("link") if isinstance(error.get("link"), str) else ""
    text = str(error.get("message") or "not enough AIGNE Hub credits")
    if link:
        text = text.replace(link, "")
    text = " ".join(text.split()) + " (NOT_ENOUGH)"
    return f"{text} Buy credits: {link}" if link else text


def error_message(body: Any) -> str:
    """The hub's words from any of its envelopes, keeping the 402 payment link."""
    return credit_message(body) or openai_wire.error_message(body)


def explain_expired_link(error: RemoteImageError) -> None:
    """A result link that no longer works: the hub's links last about an hour, and b64_json avoids them."""
    error.message = (
        f"the hub answered with a link to the image, but the link no longer works (HTTP {error.status}): "
        f"it has expired or was removed; such links last about an hour. {error.message}"
    )
    error.hint = "run the node again; set response_format to b64_json to get the image inside the reply"


PROVIDER = register(
    Provider(
        id="aigne",
        label="AIGNE Hub",
        key_env="AIGNE_HUB_API_KEY",
        base_url_env="AIGNE_HUB_BASE_URL",
        default_base_url="",  # every hub has its own URL (and mount path): the user must name it
        status_hints={
            402: "the AIGNE Hub credits of this key are used up; buy more at the link in the message (or ask "
            "the hub's admin), then run again",
            404: f"the hub has no such endpoint: AIGNE_HUB_BASE_URL must include the hub's mount path; hubs built "
            f"from the hub's code serve {GENERATION_PATH}",
            500: "the hub or its upstream provider failed (an upstream rate limit also shows as 500); try again later",
        },
        error_reader=error_message,
        lasting_refusal=openai_wire.lasting_refusal,
        key_patterns=(r"blocklet-[A-Za-z0-9_-]{8,}",),  # the hub's access keys
        explain_expired_link=explain_expired_link,
        catalogue=CATALOGUE,
        count_asked=count_asked,
        read_reply=read_reply,
        usage_names={
            "aigneHubCredits": "credits",
            "inputTokens": "input_tokens",
            "outputTokens": "output_tokens",
            "totalTokens": "total_tokens",
            **openai_wire.USAGE_NAMES,
        },
    )
)

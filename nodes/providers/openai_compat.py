"""Any server that speaks OpenAI's Images API (docs/providers.md section 5), by base URL.

OpenAI's own models follow their entries in ``openai_models`` (the dated catalogue): a retired
model, or a parameter the chosen model does not accept, is refused before sending, naming what to
use instead. Models the catalogue does not know are another server's: they get every parameter
the user set away from "auto", unchecked beyond its form -- their rules are their own.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any

from ..core import validation as check
from ..core.errors import InputError, RemoteImageError
from ..core.payloads import Uploads
from ..core.provider import Provider, register
from ..core.validation import readable_size
from . import catalogue, openai_models, openai_wire
from .catalogue import AUTO, EDIT, GENERATE, chosen_size, host_of, parse_size, size_choices  # noqa: F401 -- the nodes'

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
CATALOGUE = openai_models.CATALOGUE
PROVIDER = register(
    Provider(
        id="openai",
        label="OpenAI-compatible",
        key_env=DEFAULT_KEY_ENV,
        base_url_env="OPENAI_BASE_URL",
        default_base_url="https://api.openai.com/v1",
        key_patterns=(r"sk-[A-Za-z0-9_-]{8,}",),  # OpenAI's keys, and many servers' that copy them
        error_reader=openai_wire.error_message,
        lasting_refusal=openai_wire.lasting_refusal,
        catalogue=CATALOGUE,
        count_asked=openai_wire.count_asked,
        read_reply=openai_wire.read_reply,
        usage_names=openai_wire.USAGE_NAMES,
    )
)
UPLOADS = Uploads(masks="first")  # the images as PNG files (a batch as image[]), the mask for the first one
KNOWN_IDS = tuple(name for entry in CATALOGUE.models for name in (entry.id, *entry.aliases))
# The choices the nodes offer; what each model takes is its catalogue entry. Other servers may
# take values OpenAI's models do not (e.g. quality hd), so those stay on offer.
QUALITIES = [AUTO, "low", "medium", "high", "xhigh", "max", "standard", "hd"]
BACKGROUNDS = [AUTO, "transparent", "opaque"]
OUTPUT_FORMATS = [AUTO, *openai_models.FORMATS]
COMPLEXITIES = [AUTO, *openai_models.COMPLEXITIES]
MODERATIONS = [AUTO, "low"]
INPUT_FIDELITIES = [AUTO, "high", "low"]
RESPONSE_FORMATS = [AUTO, "b64_json", "url"]
DEFAULT_COMPRESSION = 100  # OpenAI's default; any other value is sent
MAX_PARTIAL_IMAGES = CATALOGUE.endpoint[GENERATE].ranges["partial_images"].high  # the widget's top
UNSET = {"output_compression": DEFAULT_COMPRESSION, "partial_images": 0}  # every other option's unset value is AUTO
MAX_EDIT_IMAGES = 16
UPLOAD_LIMIT = 50 * 1024 * 1024  # per image, GPT image models
MASK_UPLOAD_LIMIT = 4 * 1024 * 1024

# How OpenAI says "no such model": code model_not_found (HTTP 404), which the envelope reader
# appends to the message; other servers often just say the model does not exist.
_UNKNOWN_MODEL = re.compile(r"model_not_found|model .{0,80}(does not exist|not found)", re.I | re.S)


# --- the request ------------------------------------------------------------------------------


def _size(size: str, model: str, rules: catalogue.Operation | None) -> str | None:
    """The size value to send, or None for "not sent" (auto to a server the pack does not know)."""
    size = (size or "").strip() or AUTO
    if rules is not None:
        return rules.check_size(model, size)
    if size == AUTO:
        return None
    width, height = parse_size(size)
    return f"{width}x{height}"


def _options(model: str, rules: catalogue.Operation | None, limits: catalogue.Operation, options: dict) -> dict:
    """The optional parameters to send: those set away from their unset value, each allowed for the
    model, each number within ``limits`` (the model's rules, else the API's bounds)."""
    unoffered = openai_models.UNOFFERED_FORMATS.get(options.get("output_format"))
    if unoffered:
        raise InputError(f"output_format {options['output_format']} is not offered: {unoffered}; use png, jpeg or webp")
    chosen = catalogue.chosen_options(model, rules, options, UNSET)
    limits.check_numbers(model, chosen)
    if rules is not None:
        if "output_compression" in chosen:
            catalogue.refuse_compression_without_format(model, chosen)
        catalogue.refuse_transparent_jpeg(model, chosen)
    if "partial_images" in chosen:
        chosen["stream"] = True  # partial images come only in a stream
    return chosen


def _request(
    operation: str,
    *,
    model: str,
    prompt: str,
    n: int,
    size: str,
    options: dict,
    on: datetime.date | None,
    host: str | None,
) -> dict:
    model = check.model_name(model)
    rules = CATALOGUE.rules(model, operation, on, host)
    limits = rules or CATALOGUE.endpoint[operation]  # a server's own model: the API's bounds on its numbers
    check.prompt(prompt, max_chars=limits.prompt_limit)
    limits.check_number(model, "n", n)
    params = {"size": _size(size, model, rules), "n": n if n != 1 else None}
    params.update(_options(model, rules, limits, options))
    return openai_wire.request_body(model=model, prompt=prompt, **params)


def generation_body(
    *,
    model: str,
    prompt: str,
    n: int = 1,
    size: str = AUTO,
    on: datetime.date | None = None,
    host: str | None = None,
    **options,
) -> dict:
    """The JSON body of POST /images/generations (``options``: quality, background, moderation,
    output_format, output_compression, response_format, complexity, partial_images; "auto" = not
    sent; partial_images above 0 also sends stream: true). ``host``: the server's host name --
    OpenAI's shutdown dates refuse a model only at OpenAI's own API (None: there)."""
    return _request(GENERATE, model=model, prompt=prompt, n=n, size=size, options=options, on=on, host=host)


def check_edit(
    *,
    model: str,
    prompt: str,
    n: int = 1,
    size: str = AUTO,
    on: datetime.date | None = None,
    host: str | None = None,
    **options,
) -> dict:
    """Every text field of an edit, checked, as a dict (model and prompt first); ``options`` as
    for a generation, plus input_fidelity."""
    return _request(EDIT, model=model, prompt=prompt, n=n, size=size, options=options, on=on, host=host)


def check_uploads(model: str, uploads: list[bytes], mask: bytes | None) -> None:
    """The image files' rules: up to 16 images under 50 MB each, a mask under 4 MB."""
    if len(uploads) > MAX_EDIT_IMAGES:
        raise InputError(f"at most {MAX_EDIT_IMAGES} images can be edited together; the batch has {len(uploads)}")
    files = [(f"image {i + 1}", blob, UPLOAD_LIMIT) for i, blob in enumerate(uploads)]
    if mask:
        files.append(("mask", mask, MASK_UPLOAD_LIMIT))
    for what, blob, limit in files:
        if len(blob) >= limit:
            raise InputError(
                f"{what} is {readable_size(len(blob))} as PNG; {model or 'the server'} takes files under "
                f"{readable_size(limit)} -- scale the image down"
            )


def edit_fields(fields: dict, images: list[bytes], mask: bytes | None) -> list[tuple]:
    """One edit call's multipart parts: the text fields, ``image`` (one file) or repeated
    ``image[]``, ``mask`` -- the files checked against the upload rules first."""
    check_uploads(fields["model"], images, mask)
    parts: list[tuple] = [(name, _form_text(value)) for name, value in fields.items()]
    name = "image" if len(images) == 1 else "image[]"
    parts += [(name, (f"image_{i + 1}.png", blob, "image/png")) for i, blob in enumerate(images)]
    if mask is not None:
        parts.append(("mask", ("mask.png", mask, "image/png")))
    return parts


def _form_text(value) -> str:
    """A text part's value: booleans as JSON writes them (stream=true), not as Python does."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# --- replies ----------------------------------------------------------------------------------

parse_images = openai_wire.parse_images
ImageStream = openai_wire.ImageStream


@dataclasses.dataclass(frozen=True)
class ServerModel:
    id: str
    shutdown: datetime.date | None = None  # OpenAI's model list carries shutdown_date


def parse_models(body: Any) -> list[ServerModel]:
    """``GET /models`` -> every model with its announced shutdown date (None when not given)."""
    models = {}
    for item in openai_wire.model_items(body):
        model_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(model_id, str) or not model_id:
            continue
        models[model_id] = ServerModel(model_id, _date(item.get("shutdown_date")) if isinstance(item, dict) else None)
    return [models[key] for key in sorted(models)]


def _date(value: Any) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def image_ids(models: list[ServerModel]) -> list[str]:
    """The ids that look like image models; all of them when none does (a server with other names)."""
    ids = [m.id for m in models]
    return openai_wire.image_like_ids(ids, KNOWN_IDS) or ids


def image_model_ids(body: Any) -> list[str]:
    """The image models of a ``GET /models`` reply."""
    return image_ids(parse_models(body))


def is_unknown_model(error: RemoteImageError) -> bool:
    """The server's "no such model" (OpenAI: HTTP 404 with code model_not_found)."""
    return error.status in (400, 404) and bool(_UNKNOWN_MODEL.search(error.message))


def live_shutdown(models: list[ServerModel] | None, model: str) -> datetime.date | None:
    for entry in models or ():
        if entry.id == model:
            return entry.shutdown
    return None

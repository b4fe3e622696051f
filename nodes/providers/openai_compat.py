"""Any server that speaks OpenAI's Images API (PROVIDERS.md section 5), by base URL.

The rules per model family follow OpenAI's published spec (``CreateImageRequest`` and
``CreateImageEditRequest``): a parameter the chosen model does not accept is refused before
sending, naming the model. Models this module does not know (other servers) get every parameter
the user set away from "auto", unchecked beyond its form: their rules are their own.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..core import validation as check
from ..core.credentials import Provider, is_loopback_host
from ..core.errors import InputError
from . import openai_wire

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
TRUSTED_HOSTS_ENV = "HOSTED_IMAGES_TRUSTED_HOSTS"

PROVIDER = Provider(
    id="openai",
    label="OpenAI-compatible",
    key_env=DEFAULT_KEY_ENV,
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
)

AUTO = "auto"  # in every choice: "not sent, the server decides"
GENERATE_MODELS = ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "dall-e-3", "dall-e-2"]
EDIT_MODELS = ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest", "dall-e-2"]
QUALITIES = [AUTO, "standard", "hd", "low", "medium", "high"]
STYLES = [AUTO, "vivid", "natural"]
BACKGROUNDS = [AUTO, "transparent", "opaque"]
OUTPUT_FORMATS = [AUTO, "png", "jpeg", "webp"]
RESPONSE_FORMATS = [AUTO, "b64_json", "url"]
DEFAULT_COMPRESSION = 100  # OpenAI's default; any other value is sent
MAX_N = 10
MAX_EDIT_IMAGES = 16
DALL_E_2_UPLOAD_LIMIT = 4 * 1024 * 1024
GPT_IMAGE_UPLOAD_LIMIT = 50 * 1024 * 1024
MASK_UPLOAD_LIMIT = 4 * 1024 * 1024

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_GPT_SIZES = openai_wire.GPT_IMAGE_SIZES
_DALL_E_2_SIZES = openai_wire.DALL_E_2_SIZES
_LIMITS = openai_wire.PROMPT_LIMITS


@dataclass(frozen=True)
class Family:
    """What one model family accepts for one operation."""

    name: str
    prompt_limit: int
    max_n: int
    sizes: tuple[str, ...]  # gpt-image-2 models take any size within their rules instead
    params: dict  # optional parameter -> allowed values (() = any value of the right kind)
    auto_size: bool = False  # "auto" is a real size value for this family


_DALL_E = {"response_format": ("url", "b64_json")}
_GPT = {
    "quality": ("low", "medium", "high"),
    "background": ("transparent", "opaque"),
    "output_format": ("png", "jpeg", "webp"),
    "output_compression": (),
}
_DALL_E_2_FAMILY = Family("dall-e-2", _LIMITS["dall-e-2"], 10, _DALL_E_2_SIZES, {**_DALL_E, "quality": ("standard",)})
_GPT_FAMILY = Family("gpt-image", _LIMITS["gpt-image"], 10, _GPT_SIZES, _GPT, auto_size=True)
GENERATE = {
    "dall-e-2": _DALL_E_2_FAMILY,
    "dall-e-3": Family(
        "dall-e-3", _LIMITS["dall-e-3"], 1, openai_wire.DALL_E_3_SIZES,
        {**_DALL_E, "quality": ("standard", "hd"), "style": ("vivid", "natural")},
    ),
    "gpt-image": _GPT_FAMILY,
}
EDIT = {"dall-e-2": _DALL_E_2_FAMILY, "gpt-image": _GPT_FAMILY}


def family_of(model: str) -> str:
    """'dall-e-2', 'dall-e-3', 'gpt-image', or '' for a model of another server."""
    name = model.strip().lower()
    if name.startswith(("gpt-image-", "chatgpt-image-")):
        return "gpt-image"
    return name if name in ("dall-e-2", "dall-e-3") else ""


def _flexible_sizes(model: str) -> bool:
    return model.strip().lower().startswith("gpt-image-2")


# --- key and endpoint -------------------------------------------------------------------------


def provider_for(key_env: str) -> Provider:
    """The provider with the key taken from the variable the node names ('' = send no key)."""
    name = (key_env or "").strip()
    if not name:
        return dataclasses.replace(PROVIDER, id="openai:anonymous", key_env="", key_required=False)
    if not _ENV_NAME.match(name):
        raise InputError(
            "api_key_env must be the NAME of an environment variable (capital letters, digits and _, "
            "e.g. OPENAI_API_KEY), never the key itself"
        )
    if name == DEFAULT_KEY_ENV:
        return PROVIDER
    return dataclasses.replace(PROVIDER, id=f"openai:{name}", key_env=name)


def check_key_destination(url: str, *, from_node: bool, configured_url: str, trusted_hosts: str, key_env: str) -> None:
    """Refuse to send a key to a host that only the workflow named.

    A shared workflow could otherwise point the node at its author's server and receive the
    user's key. The key goes to the base URL configured outside the workflow, to loopback, or to
    hosts the user listed in HOSTED_IMAGES_TRUSTED_HOSTS.
    """
    if not from_node or not key_env:
        return
    host = (urlsplit(url).hostname or "").lower()
    trusted = {h.strip().lower() for h in trusted_hosts.split(",") if h.strip()}
    if is_loopback_host(host) or host == (urlsplit(configured_url).hostname or "").lower() or host in trusted:
        return
    raise InputError(
        f"the workflow's base_url sends the key from {key_env} to {host}, which is not a trusted host; "
        f"add {host} to {TRUSTED_HOSTS_ENV} (comma-separated) or set {PROVIDER.base_url_env}, then restart "
        "ComfyUI -- or clear api_key_env if that server needs no key"
    )


# --- shared checks ----------------------------------------------------------------------------


def _rules(table: dict, model: str, operation: str) -> Family | None:
    family = family_of(model)
    if not family:
        return None
    if family not in table:
        raise InputError(f"{model} cannot be used for {operation}; use one of: {', '.join(EDIT_MODELS)}")
    return table[family]


def _size(size: str, model: str, rules: Family | None) -> str | None:
    """The size value to send, or None for "not sent"."""
    size = (size or "").strip() or AUTO
    if size == AUTO:
        return AUTO if rules is not None and rules.auto_size else None
    width, height = check.parse_size(size)
    size = f"{width}x{height}"
    if rules is None:
        return size
    if _flexible_sizes(model):
        if width % 16 or height % 16 or max(width, height) > 3840 or width * height > 3840 * 2160 or max(width, height) > 3 * min(width, height):
            raise InputError(
                f"size {size} is not allowed for {model}: both sides multiples of 16, at most 3840, at most "
                "3840x2160 pixels, aspect ratio between 1:3 and 3:1 (or auto)"
            )
        return size
    if size not in rules.sizes:
        allowed = [*rules.sizes, *([AUTO] if rules.auto_size else [])]
        raise InputError(f"size {size} is not allowed for {model}; use one of: {', '.join(allowed)}")
    return size


def _options(model: str, rules: Family | None, options: dict) -> dict:
    """The optional parameters to send: those set away from auto, each allowed for the model."""
    chosen = {}
    for name, value in options.items():
        unset = DEFAULT_COMPRESSION if name == "output_compression" else AUTO
        if value == unset:
            continue
        if rules is not None:
            if name not in rules.params:
                raise InputError(f"{model} does not accept {name} (set it to {unset!r})")
            allowed = rules.params[name]
            if allowed and value not in allowed:
                raise InputError(f"{name} {value!r} is not allowed for {model}; use one of: {AUTO}, {', '.join(allowed)}")
        chosen[name] = value
    compression = chosen.get("output_compression")
    if compression is not None:
        if isinstance(compression, bool) or not isinstance(compression, int) or not 0 <= compression <= 100:
            raise InputError(f"output_compression is {compression!r}; it must be a whole number from 0 to 100")
        if rules is not None and chosen.get("output_format") not in ("jpeg", "webp"):
            raise InputError(f"output_compression applies only to jpeg and webp output; set output_format to one of them for {model}")
    if rules is not None and chosen.get("background") == "transparent" and chosen.get("output_format") == "jpeg":
        raise InputError(f"a transparent background needs output_format png or webp for {model}, not jpeg")
    return chosen


def _request(table: dict, operation: str, *, model: str, prompt: str, n: int, size: str, options: dict) -> dict:
    model = check.model_name(model)
    rules = _rules(table, model, operation)
    check.prompt(prompt, max_chars=rules.prompt_limit if rules else None)
    if rules is not None and rules.max_n == 1 and n != 1:
        raise InputError(f"{model} makes one image per call; set n to 1")
    check.count(n, high=rules.max_n if rules else MAX_N)
    params = {"size": _size(size, model, rules), "n": n if n != 1 else None}
    params.update(_options(model, rules, options))
    return openai_wire.request_body(model=model, prompt=prompt, **params)


def generation_body(*, model: str, prompt: str, n: int = 1, size: str = AUTO, **options) -> dict:
    """The JSON body of POST /images/generations (``options``: quality, style, background,
    output_format, output_compression, response_format; "auto" = not sent)."""
    return _request(GENERATE, "generation", model=model, prompt=prompt, n=n, size=size, options=options)


def check_edit(*, model: str, prompt: str, n: int = 1, size: str = AUTO, **options) -> dict:
    """Every text field of an edit, checked, as a dict (model and prompt first)."""
    return _request(EDIT, "image edits", model=model, prompt=prompt, n=n, size=size, options=options)


def require_mask(has_mask: bool) -> None:
    """dall-e-2 edits only where the image is transparent or a mask says so; an IMAGE has no alpha."""
    if not has_mask:
        raise InputError("dall-e-2 edits only a masked area: connect a MASK (1 = edit), or use a GPT image model")


def check_uploads(model: str, uploads: list[bytes], width: int, height: int, mask: bytes | None) -> None:
    """The image files' rules: dall-e-2 takes one square PNG under 4 MB; GPT image models up to 16."""
    family = family_of(model)
    if family == "dall-e-2":
        if len(uploads) != 1:
            raise InputError(f"dall-e-2 edits one image per call, but the batch has {len(uploads)}; use a GPT image model or split the batch")
        if width != height:
            raise InputError(f"dall-e-2 edits square images only; this one is {width}x{height} -- crop or pad it to a square")
        limit = DALL_E_2_UPLOAD_LIMIT
    else:
        if len(uploads) > MAX_EDIT_IMAGES:
            raise InputError(f"at most {MAX_EDIT_IMAGES} images can be edited together; the batch has {len(uploads)}")
        limit = GPT_IMAGE_UPLOAD_LIMIT
    files = [*((f"image {i + 1}", blob, limit) for i, blob in enumerate(uploads))]
    if mask:
        files.append(("mask", mask, MASK_UPLOAD_LIMIT))  # the spec: a mask under 4 MB for every model
    for what, blob, limit in files:
        if len(blob) >= limit:
            raise InputError(
                f"{what} is {len(blob) / 1048576:.1f} MB as PNG; {model or 'the server'} takes files under "
                f"{limit // 1048576} MB -- scale the image down"
            )


def edit_fields(fields: dict, uploads: list[bytes], mask: bytes | None) -> list[tuple]:
    """Multipart parts: the text fields, ``image`` (one file) or repeated ``image[]``, ``mask``."""
    parts: list[tuple] = [(name, str(value)) for name, value in fields.items()]
    name = "image" if len(uploads) == 1 else "image[]"
    parts += [(name, (f"image_{i + 1}.png", blob, "image/png")) for i, blob in enumerate(uploads)]
    if mask is not None:
        parts.append(("mask", ("mask.png", mask, "image/png")))
    return parts


parse_images = openai_wire.parse_images
parse_model_ids = openai_wire.parse_model_ids


def image_model_ids(ids: list[str]) -> list[str]:
    """The ids that look like image models; all of them when none does (a server with other names)."""
    return openai_wire.image_like_ids(ids, GENERATE_MODELS) or ids


def models_for(ids: list[str], operation: str) -> list[str]:
    """The ids of a live list that can do ``operation`` ("generate" or "edit"): OpenAI's models by
    their family's rules, every other server's model as it is."""
    table = EDIT if operation == "edit" else GENERATE
    return [i for i in ids if not family_of(i) or family_of(i) in table]

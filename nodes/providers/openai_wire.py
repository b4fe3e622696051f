"""OpenAI's Images API wire format, shared by every provider that speaks it (IONOS, AIGNE Hub,
any OpenAI-compatible server). Per-model rules live in the dated catalogues (``*_models``)."""

from __future__ import annotations

from typing import Any

from ..core.errors import RemoteImageError
from ..core.payloads import b64decode, split_data_url
from .results import ImageResult, ResultImage

# Keys that hold the same base64 payload under different names (AIGNE Hub sends all three).
B64_KEYS = ("b64_json", "base64", "b64Json")


def request_body(*, model: str, prompt: str, **params) -> dict:
    """An Images API request (JSON body or multipart text fields): ``None`` means "not sent"."""
    return {"model": model, "prompt": prompt, **{name: value for name, value in params.items() if value is not None}}


def image_item(item: Any, index: int) -> ResultImage:
    """One entry of ``data``: base64 under any known name, a data URL, or an http(s) URL."""
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        raise RemoteImageError(f"result {index + 1} is not an object but {type(item).__name__}")
    for key in B64_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value:
            if value.startswith("data:"):
                return ResultImage(data=split_data_url(value)[1])
            try:
                return ResultImage(data=b64decode(value))
            except RemoteImageError as exc:
                raise RemoteImageError(f"result {index + 1}: {exc.message}") from None
    url = item.get("url")
    if isinstance(url, str) and url:
        if url.startswith("data:"):
            return ResultImage(data=split_data_url(url)[1])
        return ResultImage(url=url)
    raise RemoteImageError(f"result {index + 1} has neither b64_json nor url (keys: {', '.join(map(str, item)) or 'none'})")


def parse_images(body: Any, *, data_keys: tuple[str, ...] = ("data",)) -> ImageResult:
    """``{"data": [{"b64_json"|"url": ...}], ...}`` -> images plus everything else it said."""
    if not isinstance(body, dict):
        raise RemoteImageError(f"the reply is not a JSON object but {type(body).__name__}")
    items = None
    for key in data_keys:
        candidate = body.get(key)
        if isinstance(candidate, list) and candidate:
            items = candidate
            break
    if items is None:
        present = [key for key in data_keys if key in body]
        detail = f"an empty {present[0]!r} list" if present else f"no {data_keys[0]!r} list"
        raise RemoteImageError(f"the reply has {detail}, so no image came back")
    images = [image_item(item, index) for index, item in enumerate(items)]
    info = {key: value for key, value in body.items() if key not in data_keys}
    revised = [item.get("revised_prompt") for item in items if isinstance(item, dict) and item.get("revised_prompt")]
    if revised:
        info["revised_prompt"] = revised[0] if len(revised) == 1 else revised
    return ImageResult(images=images, info=info)


def parse_model_ids(body: Any) -> list[str]:
    """``{"object": "list", "data": [{"id": ...}]}`` (or a bare list) -> sorted ids."""
    items = body.get("data") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise RemoteImageError("the model list reply has no 'data' list")
    ids = (item.get("id") if isinstance(item, dict) else item for item in items)
    return sorted({i for i in ids if isinstance(i, str) and i})


IMAGE_MODEL_HINTS = ("image", "dall-e", "flux", "diffusion", "sdxl")


def image_like_ids(ids: list[str], known: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Model lists without a capability field: keep known image models and ids that look like one."""
    return [i for i in ids if i in known or any(hint in i.lower() for hint in IMAGE_MODEL_HINTS)]

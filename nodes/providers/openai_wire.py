"""OpenAI's Images API wire format, shared by every provider that speaks it (IONOS, AIGNE Hub,
any OpenAI-compatible server). Per-model rules live in the dated catalogues (``*_models``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..core.errors import RemoteImageError
from ..core.failures import plain_error_message
from ..core.payloads import ImageResult, ResultImage, added_up, b64decode, parse_json, quote_body, split_data_url

# Keys that hold the same base64 payload under different names (AIGNE Hub sends all three).
B64_KEYS = ("b64_json", "base64", "b64Json")

# The Images API's usage, as the spend journal names its figures
USAGE_NAMES = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "input_tokens_details.text_tokens": "input_text_tokens",
    "input_tokens_details.image_tokens": "input_image_tokens",
    "prompt_tokens": "input_tokens",  # IONOS and other servers answer in the chat names
    "completion_tokens": "output_tokens",
}


def error_message(body: Any) -> str:
    """The words of an error envelope ``{"error": {"message", "code" | "type", ...}}`` (OpenAI and
    the servers and gateways that copy it), else of a plain body (``core.failures``)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        text = str(error.get("message") or "")
        code = error.get("code") or error.get("type")
        if text and code and str(code) not in text:
            text = f"{text} ({code})"
        return text or json.dumps(error)[:300]
    return plain_error_message(body)


def lasting_refusal(status: int, body: Any) -> str:
    """A hint when a 429 or 503 means something waiting cannot fix, else ''.

    OpenAI answers 429 with code/type ``insufficient_quota`` when billing is exhausted, and
    OpenRouter-style gateways answer 503 "No allowed providers are available" when the account's
    routing settings leave no provider for the model: retrying only wastes the user's time.
    """
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    codes = {str(error.get(name) or "").lower() for name in ("code", "type")}
    if status == 429 and "insufficient_quota" in codes:
        return (
            "billing: the account is out of quota or credits. Add credits or raise the spending limit in the "
            "provider's billing settings; waiting will not help, so it was not retried"
        )
    if status == 503 and "no allowed providers" in str(error.get("message") or "").lower():
        return (
            "routing: no provider may serve this model under the account's provider settings (allowed or ignored "
            "providers, data policy). Change them or pick another model; waiting will not help, so it was not retried"
        )
    return ""


def count_asked(json_body: Any, files: list | None) -> int:
    """The images one Images API request asks for: its ``n`` (JSON, or a multipart text part), else one."""
    n = json_body.get("n") if isinstance(json_body, dict) else None
    for name, part in files or []:
        if name == "n" and isinstance(part, tuple) and len(part) > 1:
            n = part[1]
    return positive_count(n)


def positive_count(n: Any, default: int = 1) -> int:
    """``n`` as a count of images (``default`` when it is missing or not a number)."""
    if n is None or isinstance(n, bool):
        return default
    try:
        return max(int(n), 0)
    except (TypeError, ValueError):
        return default


def read_reply(body: Any, data_keys: tuple[str, ...] = ("data",)) -> tuple[int, Any, str]:
    """(images, usage, '') of an Images API reply, for the spend journal."""
    if not isinstance(body, dict):
        return 0, None, ""
    for key in data_keys:
        items = body.get(key)
        if isinstance(items, list) and items:
            return len(items), body.get("usage"), ""
    return 0, body.get("usage"), ""


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
    raise RemoteImageError(
        f"result {index + 1} has neither b64_json nor url (keys: {', '.join(map(str, item)) or 'none'})"
    )


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


class ImageStream:
    """A streamed reply of the Images API (``stream: true``, docs/providers.md section 5), event by
    event: ``take`` each event as it arrives (``*.partial_image``, ``*.completed``, ``error``),
    then ``result``.

    Each partial image goes to ``show(step, image bytes)`` as it comes, for the node's live
    preview -- at most ``partials`` per image: more are skipped undecoded; each completed image is
    kept in the order it came (the events carry no image index, so with n > 1 the order is the
    server's), completed images beyond ``count`` are ignored (and said so); an error event raises
    with the provider's own words. ``take`` answers True once every image asked for has come: the
    rest of the stream is not read. ``steps`` counts one step per partial and per completed image;
    ``show(step, None)`` marks a completed one. A server that ignored ``stream`` and answered with
    plain JSON gives its result the usual way."""

    def __init__(self, count: int, partials: int):
        self.count, self.partials = count, partials
        self.steps = count * (partials + 1)
        self.images: list[ResultImage] = []
        self.info: dict[str, Any] = {}
        self.partials_received = 0
        self.partials_skipped = 0  # beyond the number asked for
        self.completed_ignored = 0  # beyond the images asked for
        self.last_partial: bytes | None = None  # the newest partial of the image still in progress
        self._partials_of_this_image = 0
        self.show: Callable[[int, bytes | None], None] = lambda step, blob: None

    @property
    def completed(self) -> list[bytes]:
        """The completed images received so far (what was paid for, should the stream fail)."""
        return [image.data for image in self.images if image.data is not None]

    def take(self, event) -> bool:
        """One event (``event.event`` the SSE event name, ``event.data`` its data); True once
        every image asked for has come."""
        if event.data.strip() == "[DONE]":  # some servers end their streams the chat way
            return self.all_came
        body = parse_json(event.data)
        if not isinstance(body, dict):
            quoted = quote_body(event.data.encode())
            raise RemoteImageError(f"a {event.event!r} event of the stream is not a JSON object: {quoted}")
        kind = str(body.get("type") or event.event)
        if "error" in (event.event, kind) or body.get("error"):
            words = error_message(body) or quote_body(event.data.encode())
            code = body.get("code")  # the Responses API's flat error event carries it beside the message
            if isinstance(code, str) and code and code not in words:
                words += f" ({code})"
            done = f"{len(self.images)} of {self.count} image{'' if self.count == 1 else 's'}"
            raise RemoteImageError(f"the provider reported an error in the stream after {done} had completed: {words}")
        if kind.endswith(".partial_image"):
            self.partials_received += 1
            self._partials_of_this_image += 1
            if self._partials_of_this_image > self.partials:  # not asked for: neither decoded nor shown
                self.partials_skipped += 1
                return False
            step = len(self.images) * (self.partials + 1) + self._partials_of_this_image
            self.last_partial = _partial_bytes(body)
            self.show(step, self.last_partial)
        elif kind.endswith(".completed"):
            if self.all_came:
                self.completed_ignored += 1
                return True
            self.images.append(image_item(body, len(self.images)))
            self._partials_of_this_image, self.last_partial = 0, None
            details = {k: v for k, v in body.items() if k not in ("type", *B64_KEYS, "usage")}
            self.info = {**details, **self.info}
            if isinstance(body.get("usage"), dict):  # each completed event reports its own image's usage
                self.info["usage"] = added_up([self.info.get("usage") or {}, body["usage"]])
            self.show(len(self.images) * (self.partials + 1), None)
        # other event types (newer ones) carry nothing an image node needs
        return self.all_came

    @property
    def usage(self) -> Any:
        """The usage the completed images reported, added up (for the spend journal)."""
        return self.info.get("usage")

    @property
    def all_came(self) -> bool:
        return len(self.images) >= self.count

    def result(self, reply=None) -> ImageResult:
        """The completed images (``reply``: the exchange's reply, without content when it streamed;
        None when the stream broke off after its images)."""
        if reply is not None and reply.content_type != "text/event-stream":  # the server ignored stream: true
            return parse_images(reply.json())
        if not self.images:
            raise RemoteImageError(
                f"the stream ended without a completed image ({self.partials_received} partial image(s) came)",
                hint="the request was sent, so it may have been billed; it was not retried",
            )
        info = {**self.info, "partial_images": self.partials_received - self.partials_skipped}
        extra = []
        if self.partials_skipped:
            extra.append(f"{self.partials_skipped} partial image(s) beyond the {self.partials} asked for per image")
        if self.completed_ignored:
            extra.append(f"{self.completed_ignored} completed image(s) beyond the {self.count} asked for")
        if extra:
            info["note"] = "the stream sent " + " and ".join(extra) + "; they were ignored (and not counted)"
        return ImageResult(images=list(self.images), info=info)


def _partial_bytes(body: dict) -> bytes | None:
    """A partial image's bytes; None when it has none that decode (it is only a preview)."""
    try:
        return image_item(body, 0).data
    except RemoteImageError:
        return None


def model_items(body: Any) -> list:
    """The entries of a ``GET /models`` reply: ``{"object": "list", "data": [...]}``, or a bare list."""
    items = body.get("data") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise RemoteImageError("the model list reply has no 'data' list")
    return items


def parse_model_ids(body: Any) -> list[str]:
    """``GET /models`` -> sorted ids."""
    ids = (item.get("id") if isinstance(item, dict) else item for item in model_items(body))
    return sorted({i for i in ids if isinstance(i, str) and i})


IMAGE_MODEL_HINTS = ("image", "dall-e", "flux", "diffusion", "sdxl")


def image_like_ids(ids: list[str], known: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Model lists without a capability field: keep known image models and ids that look like one."""
    return [i for i in ids if i in known or any(hint in i.lower() for hint in IMAGE_MODEL_HINTS)]

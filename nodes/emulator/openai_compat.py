"""OpenAI Images API emulator, strict to PROVIDERS.md section 5 and OpenAI's published spec.

Plays api.openai.com (dall-e-2, dall-e-3, GPT image models) and, through ``extra_models``, the
other servers that speak the same API with models of their own (any parameter accepted).
Result links are served under ``/files/`` without auth, as OpenAI's storage links are.
"""

from __future__ import annotations

import io
import time
import uuid

import numpy as np
from PIL import Image

from ..core.payloads import b64encode
from . import synth
from .server import App, Part, Request, Response

MODELS = ["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest"]
OTHER_MODELS = ["gpt-4o", "text-embedding-3-small", "whisper-1"]
GPT_SIZES = ["1024x1024", "1536x1024", "1024x1536"]
GENERATE_RULES = {
    "dall-e-2": {"prompt": 1000, "n": 10, "sizes": ["256x256", "512x512", "1024x1024"], "quality": ["standard"], "params": {"response_format", "quality"}},
    "dall-e-3": {"prompt": 4000, "n": 1, "sizes": ["1024x1024", "1792x1024", "1024x1792"], "quality": ["standard", "hd"], "params": {"response_format", "quality", "style"}},
    "gpt-image": {"prompt": 32000, "n": 10, "sizes": [*GPT_SIZES, "auto"], "quality": ["low", "medium", "high", "auto"],
                  "params": {"quality", "background", "output_format", "output_compression", "moderation"}},
}
EDIT_RULES = {
    "dall-e-2": {**GENERATE_RULES["dall-e-2"], "params": {"response_format", "quality"}},
    "gpt-image": {**GENERATE_RULES["gpt-image"], "params": {"quality", "background", "output_format", "output_compression", "input_fidelity"}},
}
COMMON_FIELDS = {"model", "prompt", "n", "size", "user", "stream", "partial_images"}
ENUMS = {
    "style": ["vivid", "natural"],
    "background": ["transparent", "opaque", "auto"],
    "output_format": ["png", "jpeg", "webp"],
    "response_format": ["url", "b64_json"],
    "moderation": ["low", "auto"],
    "input_fidelity": ["high", "low"],
}
TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
         413: "invalid_request_error", 429: "requests"}


class Refused(Exception):
    """A request the real API refuses: carries the status and the error object's fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def family(model: str) -> str:
    if model.startswith(("gpt-image-", "chatgpt-image-")):
        return "gpt-image"
    return model


class OpenAIApp(App):
    name = "openai"

    def __init__(self, token: str | None = "fake-openai-key", extra_models: tuple[str, ...] = ()):
        super().__init__()
        self.token = token  # None: a server without auth
        self.extra_models = list(extra_models)
        self.files: dict[str, bytes] = {}
        self.routes = {
            ("GET", "/v1/models"): self.models,
            ("POST", "/v1/images/generations"): self.generations,
            ("POST", "/v1/images/edits"): self.edits,
        }

    # OpenAI's error object, with the x-request-id every reply carries.
    def error(self, status: int, message: str, param: str | None = None, code: str | None = None) -> Response:
        kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        if status == 429 and code is None:
            code = "rate_limit_exceeded"
        return Response.json({"error": {"message": message, "type": kind, "param": param, "code": code}}, status)

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path.startswith("/files/"):
            blob = self.files.get(request.path[len("/files/"):])
            response = Response(200, blob, {"Content-Type": "image/png"}) if blob else Response(404, b"BlobNotFound")
        elif self.token is not None and request.bearer != self.token:
            response = self._unauthorized(request)
        else:
            try:
                response = super().handle(request)
            except Refused as exc:
                response = self.error(exc.status, exc.message, exc.param, exc.code)
        return response

    def finalize(self, response: Response) -> Response:
        response.headers.setdefault("x-request-id", f"req_{uuid.uuid4().hex}")  # on every reply, faults too
        return response

    def _unauthorized(self, request: Request) -> Response:
        if request.bearer is None:
            return self.error(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        given = request.bearer
        masked = given[:3] + "*" * max(0, len(given) - 7) + given[-4:] if len(given) > 8 else "***"
        return self.error(401, f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 1698785189, "owned_by": "system"} for m in [*MODELS, *OTHER_MODELS]]
        data += [{"id": m, "object": "model", "created": 1735689600, "owned_by": "local"} for m in self.extra_models]
        return Response.json({"object": "list", "data": data})

    # ---- checks shared by both calls

    def _rules(self, table: dict, model, operation: str) -> dict | None:
        if not isinstance(model, str) or not model:
            raise Refused(400, "Invalid type for 'model': expected a string.", "model", "invalid_type")
        if model in self.extra_models:
            return None
        if model not in MODELS:
            raise Refused(404, f"The model `{model}` does not exist or you do not have access to it.", None, "model_not_found")
        if family(model) not in table:
            raise Refused(400, f"Invalid model {model}. The model does not support {operation}.", "model", "invalid_value")
        return table[family(model)]

    def _check(self, fields: dict, rules: dict | None, model: str, extra: set[str]) -> tuple[int, str]:
        """Validate the parameters; return (n, size) as the server will use them."""
        for name in fields:
            if name not in COMMON_FIELDS | extra | {"quality", "style", "background", "output_format", "output_compression", "response_format", "moderation", "input_fidelity"}:
                raise Refused(400, f"Unrecognized request argument supplied: {name}", None, "unknown_parameter")
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise Refused(400, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        n = fields.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
            raise Refused(400, f"Invalid 'n': must be an integer between 1 and 10, got {n!r}.", "n", "invalid_value")
        for name, allowed in ENUMS.items():
            if name in fields and fields[name] not in allowed:
                raise Refused(400, f"Invalid value: '{fields[name]}'. Supported values are: {', '.join(repr(a) for a in allowed)}.", name, "invalid_value")
        compression = fields.get("output_compression")
        if compression is not None and (isinstance(compression, bool) or not isinstance(compression, int) or not 0 <= compression <= 100):
            raise Refused(400, "Invalid 'output_compression': must be an integer between 0 and 100.", "output_compression", "invalid_value")
        size = fields.get("size")
        if rules is None:
            return n, size if isinstance(size, str) and "x" in size else "512x512"
        for name in fields:
            if name not in COMMON_FIELDS | extra | rules["params"]:
                raise Refused(400, f"Unknown parameter: '{name}' is not supported with the {model} model.", name, "unknown_parameter")
        if len(prompt) > rules["prompt"]:
            raise Refused(400, f"Invalid 'prompt': string too long. Expected a string with maximum length {rules['prompt']}, but got a string with length {len(prompt)} instead.", "prompt", "string_above_max_length")
        if n > rules["n"]:
            raise Refused(400, f"You must provide n=1 for {model}." if rules["n"] == 1 else "n is too large", "n", "invalid_value")
        if "quality" in fields and fields["quality"] not in rules["quality"]:
            raise Refused(400, f"Invalid value: '{fields['quality']}'. Supported values are: {', '.join(repr(q) for q in rules['quality'])}.", "quality", "invalid_value")
        if size is not None and size not in rules["sizes"]:
            raise Refused(400, f"Invalid value: '{size}'. Supported values are: {', '.join(repr(s) for s in rules['sizes'])}.", "size", "invalid_value")
        if compression is not None and fields.get("output_format", "png") == "png":
            raise Refused(400, "output_compression is only supported for the jpeg and webp output formats.", "output_compression", "invalid_value")
        if fields.get("background") == "transparent" and fields.get("output_format") == "jpeg":
            raise Refused(400, "Transparent background is not supported for the jpeg output format.", "background", "invalid_value")
        return n, size or ("auto" if family(model) == "gpt-image" else "1024x1024")

    # ---- generations

    def generations(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Refused(400, "Invalid content type. image generations take application/json.")
        body = request.json()
        if not isinstance(body, dict):
            raise Refused(400, "We could not parse the JSON body of your request.")
        model = body.get("model", "dall-e-2")
        rules = self._rules(GENERATE_RULES, model, "image generation")
        n, size = self._check({k: v for k, v in body.items()}, rules, model, set())
        width, height = _dimensions(size, (1024, 1024))
        prompt = body["prompt"]
        blobs = [_picture(synth.generate(prompt, width, height, "png", i), body.get("output_format", "png"), body.get("background") == "transparent") for i in range(n)]
        return self._reply(model, rules, body, blobs, size=f"{width}x{height}", prompt=prompt)

    # ---- edits

    def edits(self, request: Request) -> Response:
        if request.parts is None:
            raise Refused(400, "Invalid content type. image edits take multipart/form-data.")
        fields: dict = {}
        for part in request.parts:
            if part.filename is None:
                fields[part.name] = part.text
        for name in ("n", "output_compression", "partial_images"):
            if name in fields:
                try:
                    fields[name] = int(fields[name])
                except ValueError:
                    raise Refused(400, f"Invalid type for '{name}': expected an integer.", name, "invalid_type") from None
        files = {p.name for p in request.parts if p.filename is not None}
        if files - {"image", "image[]", "mask"}:
            raise Refused(400, f"Unrecognized file field: {sorted(files - {'image', 'image[]', 'mask'})[0]}", None, "unknown_parameter")
        if {"image", "image[]"} & set(fields) or "mask" in fields:
            raise Refused(400, "'image' and 'mask' must be sent as files.", "image", "invalid_type")
        model = fields.get("model", "gpt-image-1.5")
        rules = self._rules(EDIT_RULES, model, "image edits")
        n, size = self._check(fields, rules, model, set())
        sources = request.files("image") + request.files("image[]")
        if not sources:
            raise Refused(400, "Missing required parameter: 'image'.", "image", "missing_required_parameter")
        if request.files("image") and request.files("image[]"):
            raise Refused(400, "Send either 'image' or 'image[]', not both.", "image", "invalid_value")
        is_dalle = model == "dall-e-2"
        limit = 4 if is_dalle else 50
        if len(sources) > (1 if is_dalle else 16):
            raise Refused(400, f"Too many images: {model} takes {'one image' if is_dalle else 'at most 16 images'}.", "image", "invalid_value")
        pictures = [self._open(part, "image", limit, ("PNG",) if is_dalle else ("PNG", "JPEG", "WEBP")) for part in sources]
        first = pictures[0]
        if is_dalle and first.size[0] != first.size[1]:
            raise Refused(400, "Invalid input image - image must be square.", "image", "invalid_value")
        mask = None
        if request.files("mask"):
            mask = self._open(request.files("mask")[0], "mask", 4, ("PNG",))
            if mask.mode not in ("RGBA", "LA") and "transparency" not in mask.info:
                raise Refused(400, f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {mask.mode}.", "mask", "invalid_image_format")
            if mask.size != first.size:
                raise Refused(400, f"Invalid mask image - mask size ({mask.size[0]}x{mask.size[1]}) does not match image size ({first.size[0]}x{first.size[1]}).", "mask", "invalid_value")
        width, height = _dimensions(size, _auto_size(*first.size))
        prompt = fields["prompt"]
        blobs = [_picture(synth.edit(first, prompt, width, height, mask, "png", i), fields.get("output_format", "png"), fields.get("background") == "transparent") for i in range(n)]
        return self._reply(model, rules, fields, blobs, size=f"{width}x{height}", prompt=prompt, input_images=len(pictures))

    def _open(self, part: Part, name: str, limit_mb: int, formats: tuple[str, ...]) -> Image.Image:
        if len(part.data) >= limit_mb * 1024 * 1024:
            raise Refused(400, f"Invalid input image - file must be less than {limit_mb} MB.", name, "invalid_value")
        try:
            picture = Image.open(io.BytesIO(part.data))
            picture.load()
        except Exception:  # noqa: BLE001
            raise Refused(400, f"Invalid input image - the {name} file could not be read.", name, "invalid_image") from None
        if picture.format not in formats:
            raise Refused(400, f"Invalid input image - format must be one of {', '.join(f.lower() for f in formats)}, got {str(picture.format).lower()}.", name, "invalid_image_format")
        return picture

    # ---- replies

    def _reply(self, model: str, rules: dict | None, fields: dict, blobs: list[bytes], *, size: str, prompt: str, input_images: int = 0) -> Response:
        reply: dict = {"created": int(time.time())}
        if model in ("dall-e-2", "dall-e-3") and fields.get("response_format", "url") == "url":
            items = []
            for blob in blobs:
                name = f"img-{uuid.uuid4().hex}.png"
                self.files[name] = blob
                items.append({"url": f"{self.base_url}/files/{name}"})
        else:
            items = [{"b64_json": b64encode(blob)} for blob in blobs]
        if model == "dall-e-3":
            for item in items:
                item["revised_prompt"] = f"A detailed rendering of: {prompt}"
        reply["data"] = items
        if rules is not None and family(model) == "gpt-image":
            reply.update({
                "background": "transparent" if fields.get("background") == "transparent" else "opaque",
                "output_format": fields.get("output_format", "png"),
                "size": size if size in GPT_SIZES else "1024x1024",
                "quality": fields.get("quality", "auto") if fields.get("quality", "auto") != "auto" else "medium",
            })
            text_tokens = len(prompt.split())
            image_tokens = 65 * input_images
            output = 272 * len(blobs)
            reply["usage"] = {
                "input_tokens": text_tokens + image_tokens,
                "output_tokens": output,
                "total_tokens": text_tokens + image_tokens + output,
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            }
        return Response.json(reply)


def _dimensions(size: str, auto: tuple[int, int]) -> tuple[int, int]:
    if size == "auto":
        return auto
    width, _, height = size.partition("x")
    return int(width), int(height)


def _auto_size(width: int, height: int) -> tuple[int, int]:
    """GPT image models' ``auto``: the standard size nearest the input's aspect."""
    if width > height * 1.2:
        return 1536, 1024
    if height > width * 1.2:
        return 1024, 1536
    return 1024, 1024


def _picture(png: bytes, fmt: str, transparent: bool) -> bytes:
    """Re-encode a synthetic picture in ``fmt``; ``transparent`` clears its corners (alpha 0)."""
    picture = Image.open(io.BytesIO(png)).convert("RGBA" if transparent else "RGB")
    if transparent:
        width, height = picture.size
        yy, xx = np.mgrid[0:height, 0:width]
        inside = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2 <= 1
        pixels = np.asarray(picture).copy()
        pixels[..., 3] = np.where(inside, 255, 0).astype(np.uint8)
        picture = Image.fromarray(pixels, "RGBA")
    if fmt == "png" and not transparent:
        return png
    return synth.encode(picture, fmt)

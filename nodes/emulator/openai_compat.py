"""OpenAI Images API emulator, strict to docs/providers.md section 5 and OpenAI's published spec.

Plays api.openai.com as of 2026-12-06 (the gpt-image-2 family with its dated snapshots, 2.6 with
``complexity``; gpt-image-1.5, 1-mini and chatgpt-image-latest until their shutdown on 2026-12-01;
dall-e-2, dall-e-3 and gpt-image-1 answer 404 model_not_found) and, through ``extra_models``, the
other servers that speak the same API with models of their own (any parameter accepted, ``url``
results on request, ``stream`` ignored). Result links are served under ``/files/`` without auth, as storage links are.

GPT image models stream when asked (``stream: true``, ``partial_images`` 0-3): server-sent events,
per image its partial images (``*.partial_image``, ``partial_image_index`` 0..k-1, each a blurrier
version of the final picture) then ``*.completed`` with the picture and its usage.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import time
import uuid

import numpy as np
from PIL import Image

from ..core import clock
from ..core.payloads import b64encode
from . import Emulator, fake_key, synth
from .server import EmulatedAPI, Part, Request, Response, sse_event

# Written out on purpose instead of imported from the pack's catalogue: this is an independent
# reading of OpenAI's contract (as of 2026-12-06), so a wrong catalogue fails the tests.
GPT_2_PRESETS = ["1024x1024", "1536x1024", "1024x1536", "2048x2048", "2048x1152", "1152x2048", "3840x2160", "2160x3840"]
LEGACY_SIZES = ["1024x1024", "1536x1024", "1024x1536"]
_BASIC = ["low", "medium", "high", "auto"]
_MORE = ["low", "medium", "high", "xhigh", "max", "auto"]
# model -> (flexible sizes, qualities, transparent background, input_fidelity values, edits only, complexity)
GPT_MODELS = {
    "gpt-image-2": (True, _BASIC, False, [], False, False),
    "gpt-image-2-2026-04-21": (True, _BASIC, False, [], False, False),
    "gpt-image-2.5-flare": (True, _MORE, True, [], False, False),
    "gpt-image-2.5-flare-2026-09-08": (True, _MORE, True, [], False, False),
    "gpt-image-2.5-sunburst": (True, _MORE, True, [], False, False),
    "gpt-image-2.5-sunburst-2026-09-08": (True, _MORE, True, [], False, False),
    "gpt-image-2.6-flare": (True, _MORE, True, [], False, True),
    "gpt-image-2.6-sunburst": (True, _MORE, True, [], False, True),
    "gpt-image-1.5": (False, _BASIC, True, ["high", "low"], False, False),
    "gpt-image-1.5-2025-12-16": (False, _BASIC, True, ["high", "low"], False, False),
    "gpt-image-1-mini": (False, _BASIC, True, [], False, False),
    "chatgpt-image-latest": (False, _BASIC, True, [], True, False),
}
SHUTDOWN = {
    name: "2026-12-01"
    for name in ("gpt-image-1.5", "gpt-image-1.5-2025-12-16", "gpt-image-1-mini", "chatgpt-image-latest")
}
RETIRED = {"dall-e-2": "2026-05-12", "dall-e-3": "2026-05-12", "gpt-image-1": "2026-10-23"}
COMPLEXITIES = ["low", "medium", "high"]
OTHER_MODELS = ["gpt-4o", "text-embedding-3-small", "whisper-1"]
GENERATION_FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "user",
    "stream",
    "partial_images",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "complexity",
}
# CreateImageEditRequest's text fields: a generation's, without moderation, with input_fidelity
EDIT_FIELDS = GENERATION_FIELDS - {"moderation"} | {"input_fidelity"}
ENUMS = {
    "background": ["transparent", "opaque", "auto"],
    "output_format": ["png", "jpeg", "webp"],
    "response_format": ["url", "b64_json"],
    "moderation": ["low", "auto"],
    "input_fidelity": ["high", "low"],
}
_SIZE = re.compile(r"^(\d+)x(\d+)$")
TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
}
MAX_PARTIAL_IMAGES = 3
PARTIAL_IMAGE_TOKENS = 100  # output tokens the emulator bills per partial image


def flexible_size_problem(width: int, height: int) -> str:
    """gpt-image-2's rule, in OpenAI's words; '' when the size is allowed."""
    if width % 16 or height % 16:
        return "Width and height must both be divisible by 16."
    if max(width, height) > 3840:
        return "The longest edge must be at most 3840 pixels."
    if max(width, height) > 3 * min(width, height):
        return "The aspect ratio must be between 1:3 and 3:1."
    if not 655_360 <= width * height <= 8_294_400:
        return "The total number of pixels must be between 655,360 and 8,294,400."
    return ""


class Refused(Exception):
    """A request the real API refuses: carries the status and the error object's fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


class OpenAIAPI(EmulatedAPI):
    name = "openai"

    def __init__(
        self, token: str | None = fake_key(name), extra_models: tuple[str, ...] = (), today: datetime.date | None = None
    ):
        super().__init__()
        self.token = token  # None: a server without auth
        self.extra_models = list(extra_models)  # another server's models: any parameter, links on request
        self._today = today  # models whose shutdown date has come answer 404; None: the pack's clock
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
            blob = self.files.get(request.path[len("/files/") :])
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

    def error_event(self, message: str) -> bytes:
        envelope = json.loads(self.error(500, message).body)
        return sse_event("error", {"type": "error", **envelope})

    def _unauthorized(self, request: Request) -> Response:
        if request.bearer is None:
            return self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        given = request.bearer
        masked = given[:3] + "*" * max(0, len(given) - 7) + given[-4:] if len(given) > 8 else "***"
        return self.error(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    @property
    def today(self) -> datetime.date:
        return self._today or clock.today()

    @today.setter
    def today(self, day: datetime.date | None) -> None:
        self._today = day

    def _served(self, model: str) -> bool:
        shutdown = SHUTDOWN.get(model)
        return model in GPT_MODELS and (shutdown is None or datetime.date.fromisoformat(shutdown) > self.today)

    def models(self, request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 1745193600, "owned_by": "system", "shutdown_date": SHUTDOWN.get(m)}
            for m in GPT_MODELS
            if self._served(m)
        ]
        data += [
            {"id": m, "object": "model", "created": 1698785189, "owned_by": "system", "shutdown_date": None}
            for m in OTHER_MODELS
        ]
        data += [
            {"id": m, "object": "model", "created": 1735689600, "owned_by": "local", "shutdown_date": None}
            for m in self.extra_models
        ]
        return Response.json({"object": "list", "data": data})

    # ---- checks shared by both calls

    def _rules(self, model, edit: bool) -> tuple | None:
        """The model's row of GPT_MODELS, None for another server's model, or the refusal."""
        if not isinstance(model, str) or not model:
            raise Refused(400, "Invalid type for 'model': expected a string.", "model", "invalid_type")
        if model in self.extra_models:
            return None
        if model in RETIRED or (model in GPT_MODELS and not self._served(model)):
            raise Refused(
                404,
                f"The model `{model}` has been deprecated, learn more here: https://platform.openai.com/docs/deprecations",
                None,
                "model_not_found",
            )
        if model not in GPT_MODELS:
            raise Refused(
                404, f"The model `{model}` does not exist or you do not have access to it.", None, "model_not_found"
            )
        rules = GPT_MODELS[model]
        if rules[4] and not edit:
            raise Refused(
                400, f"Invalid model {model}. The model does not support image generation.", "model", "invalid_value"
            )
        return rules

    def _check(self, fields: dict, rules: tuple | None, model: str, allowed: set[str]) -> tuple[int, str]:
        """Validate the parameters; return (n, size) as the server will use them."""
        for name in fields:
            if name not in allowed | {"response_format", "style"}:
                raise Refused(400, f"Unrecognized request argument supplied: {name}", None, "unknown_parameter")
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise Refused(400, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        n = fields.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
            raise Refused(400, f"Invalid 'n': must be an integer between 1 and 10, got {n!r}.", "n", "invalid_value")
        compression = fields.get("output_compression")
        if compression is not None and (
            isinstance(compression, bool) or not isinstance(compression, int) or not 0 <= compression <= 100
        ):
            raise Refused(
                400,
                "Invalid 'output_compression': must be an integer between 0 and 100.",
                "output_compression",
                "invalid_value",
            )
        size = fields.get("size")
        if rules is None:  # another server's model: anything goes
            return n, size if isinstance(size, str) and "x" in size else "512x512"
        flexible, qualities, transparent, fidelities, _, complexity = rules
        if "complexity" in fields:
            if not complexity:
                raise Refused(
                    400,
                    f"Unknown parameter: 'complexity' is not supported with the {model} model.",
                    "complexity",
                    "unknown_parameter",
                )
            if fields["complexity"] not in COMPLEXITIES:
                raise Refused(
                    400,
                    f"Invalid value: '{fields['complexity']}'. Supported values are: 'low', 'medium' and 'high'.",
                    "complexity",
                    "invalid_value",
                )
        for name in ("response_format", "style"):
            if name in fields:
                raise Refused(
                    400,
                    f"Unknown parameter: '{name}' is not supported with the {model} model.",
                    name,
                    "unknown_parameter",
                )
        for name, values in ENUMS.items():
            if name in fields and fields[name] not in values:
                raise Refused(
                    400,
                    f"Invalid value: '{fields[name]}'. Supported values are: {', '.join(repr(v) for v in values)}.",
                    name,
                    "invalid_value",
                )
        if len(prompt) > 32000:
            raise Refused(
                400,
                "Invalid 'prompt': string too long. Expected a string with maximum length 32000, "
                f"but got a string with length {len(prompt)} instead.",
                "prompt",
                "string_above_max_length",
            )
        if "quality" in fields and fields["quality"] not in qualities:
            raise Refused(
                400,
                f"Invalid value: '{fields['quality']}'. Supported values are: {', '.join(repr(q) for q in qualities)}.",
                "quality",
                "invalid_value",
            )
        if fields.get("background") == "transparent" and not transparent:
            raise Refused(400, f"Transparent background is not supported for {model}.", "background", "invalid_value")
        if "input_fidelity" in fields and fields["input_fidelity"] not in fidelities:
            raise Refused(
                400, f"input_fidelity is not supported for {model}.", "input_fidelity", "unsupported_parameter"
            )
        if size is not None and size != "auto" and size not in (GPT_2_PRESETS if flexible else LEGACY_SIZES):
            match = _SIZE.match(size) if isinstance(size, str) else None
            problem = (
                flexible_size_problem(int(match.group(1)), int(match.group(2)))
                if match and flexible
                else "not a supported size"
            )
            if problem:
                supported = "auto or WIDTHxHEIGHT" if flexible else ", ".join(repr(v) for v in [*LEGACY_SIZES, "auto"])
                raise Refused(
                    400,
                    f"Invalid value: '{size}'. {problem} Supported values are: {supported}.",
                    "size",
                    "invalid_value",
                )
        stream = fields.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise Refused(
                400,
                f"Invalid type for 'stream': expected a boolean, but got {type(stream).__name__} instead.",
                "stream",
                "invalid_type",
            )
        partials = fields.get("partial_images")
        if partials is not None:
            if isinstance(partials, bool) or not isinstance(partials, int):
                raise Refused(
                    400, "Invalid type for 'partial_images': expected an integer.", "partial_images", "invalid_type"
                )
            if not 0 <= partials <= MAX_PARTIAL_IMAGES:
                raise Refused(
                    400,
                    f"Invalid 'partial_images': must be an integer between 0 and {MAX_PARTIAL_IMAGES}, got {partials}.",
                    "partial_images",
                    "invalid_value",
                )
            if partials and not stream:
                raise Refused(
                    400, "partial_images is only supported when stream is true.", "partial_images", "invalid_value"
                )
        if compression is not None and fields.get("output_format", "png") == "png":
            raise Refused(
                400,
                "output_compression is only supported for the jpeg and webp output formats.",
                "output_compression",
                "invalid_value",
            )
        if fields.get("background") == "transparent" and fields.get("output_format") == "jpeg":
            raise Refused(
                400,
                "Transparent background is not supported for the jpeg output format.",
                "background",
                "invalid_value",
            )
        return n, size or "auto"

    # ---- generations

    def generations(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Refused(400, "Invalid content type. image generations take application/json.")
        body = request.json()
        if not isinstance(body, dict):
            raise Refused(400, "We could not parse the JSON body of your request.")
        model = body.get("model", "dall-e-2")  # the spec's default (retired, so a call without a model fails)
        rules = self._rules(model, edit=False)
        n, size = self._check(body, rules, model, GENERATION_FIELDS)
        width, height = picture_size(size)
        prompt = body["prompt"]
        blobs = [
            _picture(
                synth.generate(prompt, width, height, "png", i),
                body.get("output_format", "png"),
                body.get("background") == "transparent",
            )
            for i in range(n)
        ]
        return self._reply(
            model, rules, body, blobs, size=f"{width}x{height}", prompt=prompt, events="image_generation"
        )

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
                    raise Refused(
                        400, f"Invalid type for '{name}': expected an integer.", name, "invalid_type"
                    ) from None
        if "stream" in fields:  # a form's booleans are the words true and false
            if fields["stream"] not in ("true", "false"):
                raise Refused(400, "Invalid type for 'stream': expected a boolean.", "stream", "invalid_type")
            fields["stream"] = fields["stream"] == "true"
        files = {p.name for p in request.parts if p.filename is not None}
        if files - {"image", "image[]", "mask"}:
            raise Refused(
                400,
                f"Unrecognized file field: {sorted(files - {'image', 'image[]', 'mask'})[0]}",
                None,
                "unknown_parameter",
            )
        if {"image", "image[]"} & set(fields) or "mask" in fields:
            raise Refused(400, "'image' and 'mask' must be sent as files.", "image", "invalid_type")
        model = fields.get("model", "gpt-image-1.5")
        rules = self._rules(model, edit=True)
        n, size = self._check(fields, rules, model, EDIT_FIELDS)
        sources = request.files("image") + request.files("image[]")
        if not sources:
            raise Refused(400, "Missing required parameter: 'image'.", "image", "missing_required_parameter")
        if request.files("image") and request.files("image[]"):
            raise Refused(400, "Send either 'image' or 'image[]', not both.", "image", "invalid_value")
        if len(sources) > 16:
            raise Refused(400, f"Too many images: {model} takes at most 16 images.", "image", "invalid_value")
        pictures = [self._open(part, "image", 50, ("PNG", "JPEG", "WEBP")) for part in sources]
        first = pictures[0]
        mask = None
        if request.files("mask"):
            mask = self._open(request.files("mask")[0], "mask", 4, ("PNG",))
            if mask.mode not in ("RGBA", "LA") and "transparency" not in mask.info:
                raise Refused(
                    400,
                    f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {mask.mode}.",
                    "mask",
                    "invalid_image_format",
                )
            if mask.size != first.size:
                raise Refused(
                    400,
                    f"Invalid mask image - mask size ({mask.size[0]}x{mask.size[1]}) "
                    f"does not match image size ({first.size[0]}x{first.size[1]}).",
                    "mask",
                    "invalid_value",
                )
        width, height = picture_size(size, first)
        prompt = fields["prompt"]
        blobs = [
            _picture(
                synth.edit(first, prompt, width, height, mask, "png", i),
                fields.get("output_format", "png"),
                fields.get("background") == "transparent",
            )
            for i in range(n)
        ]
        return self._reply(
            model,
            rules,
            fields,
            blobs,
            size=f"{width}x{height}",
            prompt=prompt,
            input_images=len(pictures),
            events="image_edit",
        )

    def _open(self, part: Part, name: str, limit_mb: int, formats: tuple[str, ...]) -> Image.Image:
        if len(part.data) >= limit_mb * 1024 * 1024:
            raise Refused(400, f"Invalid input image - file must be less than {limit_mb} MB.", name, "invalid_value")
        try:
            picture = Image.open(io.BytesIO(part.data))
            picture.load()
        except Exception:  # noqa: BLE001
            raise Refused(
                400, f"Invalid input image - the {name} file could not be read.", name, "invalid_image"
            ) from None
        if picture.format not in formats:
            raise Refused(
                400,
                f"Invalid input image - format must be one of {', '.join(f.lower() for f in formats)}, "
                f"got {str(picture.format).lower()}.",
                name,
                "invalid_image_format",
            )
        return picture

    # ---- replies

    def _reply(
        self,
        model: str,
        rules: tuple | None,
        fields: dict,
        blobs: list[bytes],
        *,
        size: str,
        prompt: str,
        events: str,
        input_images: int = 0,
    ) -> Response:
        """The JSON reply, or for a GPT image model asked to stream, the event stream (``events``:
        the events' prefix, image_generation or image_edit)."""
        if rules is not None and fields.get("stream"):
            return self._stream(events, fields, blobs, size=size, prompt=prompt, input_images=input_images)
        reply: dict = {"created": int(time.time())}
        if rules is None and fields.get("response_format") == "url":  # another server's links
            items = []
            for blob in blobs:
                name = f"img-{uuid.uuid4().hex}.png"
                self.files[name] = blob
                items.append({"url": f"{self.base_url}/files/{name}"})
        else:
            items = [{"b64_json": b64encode(blob)} for blob in blobs]
        reply["data"] = items
        if rules is not None:
            reply.update(_made(fields, size))
            reply["usage"] = token_usage(prompt, input_images, len(blobs))
        return Response.json(reply)

    def _stream(
        self, prefix: str, fields: dict, blobs: list[bytes], *, size: str, prompt: str, input_images: int
    ) -> Response:
        """Per image: its partial images, then the completed event with the picture and the usage
        of that image (the request's input tokens on the first)."""
        partials = fields.get("partial_images") or 0
        fmt = fields.get("output_format", "png")
        asked = {
            "size": fields.get("size", "auto"),
            "quality": fields.get("quality", "auto"),
            "background": fields.get("background", "auto"),
            "output_format": fmt,
        }
        done = {**asked, **_made(fields, size)}
        events = []
        for number, blob in enumerate(blobs):
            for index in range(partials):
                picture = _partial(blob, fmt, coarseness=2 ** (2 + partials - 1 - index))
                events.append(
                    sse_event(
                        f"{prefix}.partial_image",
                        {
                            "type": f"{prefix}.partial_image",
                            "b64_json": b64encode(picture),
                            "created_at": int(time.time()),
                            **asked,
                            "partial_image_index": index,
                        },
                    )
                )
            usage = token_usage(prompt if number == 0 else "", input_images if number == 0 else 0, 1, partials)
            events.append(
                sse_event(
                    f"{prefix}.completed",
                    {
                        "type": f"{prefix}.completed",
                        "b64_json": b64encode(blob),
                        "created_at": int(time.time()),
                        **done,
                        "usage": usage,
                    },
                )
            )
        return Response.stream(events)


def _made(fields: dict, size: str) -> dict:
    """What a GPT image model's reply says it made: background (auto: opaque), output format,
    size and quality (auto: medium)."""
    quality = fields.get("quality", "auto")
    return {
        "background": "transparent" if fields.get("background") == "transparent" else "opaque",
        "output_format": fields.get("output_format", "png"),
        "size": size,
        "quality": quality if quality != "auto" else "medium",
    }


def token_usage(prompt: str, input_images: int, images: int, partials: int = 0) -> dict:
    text_tokens = len(prompt.split())
    image_tokens = 65 * input_images
    output = (272 + PARTIAL_IMAGE_TOKENS * partials) * images
    return {
        "input_tokens": text_tokens + image_tokens,
        "output_tokens": output,
        "total_tokens": text_tokens + image_tokens + output,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
    }


def _partial(final: bytes, fmt: str, coarseness: int) -> bytes:
    """A partial image: the final picture at 1/``coarseness`` of its size, scaled back up, so it
    is the same size and visibly blurrier (the coarser, the earlier)."""
    picture = Image.open(io.BytesIO(final))
    small = picture.resize(
        (max(1, picture.width // coarseness), max(1, picture.height // coarseness)), Image.Resampling.BOX
    )
    return synth.encode(small.resize(picture.size, Image.Resampling.BICUBIC), fmt)


def picture_size(size: str, source: Image.Image | None = None) -> tuple[int, int]:
    """The picture size for a checked ``size``. GPT image models' ``auto``: the standard size
    nearest the input picture's aspect, square without one."""
    if size != "auto":
        width, _, height = size.partition("x")
        return int(width), int(height)
    if source is not None and source.width > source.height * 1.2:
        return 1536, 1024
    if source is not None and source.height > source.width * 1.2:
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


EMULATOR = Emulator(OpenAIAPI, base_path="/v1")

"""IONOS AI Model Hub emulator, strict to docs/providers.md section 1."""

from __future__ import annotations

import math
import re
import threading
import time
import uuid

from ..core.payloads import b64encode
from . import Emulator, fake_key, synth
from .server import EmulatedAPI, Request, Response

IMAGE_MODELS = {
    "black-forest-labs/FLUX.1-schnell": {"edit": False},
    "black-forest-labs/FLUX.2-klein-4B": {"edit": True},
    "stabilityai/stable-diffusion-xl-base-1.0": {"edit": False},
    "stabilityai/stable-diffusion-3.5-large": {"edit": False},  # live-only: not in the pack's built-in list
}
OTHER_MODELS = ["meta-llama/Llama-3.3-70B-Instruct", "mistralai/Mistral-Small-24B-Instruct", "BAAI/bge-m3"]
OUTPUT_FORMATS = {"jpg", "jpeg", "png", "webp"}
_SIZE = re.compile(r"^(\d+)x(\d+)$")


class ImageBucket:
    """Images per minute with a burst, as IONOS meters image calls."""

    def __init__(self, per_minute: float = 10, burst: float = 20):
        self.rate = per_minute / 60.0
        self.capacity = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, amount: int) -> float:
        """0 when granted, else the seconds until ``amount`` images would be."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if amount <= self.tokens:
                self.tokens -= amount
                return 0.0
            return (amount - self.tokens) / self.rate if self.rate else 3600.0


class IonosAPI(EmulatedAPI):
    name = "ionos"

    def __init__(self, token: str = fake_key(name), images_per_minute: float = 10, burst: float = 20):
        super().__init__()
        self.token = token
        self.bucket = ImageBucket(images_per_minute, burst)
        self.routes = {
            ("GET", "/v1/models"): self.models,
            ("POST", "/v1/images/generations"): self.generations,
            ("POST", "/v1/images/edits"): self.edits,
        }

    # IONOS's own envelope, with the trace id support asks for on every reply.
    def error(self, status: int, message: str, code: str = "") -> Response:
        code = code or {401: "paas-auth-1", 404: "paas-notfound-1", 429: "paas-ratelimit-1"}.get(
            status, f"paas-{status}"
        )
        return Response.json({"httpStatus": status, "messages": [{"errorCode": code, "message": message}]}, status)

    def handle(self, request: Request) -> Response:
        if request.bearer != self.token:
            return self.error(401, "Unauthorized, wrong or no api key provided to process this request")
        return super().handle(request)

    def finalize(self, response: Response) -> Response:
        response.headers.setdefault("x-trace-id", uuid.uuid4().hex)
        return response

    def _rate(self, n: int) -> Response | None:
        wait = self.bucket.take(n)
        if wait:
            response = self.error(429, "Too many requests: image rate limit exceeded")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        return None

    def models(self, request: Request) -> Response:
        created = 1735689600
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "IONOS Cloud"}
            for m in [*IMAGE_MODELS, *OTHER_MODELS]
        ]
        return Response.json({"object": "list", "data": data})

    # ---- validation shared by both image calls

    def _common(self, model, prompt, size, n, *, max_prompt: int | None):
        if not isinstance(model, str) or not model:
            return self.error(400, "model is required")
        if model not in IMAGE_MODELS:
            return self.error(
                400 if model in OTHER_MODELS else 404,
                f"model '{model}' does not support images" if model in OTHER_MODELS else f"model '{model}' not found",
            )
        if not isinstance(prompt, str) or not prompt.strip():
            return self.error(400, "prompt is required")
        if max_prompt and len(prompt) > max_prompt:
            return self.error(400, f"prompt must be at most {max_prompt} characters")
        match = _SIZE.match(size) if isinstance(size, str) else None
        if not match:
            return self.error(400, "size must be given as 'widthxheight'")
        width, height = int(match.group(1)), int(match.group(2))
        if not (64 <= width <= 2048 and 64 <= height <= 2048) or width % 16 or height % 16:
            return self.error(400, "size: width and height must be multiples of 16 between 64 and 2048")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
            return self.error(400, "n must be between 1 and 10")
        return width, height

    def generations(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.error(415, "Content-Type must be application/json")
        body = request.json()
        if not isinstance(body, dict):
            return self.error(400, "request body must be a JSON object")
        checked = self._common(
            body.get("model"), body.get("prompt"), body.get("size", "1024x1024"), body.get("n", 1), max_prompt=None
        )
        if isinstance(checked, Response):
            return checked
        if body.get("response_format", "b64_json") != "b64_json":
            return self.error(400, "response_format: only 'b64_json' is supported")
        width, height = checked
        n = body.get("n", 1)
        limited = self._rate(n)
        if limited:
            return limited
        data = [{"b64_json": b64encode(synth.generate(body["prompt"], width, height, "png", i))} for i in range(n)]
        usage = {"prompt_tokens": len(body["prompt"].split()), "total_tokens": 0}
        return Response.json({"created": int(time.time()), "data": data, "usage": usage})

    def edits(self, request: Request) -> Response:
        if request.parts is None:
            return self.error(400, "request must be multipart/form-data")
        files = [p.name for p in request.parts if p.filename is not None]
        if files:
            return self.error(400, f"file uploads are not supported; send '{files[0]}' as a URL or data URL text field")
        form = request.form()
        try:
            n = int(form.get("n", "1"))
        except ValueError:
            return self.error(400, "n must be an integer")
        checked = self._common(form.get("model"), form.get("prompt"), form.get("size", "1024x1024"), n, max_prompt=1000)
        if isinstance(checked, Response):
            return checked
        if not IMAGE_MODELS[form["model"]]["edit"]:
            return self.error(400, f"model '{form['model']}' does not support image editing")
        output_format = form.get("output_format", "png")
        if output_format not in OUTPUT_FORMATS:
            return self.error(400, "output_format must be one of jpg, jpeg, png, webp")
        source = self._load(form.get("url"), "url")
        if isinstance(source, Response):
            return source
        mask = None
        if form.get("mask_image"):
            mask = self._load(form["mask_image"], "mask_image")
            if isinstance(mask, Response):
                return mask
            if mask.size != source.size:
                return self.error(
                    400,
                    "mask_image must have the same dimensions as the input image "
                    f"({source.size[0]}x{source.size[1]}), got {mask.size[0]}x{mask.size[1]}",
                )
        limited = self._rate(n)
        if limited:
            return limited
        width, height = checked
        data = [
            {"b64_json": b64encode(synth.edit(source, form["prompt"], width, height, mask, output_format, i))}
            for i in range(n)
        ]
        return Response.json({"created": int(time.time()), "data": data})

    def _load(self, value, field_name):
        if not value:
            return self.error(400, f"{field_name} is required")
        if not value.startswith("data:image/"):
            if value.startswith(("http://", "https://")):
                return self.error(
                    400, f"{field_name}: could not fetch the image from the URL (the emulator is offline)"
                )
            return self.error(400, f"{field_name} must be a public http(s) URL or a data:image/...;base64 URL")
        opened = synth.open_data_url(value)
        if opened is None:
            return self.error(400, f"{field_name}: the image could not be decoded")
        return opened[1]


EMULATOR = Emulator(IonosAPI, base_path="/v1")

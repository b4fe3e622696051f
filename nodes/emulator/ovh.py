"""OVH AI Endpoints SDXL emulator, strict to docs/providers.md section 4.

What is documented is followed exactly: ``POST /api/text2image`` with ``{"prompt", "negative_prompt"}``,
raw 1024x1024 JPEG bytes back (a new image on every call), an optional bearer token, 2 calls a
minute without a token and 400 with one, and request bodies over 2 MB refused. What OVH leaves
unconfirmed is an assumption, kept plausible and in one place: error bodies are ``{"message": …}``
(validation errors FastAPI's ``{"detail": [...]}``), and rate limits are announced with IETF
``RateLimit-*`` headers plus their ``X-RateLimit-*`` twins (seconds until the reset).
"""

from __future__ import annotations

import itertools
import json
import math

from . import Emulator, fake_key, synth
from .ionos import ImageBucket
from .server import EmulatedAPI, Request, Response

PATH = "/api/text2image"
MAX_BODY_BYTES = 2 * 1024 * 1024
SIZE = 1024


class OvhAPI(EmulatedAPI):
    name = "ovh"

    def __init__(
        self,
        token: str = fake_key(name),
        anonymous_per_minute: float = 2,
        token_per_minute: float = 400,
        content_type: str = "image/jpeg",
    ):
        super().__init__()
        self.token = token
        self.content_type = content_type
        self.limits = {
            "anonymous": (anonymous_per_minute, ImageBucket(anonymous_per_minute, anonymous_per_minute)),
            "token": (token_per_minute, ImageBucket(token_per_minute, token_per_minute)),
        }
        self.serial = itertools.count()  # every call draws a different image
        self.routes = {("POST", PATH): self.text2image}

    def error(self, status: int, message: str) -> Response:
        return Response.json({"message": message}, status)

    def reply_json(self, payload, times: int = 1) -> None:
        """Answer the next call(s) with HTTP 200 and a JSON body instead of an image."""
        self.inject(body=json.dumps(payload).encode(), content_type="application/json", times=times)

    def handle(self, request: Request) -> Response:
        if len(request.body) > MAX_BODY_BYTES:
            return self.error(
                413, f"Request body too large: {len(request.body)} bytes, the limit is {MAX_BODY_BYTES} bytes"
            )
        if "authorization" in request.headers and request.bearer != self.token:
            return self.error(401, "Unauthorized: the access token is invalid or expired")
        kind = "anonymous" if "authorization" not in request.headers else "token"
        per_minute, bucket = self.limits[kind]
        wait = bucket.take(1)
        # seconds until the next call is allowed (limited), or until the quota is full again
        reset = math.ceil(wait if wait else (per_minute - bucket.tokens) * 60 / per_minute)
        limits = {"Limit": str(int(per_minute)), "Remaining": str(max(0, int(bucket.tokens))), "Reset": str(reset)}
        if wait:
            response = self.error(429, f"Too many requests: {kind} calls are limited to {int(per_minute)} per minute")
        else:
            response = super().handle(request)
        for name, value in limits.items():
            response.headers[f"RateLimit-{name}"] = value
            response.headers[f"X-RateLimit-{name}"] = value
        return response

    def text2image(self, request: Request) -> Response:
        body = request.json() if request.headers.get("content-type", "").startswith("application/json") else None
        if not isinstance(body, dict):
            return _invalid(["body"], "a JSON object is required", "type_error.dict")
        prompt = body.get("prompt")
        if prompt is None:
            return _invalid(["body", "prompt"], "field required", "value_error.missing")
        for name in ("prompt", "negative_prompt"):
            if name in body and not isinstance(body[name], str):
                return _invalid(["body", name], "str type expected", "type_error.str")
        # the first words are enough to draw (a 2 MB prompt would make captioning slow)
        picture = synth.generate(prompt[:500], SIZE, SIZE, "jpeg", next(self.serial))
        return Response(200, picture, {"Content-Type": self.content_type})


def _invalid(loc: list, msg: str, kind: str) -> Response:
    return Response.json({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, 422)


EMULATOR = Emulator(OvhAPI, base_path=PATH)

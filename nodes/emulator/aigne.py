"""AIGNE Hub emulator, strict to docs/providers.md sections 0.1 and 2 (a hub built from the
published framework, as of 2026-12-06).

Routes, as a hub built from AIGNE-io/aigne-hub serves them below its mount path:
- ``POST /api/v2/image/generations``: OpenAI-style body, reply ``{images, data, model, usage}``
  with the base64 under ``b64_json``, ``base64`` and ``b64Json``;
- ``POST /api/v2/images/generations`` (a newer branch): the upstream provider's own reply,
  OpenAI's ``{created, data}``;
- ``POST /api/v2/image``: the native route, ``{"input": {prompt, image: [FileContent], n, size,
  outputFileType, modelOptions: {model, ...}}}`` -> ``{images: [FileContent], usage, model,
  modelWithProvider}``; it is the one that edits;
- ``GET /api/ai-providers/models?type=image``: the hub's public model list.
Any other path (the docs' ``/api/images/generations`` among them) gets Express's HTML 404.

A bare model name gets its provider on the generation routes (``gpt-image-2`` ->
``openai/gpt-image-2``); the native route parses ``provider/model`` itself and refuses a bare
name. Models are routed upstream: ``openai/...`` requests are judged by the OpenAI emulator's own rules
(so OpenAI's retirements come back as the upstream 404 the hub relays) after the framework
(``@aigne/openai`` 0.16) picked what it passes on: gpt-image-1's options for gpt-image-1 (which
gets no ``n``: one image comes back while ``n`` are billed), dall-e-2's list -- prompt, size, n --
for every other model, whatever else was sent dropped silently (``dropped`` records it). Only
gpt-image-1 edits. ``google/...`` Gemini image models (``@aigne/gemini``) take input images on
the native route, ignore size and make one image per call. ``url`` results
are files this server serves itself, like an upstream CDN: their downloads are recorded with
whether they carried an Authorization header, and ``expire_links()`` makes them answer 403.
"""

from __future__ import annotations

import threading
import time
import uuid

from ..core.payloads import b64encode
from . import Emulator, fake_key, synth
from .openai_compat import GPT_MODELS, OpenAIAPI, Refused, picture_size, token_usage
from .server import EmulatedAPI, Request, Response

GENERATION_PATHS = ("/api/v2/image/generations", "/api/v2/images/generations")
NATIVE_PATH = "/api/v2/image"
MODELS_PATH = "/api/ai-providers/models"
B64_KEYS = ("base64", "b64_json", "b64Json")
MAX_BODY_BYTES = 30 * 1024 * 1024
# the upstream parameters a GPT image model may get (camelCase on the native route) ...
GPT_PARAMETERS = {
    "size": "size",
    "quality": "quality",
    "background": "background",
    "moderation": "moderation",
    "output_format": "outputFormat",
    "output_compression": "outputCompression",
}
# ... and those the framework passes on, per model (its SUPPORTED_PARAMS; any other model: dall-e-2's)
PASSED_ON = {
    "gpt-image-1": {"size", "quality", "background", "moderation", "output_format", "output_compression"},
    "dall-e-3": {"size", "n", "quality"},
    "dall-e-2": {"size", "n"},
}
EDITS_WITH = {"gpt-image-1"}  # the framework's SUPPORT_EDIT_MODELS
# Google's image models this hub's admin enabled (a hub serves what its model-rate list holds)
GOOGLE_MODELS = {"google/gemini-nano-banana-2.1": 4.0, "google/gemini-3-pro-image": 13.0}
GOOGLE_SHUT_DOWN = (
    "google/gemini-3.1-flash-image",
    "google/gemini-3.1-flash-image-preview",
    "google/gemini-3-pro-image-preview",
    "google/gemini-2.5-flash-image",
    "google/imagen-4.0-generate-001",
)
OTHER_MODELS = {"ideogram/ideogram-v3": 3.0}  # model -> credits per image; Ideogram answers with links
CHAT_MODELS = ["openai/gpt-5", "google/gemini-3.5-flash"]
GPT_CREDITS = 6.0
DEFAULT_IMAGE_MODEL = "openai/dall-e-2"  # the hub's default when a call names no model
CREDIT_MESSAGE = "Hello, in order to continue chatting, please first buy some credits in the link below."


class AigneHubAPI(EmulatedAPI):
    name = "aigne"

    def __init__(self, key: str = fake_key(name), *, credits: float = 1000.0):
        super().__init__()
        self.key = key
        self.credits = credits
        self.upstream = OpenAIAPI(token=None)  # OpenAI as the hub's upstream (its today decides what is served)
        self.serves = set(GENERATION_PATHS)  # which generation paths this hub serves (older hubs: fewer)
        self.shape: str | None = None  # None: per path; "seed" or "hub" forces one reply shape on the generation routes
        self.b64_keys: tuple[str, ...] = B64_KEYS  # which base64 names the hub shape carries
        self.base64_for_url = False  # links come back as base64 (the hub often does that)
        self.billed: list[int] = []  # images billed per call (n, even when the framework returned fewer)
        self.dropped: list[list[str]] = []  # per call, the parameters the framework did not pass on
        self.files: dict[str, bytes] = {}
        self.expired: set[str] = set()
        self.downloads: list[dict] = []  # {"file": id, "authorization": bool}
        self._files_lock = threading.Lock()
        self.routes = {("POST", path): self.generations for path in GENERATION_PATHS}
        self.routes[("POST", NATIVE_PATH)] = self.native
        self.routes[("GET", MODELS_PATH)] = self.models

    # CustomError replies: {"error": "<string>"}
    def error(self, status: int, message: str) -> Response:
        return Response.json({"error": message}, status)

    @staticmethod
    def upstream_error(status: int, message: str) -> Response:
        """Failures from the upstream provider or the hub's internals: {"error": {"message": ...}}."""
        return Response.json({"error": {"message": message}}, status)

    @staticmethod
    def missing_route(request: Request) -> Response:
        """Express's answer for a path no route serves."""
        page = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n'
            f"<body>\n<pre>Cannot {request.method} {request.path}</pre>\n</body>\n</html>\n"
        )
        return Response(404, page.encode(), {"Content-Type": "text/html; charset=utf-8", "X-Powered-By": "Express"})

    def credit_error(self) -> Response:
        link = f"{self.base_url}/payment/checkout/pay/plink_emulator"
        error = {"message": f"{CREDIT_MESSAGE}\n{link}", "type": "NOT_ENOUGH", "link": link}
        return Response.json({"error": error}, 402)

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path.startswith("/files/"):
            return self.download(request)
        route = self.routes.get((request.method, request.path))
        if route is None or (request.path in GENERATION_PATHS and request.path not in self.serves):
            return self.missing_route(request)
        if route != self.models and request.bearer != self.key:
            return self.error(401, "User not authenticated")
        if len(request.body) > MAX_BODY_BYTES:
            return self.error(413, "request entity too large")
        return route(request)

    # ---- result links, served like an upstream CDN (no hub key needed; they expire)

    def expire_links(self) -> None:
        with self._files_lock:
            self.expired |= set(self.files)

    def download(self, request: Request) -> Response:
        file_id = request.path[len("/files/") :].rsplit(".", 1)[0]
        with self._files_lock:
            self.downloads.append({"file": file_id, "authorization": "authorization" in request.headers})
            data = self.files.get(file_id)
            expired = file_id in self.expired
        if data is None:
            body = (
                b'<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code>'
                b"<Message>The specified blob does not exist.</Message></Error>"
            )
            return Response(404, body, {"Content-Type": "application/xml"})
        if expired:
            body = (
                b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed '
                b"to authenticate the request. Signed expiry time has to be after signed start time.</Message></Error>"
            )
            return Response(403, body, {"Content-Type": "application/xml"})
        return Response(200, data, {"Content-Type": "image/png"})

    def _link(self, data: bytes) -> str:
        file_id = uuid.uuid4().hex
        with self._files_lock:
            self.files[file_id] = data
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return f"{self.base_url}/files/{file_id}.png?se={expiry}&sp=r&sig=emulator"

    # ---- the model list

    def _served(self) -> list[str]:
        openai = [f"openai/{model}" for model in GPT_MODELS if self.upstream._served(model)]
        return [*openai, *GOOGLE_MODELS, *OTHER_MODELS]

    def models(self, request: Request) -> Response:
        wanted = (request.query.get("type") or [""])[0]
        entries = [
            {"key": key, "model": key.split("/", 1)[1], "provider": key.split("/", 1)[0], "type": "image_generation"}
            for key in self._served()
        ]
        entries += [
            {"key": key, "model": key.split("/", 1)[1], "provider": key.split("/", 1)[0], "type": "chat"}
            for key in CHAT_MODELS
        ]
        if wanted:
            kind = {"image": "image_generation", "chat": "chat"}.get(wanted, wanted)
            entries = [entry for entry in entries if entry["type"] == kind]
        return Response.json(
            [
                {**entry, "status": "active", "input_credits_per_token": 0, "output_credits_per_token": 0}
                for entry in entries
            ]
        )

    # ---- shared by both image routes

    def _resolve(self, model: str) -> tuple[str, str] | Response:
        """(provider/model, upstream model) as the hub resolves a name, or its refusal."""
        if "/" not in model:
            model = f"openai/{model}" if model in GPT_MODELS or model.startswith(("gpt-image", "dall-e")) else model
        provider, _, name = model.partition("/")
        if model in OTHER_MODELS or model in GOOGLE_MODELS or provider == "openai":
            return model, name
        if model in GOOGLE_SHUT_DOWN:
            return self.upstream_error(
                404, f"models/{name} is not found for API version v1beta, or is not supported for generateContent."
            )
        return self.upstream_error(404, f"No available provider for model: {model}")

    def _upstream(self, name: str, fields: dict, *, edit: bool) -> tuple | Response:
        """OpenAI's verdict on the parameters the framework passes on (what it does not pass on is
        dropped and recorded): (rules, n, size) or the relayed error."""
        if edit and name not in EDITS_WITH:
            return self.upstream_error(500, f"Model {name} does not support image editing")
        passed = PASSED_ON.get(name, PASSED_ON["dall-e-2"])
        self.dropped.append(sorted(k for k in fields if k not in passed | {"prompt"}))
        kept = {k: v for k, v in fields.items() if k in passed | {"prompt"}}
        try:
            rules = self.upstream._rules(name, edit=edit)
            allowed = {"model", "prompt", "n", *GPT_PARAMETERS}
            n, size = self.upstream._check({"model": name, **kept}, rules, name, allowed)
        except Refused as exc:
            return self.upstream_error(exc.status, exc.message)
        return rules, n, size

    def _bill(self, model: str, n: int) -> float:
        cost = {**OTHER_MODELS, **GOOGLE_MODELS}.get(model, GPT_CREDITS) * n
        self.credits -= cost
        self.billed.append(n)
        return cost

    # ---- the v2 generation routes

    def _validate(self, body) -> Response | None:
        """The hub's Joi schema, in Joi's words."""
        if not isinstance(body.get("model", ""), (str, type(None))):
            return self.error(400, '"model" must be a string')
        image = body.get("image")
        if image is not None:
            if not isinstance(image, (str, list)):
                return self.error(400, '"image" must be one of [string, array]')
            if isinstance(image, list):
                for index, item in enumerate(image):
                    if not isinstance(item, str):
                        return self.error(400, f'"image[{index}]" must be a string')
        if "prompt" not in body:
            return self.error(400, '"prompt" is required')
        if not isinstance(body["prompt"], str):
            return self.error(400, '"prompt" must be a string')
        if body["prompt"] == "":
            return self.error(400, '"prompt" is not allowed to be empty')
        n = body.get("n", 1)
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, (int, float)):
                return self.error(400, '"n" must be a number')
            if n < 1:
                return self.error(400, '"n" must be greater than or equal to 1')
            if n > 10:
                return self.error(400, '"n" must be less than or equal to 10')
        return None

    def generations(self, request: Request) -> Response:
        if self.credits <= 0:
            return self.credit_error()
        # express.json() leaves the body empty unless it is JSON
        body = request.json() if request.headers.get("content-type", "").startswith("application/json") else {}
        if not isinstance(body, dict):
            return self.error(400, '"value" must be of type object')
        refused = self._validate(body)
        if refused:
            return refused
        resolved = self._resolve(body.get("model") or DEFAULT_IMAGE_MODEL)
        if isinstance(resolved, Response):
            return resolved
        model, name = resolved
        n = int(body.get("n") or 1)
        if model in OTHER_MODELS:
            size = body.get("size") or "1024x1024"
            width, height = picture_size(size)
            blobs = [synth.generate(body["prompt"], width, height, "png", i) for i in range(n)]
            as_url = not self.base64_for_url
        elif model in GOOGLE_MODELS:
            blobs = [synth.generate(body["prompt"], 1024, 1024, "png", 0)]  # one candidate; size is ignored
            as_url = False  # the hub asks Google's models for base64
        else:
            sent = {k: body[k] for k in ("n", *GPT_PARAMETERS) if k in body}
            verdict = self._upstream(name, {"prompt": body["prompt"], **sent}, edit=False)
            if isinstance(verdict, Response):
                return verdict
            _, made, size = verdict
            width, height = picture_size(size)
            blobs = [synth.generate(body["prompt"], width, height, "png", i) for i in range(made)]
            as_url = False  # GPT image models answer base64
        cost = self._bill(model, n)
        shape = self.shape or ("hub" if request.path == GENERATION_PATHS[0] else "seed")
        items = [{"url": self._link(b)} if as_url else self._base64_item(b, shape) for b in blobs]
        if shape == "seed":
            return Response.json({"created": int(time.time()), "data": items})
        return Response.json(
            {"images": items, "data": items, "model": name, "usage": {"aigneHubCredits": cost, "creditPrefix": ""}}
        )

    def _base64_item(self, blob: bytes, shape: str) -> dict:
        encoded = b64encode(blob)
        return {"b64_json": encoded} if shape == "seed" else {key: encoded for key in self.b64_keys}

    # ---- the native route

    def native(self, request: Request) -> Response:
        if self.credits <= 0:
            return self.credit_error()
        body = request.json() if request.headers.get("content-type", "").startswith("application/json") else None
        payload = body.get("input") if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            return self.error(400, "Check image generation payload: input: Expected object, received undefined")
        if not isinstance(payload.get("prompt"), str):
            return self.error(400, "Check image model input: prompt: Required")
        images = payload.get("image")
        if images is not None and (not isinstance(images, list) or not all(_is_file_content(item) for item in images)):
            return self.error(
                400,
                "Check image model input: image: Expected array of FileContent "
                "({type: 'file', data} or {type: 'url', url})",
            )
        n = payload.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            return self.error(400, "Check image model input: n: Number must be greater than or equal to 1")
        if payload.get("outputFileType", "file") not in ("file", "url", "local"):
            return self.error(400, "Check image model input: outputFileType: Invalid enum value")
        options = payload.get("modelOptions") if isinstance(payload.get("modelOptions"), dict) else {}
        chosen = options.get("model") or body.get("model") or DEFAULT_IMAGE_MODEL
        if not isinstance(chosen, str) or "/" not in chosen:  # the route parses provider/model itself
            return self.error(400, f"Invalid model format: {chosen}, should be {{provider}}/{{model}}")
        resolved = self._resolve(chosen)
        if isinstance(resolved, Response):
            return resolved
        model, name = resolved
        merged = {**options, **payload}  # the framework reads both, the input's own fields winning
        sources = [self._source(item) for item in images or []]
        if any(isinstance(source, Response) for source in sources):
            return next(source for source in sources if isinstance(source, Response))
        if model in OTHER_MODELS:
            if sources:
                return self.upstream_error(500, f"Model {name} does not support image editing")
            size = merged.get("size") or "1024x1024"
            width, height = picture_size(size)
            count = n
        elif model in GOOGLE_MODELS:
            # Gemini: the images go in as inlineData, size is not Gemini's, n becomes candidateCount (one comes back)
            width, height = picture_size("auto", sources[0] if sources else None)
            count = 1
        else:
            fields = {
                "prompt": payload["prompt"],
                "n": n,
                **{snake: merged[camel] for snake, camel in GPT_PARAMETERS.items() if camel in merged},
            }
            verdict = self._upstream(name, fields, edit=bool(sources))
            if isinstance(verdict, Response):
                return verdict
            _, count, size = verdict
            width, height = picture_size(size, sources[0] if sources else None)
        if sources:
            blobs = [synth.edit(sources[0], payload["prompt"], width, height, None, "png", i) for i in range(count)]
        else:
            blobs = [synth.generate(payload["prompt"], width, height, "png", i) for i in range(count)]
        cost = self._bill(model, n)
        as_url = payload.get("outputFileType") == "url"
        items = [
            {"type": "url", "url": self._link(b), "mimeType": "image/png"}
            if as_url
            else {"type": "file", "data": b64encode(b), "mimeType": "image/png"}
            for b in blobs
        ]
        tokens = token_usage(payload["prompt"], len(sources), len(blobs))  # as OpenAI counts them
        usage = {
            "inputTokens": tokens["input_tokens"],
            "outputTokens": tokens["output_tokens"],
            "aigneHubCredits": cost,
            "creditPrefix": "",
        }
        return Response.json({"images": items, "usage": usage, "model": name, "modelWithProvider": model})

    def _source(self, item: dict):
        if item["type"] != "file":
            return self.upstream_error(400, "Failed to fetch the image from the URL (the emulator is offline)")
        opened = synth.open_data_url(f"data:{item.get('mimeType') or 'image/png'};base64,{item['data']}")
        if opened is None:
            return self.upstream_error(400, "Invalid image file or mode for image 1, please check your image file.")
        return opened[1]


def _is_file_content(item) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("type") == "file":
        return isinstance(item.get("data"), str)
    if item.get("type") == "url":
        return isinstance(item.get("url"), str)
    return item.get("type") == "local" and isinstance(item.get("path"), str)


EMULATOR = Emulator(AigneHubAPI)

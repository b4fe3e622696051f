"""AIGNE Hub emulator, strict to PROVIDERS.md section 2.

Serves the seed's path and the hub code's paths. Which reply shape a path gives is switchable:
by default the seed's path answers in the seed's shape (``{created, data}``) and the v2 paths in
the hub code's shape (``{images, data, model, usage}``, base64 under three names). ``url``
results are files this server serves itself, like an upstream CDN: their downloads are recorded
with whether they carried an Authorization header, and ``expire_links()`` makes them answer 403.
"""

from __future__ import annotations

import threading
import time
import uuid


from ..core.payloads import b64encode
from . import synth
from .server import App, Request, Response

SEED_PATH = "/api/images/generations"
HUB_PATHS = ("/api/v2/image/generations", "/api/v2/images/generations")
B64_KEYS = ("base64", "b64_json", "b64Json")
MAX_BODY_BYTES = 30 * 1024 * 1024

# OpenAI's per-model rules, which the hub passes on as upstream errors.
SIZES = {
    "dall-e-2": ["256x256", "512x512", "1024x1024"],
    "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
    "gpt-image-1": ["1024x1024", "1536x1024", "1024x1536", "auto"],
}
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32000}
MODELS = {  # bare name -> credits per image
    "dall-e-2": 2.0,
    "dall-e-3": 4.0,
    "gpt-image-1": 6.0,
    "gemini-2.5-flash-image": 3.0,
}
CREDIT_MESSAGE = "Hello, in order to continue chatting, please first buy some credits in the link below."


class AigneHubApp(App):
    name = "aigne"

    def __init__(self, key: str = "fake-aigne-key", *, credits: float = 1000.0):
        super().__init__()
        self.key = key
        self.credits = credits
        self.shape: str | None = None  # None: per path; "seed" or "hub" forces one shape everywhere
        self.b64_keys: tuple[str, ...] = B64_KEYS  # which base64 names the hub shape carries
        self.base64_for_url = False  # the hub shape answers base64 even when url was asked for
        self.files: dict[str, bytes] = {}
        self.expired: set[str] = set()
        self.downloads: list[dict] = []  # {"file": id, "authorization": bool}
        self._files_lock = threading.Lock()
        self.routes = {("POST", path): self.generations for path in (SEED_PATH, *HUB_PATHS)}

    # CustomError replies: {"error": "<string>"}
    def error(self, status: int, message: str) -> Response:
        return Response.json({"error": message}, status)

    @staticmethod
    def upstream_error(status: int, message: str) -> Response:
        """Failures from the upstream provider or the hub's internals: {"error": {"message": ...}}."""
        return Response.json({"error": {"message": message}}, status)

    def credit_error(self) -> Response:
        link = f"{self.base_url}/payment/checkout/pay/plink_emulator"
        error = {"message": f"{CREDIT_MESSAGE}\n{link}", "type": "NOT_ENOUGH", "link": link}
        return Response.json({"error": error}, 402)

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path.startswith("/files/"):
            return self.download(request)
        if request.bearer != self.key:
            return self.error(401, "User not authenticated")
        return super().handle(request)

    # ---- result links, served like an upstream CDN (no hub key needed; they expire)

    def expire_links(self) -> None:
        with self._files_lock:
            self.expired |= set(self.files)

    def download(self, request: Request) -> Response:
        file_id = request.path[len("/files/"):].rsplit(".", 1)[0]
        with self._files_lock:
            self.downloads.append({"file": file_id, "authorization": "authorization" in request.headers})
            data = self.files.get(file_id)
            expired = file_id in self.expired
        if data is None:
            body = b'<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>'
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

    # ---- the image call

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

    def _upstream_checks(self, bare: str, body: dict, n: int, size: str) -> Response | None:
        """What OpenAI refuses and the hub passes on."""
        limit, length = PROMPT_LIMITS.get(bare), len(body["prompt"])
        if limit and length > limit:
            return self.upstream_error(
                400, f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but got a string with length {length} instead."
            )
        allowed = SIZES.get(bare)
        if allowed and size not in allowed:
            return self.upstream_error(400, f"'{size}' is not one of {allowed} - 'size'")
        if bare == "dall-e-3" and n != 1:
            return self.upstream_error(400, "You must provide n=1 for this model.")
        for name, values in (("quality", ["standard", "hd"]), ("style", ["vivid", "natural"])):
            if name in body and body[name] not in values:
                return self.upstream_error(400, f"'{body[name]}' is not one of {values} - '{name}'")
        if body.get("style") is not None and bare != "dall-e-3":
            return self.upstream_error(400, "The 'style' parameter is only supported for dall-e-3.")
        if body.get("response_format", "url") not in ("url", "b64_json"):
            return self.upstream_error(400, f"'{body['response_format']}' is not one of ['url', 'b64_json'] - 'response_format'")
        return None

    def generations(self, request: Request) -> Response:
        if len(request.body) > MAX_BODY_BYTES:
            return self.error(413, "request entity too large")
        if self.credits <= 0:
            return self.credit_error()
        # express.json() leaves the body empty unless it is JSON
        body = request.json() if request.headers.get("content-type", "").startswith("application/json") else {}
        if not isinstance(body, dict):
            return self.error(400, '"value" must be of type object')
        refused = self._validate(body)
        if refused:
            return refused
        model = body.get("model") or "dall-e-2"
        bare = model.split("/", 1)[1] if "/" in model else model
        if bare not in MODELS:
            return self.error(400, f"Model {model} is not available")
        n = int(body.get("n") or 1)
        size = body.get("size") or "1024x1024"
        refused = self._upstream_checks(bare, body, n, size)
        if refused:
            return refused
        source = None
        image = body.get("image")
        if model == "gpt-image-1" and image:  # the hub's exact test: other names ignore the images
            source = self._load(image[0] if isinstance(image, list) else image)
            if isinstance(source, Response):
                return source
        width, height = self._pixels(size, source)
        if source is None:
            blobs = [synth.generate(body["prompt"], width, height, "png", i) for i in range(n)]
        else:
            blobs = [synth.edit(source, body["prompt"], width, height, None, "png", i) for i in range(n)]
        cost = MODELS[bare] * n * (2 if body.get("quality") == "hd" else 1)
        self.credits -= cost
        return Response.json(self._reply(request.path, bare, body.get("response_format", "url"), blobs, cost))

    def _load(self, value: str):
        if value.startswith(("http://", "https://")):
            return self.upstream_error(400, "Failed to fetch the image from the URL (the emulator is offline)")
        if not value.startswith("data:"):
            return self.upstream_error(500, "Invalid URL")  # bare base64 fails in the hub's code
        opened = synth.open_data_url(value)
        if opened is None:
            return self.upstream_error(400, "Invalid image file or mode for image 1, please check your image file.")
        return opened[1]

    @staticmethod
    def _pixels(size: str, source) -> tuple[int, int]:
        if size == "auto":
            if source is None:
                return 1024, 1024
            aspect = source.size[0] / source.size[1]
            return (1536, 1024) if aspect > 1.2 else (1024, 1536) if aspect < 1 / 1.2 else (1024, 1024)
        width, _, height = size.partition("x")
        return int(width), int(height)

    def _reply(self, path: str, bare: str, response_format: str, blobs: list[bytes], cost: float) -> dict:
        shape = self.shape or ("seed" if path == SEED_PATH else "hub")
        # Google's models always answer base64; gpt-image-1 has no links either
        as_url = response_format == "url" and bare in ("dall-e-2", "dall-e-3")
        if shape == "seed":
            items = [{"url": self._link(b)} if as_url else {"b64_json": b64encode(b)} for b in blobs]
            return {"created": int(time.time()), "data": items}
        if self.base64_for_url:
            as_url = False
        items = []
        for blob in blobs:
            if as_url:
                items.append({"url": self._link(blob)})
            else:
                encoded = b64encode(blob)
                items.append({key: encoded for key in self.b64_keys})
        return {"images": items, "data": items, "model": bare, "usage": {"aigneHubCredits": cost}}

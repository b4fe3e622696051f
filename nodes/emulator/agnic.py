"""Agnic AI Gateway emulator, strict to docs/providers.md section 3 (OpenRouter-style chat completions).

Knobs a test (or the demo) can turn besides the base class's fault injection:
- ``models_shape``: "openrouter" (entries with ``architecture.output_modalities``) or "openai"
  (plain ``{"object": "list", "data": [{"id": ...}]}``): Agnic's docs show both.
- ``image_format``: force png/jpeg/webp for every reply (default: each model's own format).
- ``refuse(times, text, finish_reason)``: the next calls answer 200 with words and no image, as a
  model that declines does; a prompt containing ``[refuse]`` does the same.
- ``credits``: a balance in USD (None = unlimited); a call that costs more gets 402.
- ``gone``: ids the gateway answers with "not a valid model ID" besides the ones it never had
  and those shut down by the day it plays (``SHUT_DOWN``, read from the pack's clock);
  ``still_routes``: shut-down ids it keeps routing.
- ``flagged_words``: prompts containing one get OpenRouter's 403 moderation error.
"""

from __future__ import annotations

import datetime
import math
import threading
import time
import uuid

from ..core import clock
from ..core.payloads import b64encode
from . import Emulator, fake_key, synth
from .server import EmulatedAPI, Request, Response

# Written out again, not imported from the client: the emulator is an independent reading of the
# contract (as of 2026-12-06), so a wrong table on either side makes the resolution tests fail.
ASPECT_RATIOS = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "9:16": (768, 1344),
    "4:3": (1184, 864),
    "3:2": (1248, 832),
    "2:3": (832, 1248),
    "3:4": (864, 1184),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "21:9": (1536, 672),
}
EXTREME_RATIOS = {
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}  # Gemini 3.1 Flash Image only
IMAGE_SIZE_SCALE = {"0.5K": 0.5, "1K": 1, "2K": 2, "4K": 4}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
PRICE_PER_IMAGE = 0.04
CREATED = 1735689600

_GEMINI = (["text", "image"], ["image", "text"], "png", "Google AI Studio")
# id -> (input modalities, output modalities, reply format, upstream provider, image sizes it takes (others are
# refused; none: it ignores image_size), whether it draws the extreme ratios 1:4, 4:1, 1:8 and 8:1)
MODELS = {
    "google/gemini-nano-banana-2.1": (*_GEMINI, ["1K", "2K", "4K"], True),
    "google/gemini-3-pro-image": (*_GEMINI, ["1K", "2K", "4K"], False),
    "google/gemini-3.1-flash-lite-image": (*_GEMINI, ["1K"], False),
    "google/gemini-3.1-flash-image": (*_GEMINI, ["0.5K", "1K", "2K", "4K"], True),
    "google/gemini-3.1-flash-image-preview": (*_GEMINI, ["0.5K", "1K", "2K", "4K"], True),
    "google/gemini-3-pro-image-preview": (*_GEMINI, ["1K", "2K", "4K"], False),
    "google/gemini-2.5-flash-image": (["text", "image"], ["image", "text"], "png", "Google Vertex", [], False),
    "openai/gpt-5-image": (["text", "image"], ["image", "text"], "webp", "OpenAI", [], False),
    "openai/gpt-5-image-mini": (["text", "image"], ["image", "text"], "webp", "OpenAI", [], False),
    "black-forest-labs/flux.2-pro": (["text", "image"], ["image"], "jpeg", "Black Forest Labs", [], False),
    "black-forest-labs/flux.2-max": (["text", "image"], ["image"], "jpeg", "Black Forest Labs", [], False),
    "black-forest-labs/flux.2-klein-4b": (["text", "image"], ["image"], "jpeg", "Black Forest Labs", [], False),
    "sourceful/riverflow-image-only": (["text", "image"], ["image"], "png", "Sourceful", [], False),
    "openai/gpt-4o-mini": (["text", "image"], ["text"], "", "OpenAI", [], False),
    "anthropic/claude-sonnet-4.5": (["text", "image"], ["text"], "", "Anthropic", [], False),
}
# Google's shut-down ids: from that day the gateway no longer knows them
SHUT_DOWN = {
    "google/gemini-3.1-flash-image-preview": datetime.date(2026, 6, 25),
    "google/gemini-3-pro-image-preview": datetime.date(2026, 6, 25),
    "google/gemini-2.5-flash-image": datetime.date(2026, 10, 2),
    "google/gemini-3.1-flash-image": datetime.date(2026, 10, 29),
}


class AgnicAPI(EmulatedAPI):
    name = "agnic"

    def __init__(self, token: str = fake_key(name)):
        super().__init__()
        self.token = token
        self.models_shape = "openrouter"
        self.image_format: str | None = None
        self.credits: float | None = None
        self.flagged_words: set[str] = {"forbidden-topic"}
        self.gone: set[str] = set()  # a test may add an id to play a gateway that dropped it
        self.still_routes: set[str] = set()  # ids shut down upstream that this gateway still routes
        self._refusals: list[tuple[str, str]] = []
        self._state_lock = threading.Lock()
        self.routes = {
            ("GET", "/v1/models"): self.models,
            ("POST", "/v1/chat/completions"): self.chat,
        }

    # ---- envelopes

    def error(self, status: int, message: str, metadata: dict | None = None) -> Response:
        if status == 401:  # Agnic's own shape, not OpenRouter's
            return Response.json(
                {"error": "invalid_token", "error_description": message, "message": "Authentication failed"}, 401
            )
        error = {"code": status, "message": message}
        if metadata is not None:
            error["metadata"] = metadata
        response = Response.json({"error": error}, status)
        if status == 429:  # OpenRouter's headers; the reset is in epoch milliseconds
            response.headers.update(
                {
                    "X-RateLimit-Limit": "20",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time() * 1000) + 1000),
                }
            )
        return response

    def handle(self, request: Request) -> Response:
        token = request.bearer or request.headers.get("x-agnic-token")
        if token != self.token:
            return self.error(401, "Invalid or missing API token")
        return super().handle(request)

    def refuse(
        self,
        times: int = 1,
        text: str = "I can't create that image, but I can describe it in words.",
        finish_reason: str = "stop",
    ) -> None:
        with self._state_lock:
            self._refusals += [(text, finish_reason)] * times

    # ---- /models

    def served(self) -> list[str]:
        """The ids the gateway serves on the day it plays."""
        today = clock.today()
        shut = {m for m, day in SHUT_DOWN.items() if day <= today} - self.still_routes
        return [m for m in MODELS if m not in self.gone | shut]

    def models(self, request: Request) -> Response:
        served = self.served()
        if self.models_shape == "openai":
            data = [{"id": m, "object": "model", "created": CREATED, "owned_by": m.split("/")[0]} for m in served]
            return Response.json({"object": "list", "data": data})
        data = [self._openrouter_entry(model) for model in served]
        return Response.json({"data": data, "total_count": len(data), "links": {"next": None}})

    @staticmethod
    def _openrouter_entry(model: str) -> dict:
        inputs, outputs = MODELS[model][:2]
        return {
            "id": model,
            "canonical_slug": model,
            "name": model.split("/")[1],
            "created": CREATED,
            "description": "",
            "context_length": 32768,
            "architecture": {
                "modality": f"{'+'.join(inputs)}->{'+'.join(outputs)}",
                "input_modalities": inputs,
                "output_modalities": outputs,
                "tokenizer": "Other",
                "instruct_type": None,
            },
            "pricing": {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.04", "request": "0"},
            "top_provider": {"context_length": 32768, "max_completion_tokens": 8192, "is_moderated": False},
            "per_request_limits": None,
            "supported_parameters": ["max_tokens", "seed", "temperature"],
            "default_parameters": None,
            "supported_voices": None,
            "links": {"details": f"/api/v1/models/{model}/endpoints"},
        }

    # ---- /chat/completions

    def chat(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.error(400, "Content-Type must be application/json")
        body = request.json()
        if not isinstance(body, dict):
            return self.error(400, "Invalid JSON body")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self.error(400, "No models provided")
        if model not in self.served():
            return self.error(400, f"{model} is not a valid model ID")
        row = model
        if body.get("stream"):
            return self.error(400, "stream: streaming is not emulated")
        parsed = self._messages(body.get("messages"))
        if isinstance(parsed, Response):
            return parsed
        prompt, pictures = parsed
        inputs, outputs, own_format, provider = MODELS[row][:4]
        modalities = body.get("modalities", ["text"])
        if (
            not isinstance(modalities, list)
            or not modalities
            or any(m not in ("text", "image", "audio") for m in modalities)
        ):
            return self.error(400, "modalities must be a non-empty list of 'text', 'image', 'audio'")
        if not set(modalities) <= set(outputs):
            return self.error(
                404, f"No endpoints found that support the requested output modalities: {', '.join(modalities)}"
            )
        if pictures and "image" not in inputs:
            return self.error(404, "No endpoints found that support image input")
        size = self._size(body, model, MODELS[row], pictures)
        if isinstance(size, Response):
            return size
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            return self.error(400, "seed must be an integer")
        flagged = [w for w in self.flagged_words if w in prompt.lower()]
        if flagged:
            metadata = {
                "reasons": ["violence"],
                "flagged_input": prompt[:100],
                "provider_name": provider,
                "model_slug": model,
            }
            return self.error(
                403, f'{model} requires moderation on {provider}. Your input was flagged for "violence"', metadata
            )
        refusal = self._take_refusal(prompt)
        if refusal or "image" not in modalities:
            text, reason = refusal or (f"Here is a description instead: {prompt[:80]}", "stop")
            return self._reply(model, provider, text, [], reason)
        if self.credits is not None:
            with self._state_lock:
                if self.credits < PRICE_PER_IMAGE:
                    return self.error(402, "Insufficient credits. Add more using https://app.agnic.ai/billing")
                self.credits -= PRICE_PER_IMAGE
        fmt = self.image_format or own_format
        width, height = size
        variant = (seed or 0) % 97
        if pictures:
            data = synth.edit(pictures[0], prompt, width, height, None, fmt, variant)
        else:
            data = synth.generate(prompt, width, height, fmt, variant)
        image = {"type": "image_url", "image_url": {"url": f"data:{MIME[fmt]};base64,{b64encode(data)}"}, "index": 0}
        text = "Here is your image." if "text" in modalities else None
        return self._reply(model, provider, text, [image], "stop")

    def _take_refusal(self, prompt: str) -> tuple[str, str] | None:
        with self._state_lock:
            if self._refusals:
                return self._refusals.pop(0)
        if "[refuse]" in prompt:
            return "I'm sorry, I can't help with that request.", "content_filter"
        return None

    def _messages(self, messages):
        """The user's words and pictures, or the 400 the gateway gives for a malformed message."""
        if not isinstance(messages, list) or not messages:
            return self.error(400, "messages: must be a non-empty array")
        words, pictures = [], []
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in (
                "system",
                "user",
                "assistant",
                "developer",
                "tool",
            ):
                return self.error(400, "messages: each message needs a valid role")
            content = message.get("content")
            if isinstance(content, str):
                words.append(content)
                continue
            if not isinstance(content, list):
                return self.error(400, "messages: content must be a string or an array of content parts")
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text" and isinstance(part.get("text"), str):
                    words.append(part["text"])
                elif (
                    kind == "image_url"
                    and isinstance(part.get("image_url"), dict)
                    and isinstance(part["image_url"].get("url"), str)
                ):
                    picture = self._picture(part["image_url"]["url"])
                    if isinstance(picture, Response):
                        return picture
                    pictures.append(picture)
                else:
                    return self.error(400, f"messages: unsupported content part {kind!r}")
        return " ".join(words), pictures

    def _picture(self, url: str):
        if url.startswith(("http://", "https://")):
            return self.error(400, "image_url: could not fetch the image (the emulator is offline)")
        opened = synth.open_data_url(url)
        if opened is None:
            return self.error(400, "image_url: invalid image data URL")
        mime, picture = opened
        if not mime.startswith("image/"):
            return self.error(400, f"image_url: unsupported MIME type {mime!r}")
        return picture

    def _size(self, body: dict, model: str, row: tuple, pictures: list):
        config = body.get("image_config", {})
        if not isinstance(config, dict):
            return self.error(400, "image_config must be an object")
        ratio = config.get("aspect_ratio")
        if ratio is None:
            ratio = self._nearest_ratio(*pictures[0].size) if pictures else "1:1"
        sizes, extreme = row[4], row[5]
        if ratio in EXTREME_RATIOS and extreme:  # only Gemini 3.1 Flash Image and Nano Banana 2.1 draw these
            width, height = EXTREME_RATIOS[ratio]
        elif ratio in ASPECT_RATIOS:
            width, height = ASPECT_RATIOS[ratio]
        else:
            metadata = {"provider_name": row[3], "raw": f"aspect ratio {ratio} is not supported by this model"}
            return self.error(
                400,
                f"Provider returned error: image_config.aspect_ratio {ratio!r} is not supported by {model}",
                metadata,
            )
        size = config.get("image_size", "1K")
        if size not in IMAGE_SIZE_SCALE:
            return self.error(400, f"image_config.image_size {size!r} is not supported; use 0.5K, 1K, 2K or 4K")
        if sizes and size not in sizes:
            metadata = {"provider_name": row[3], "raw": f"image size {size} is not supported by this model"}
            return self.error(
                400, f"Provider returned error: image_config.image_size {size!r} is not supported by {model}", metadata
            )
        scale = IMAGE_SIZE_SCALE[size] if size in sizes else 1  # models without it ignore it
        return int(width * scale), int(height * scale)

    @staticmethod
    def _nearest_ratio(width: int, height: int) -> str:
        return min(
            ASPECT_RATIOS,
            key=lambda r: abs(math.log(ASPECT_RATIOS[r][0] / ASPECT_RATIOS[r][1]) - math.log(width / height)),
        )

    @staticmethod
    def _reply(model: str, provider: str, text, images: list, finish_reason: str) -> Response:
        message = {"role": "assistant", "content": text, "refusal": None, "reasoning": None}
        if images:
            message["images"] = images
        native = {"stop": "STOP", "content_filter": "PROHIBITED_CONTENT"}.get(finish_reason, finish_reason.upper())
        usage = {
            "prompt_tokens": 12,
            "completion_tokens": 1290 * len(images) + 8,
            "total_tokens": 12 + 1290 * len(images) + 8,
        }
        return Response.json(
            {
                "id": f"gen-{uuid.uuid4().hex[:24]}",
                "provider": provider,
                "model": model,
                "object": "chat.completion",
                "created": int(time.time()),
                "system_fingerprint": None,
                "choices": [
                    {
                        "logprobs": None,
                        "finish_reason": finish_reason,
                        "native_finish_reason": native,
                        "index": 0,
                        "message": message,
                    }
                ],
                "usage": usage,
            }
        )


EMULATOR = Emulator(AgnicAPI, base_path="/v1")

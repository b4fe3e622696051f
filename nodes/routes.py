"""The pack's routes in ComfyUI's server (ComfyUI mirrors them under /api):

- GET /hosted_images/models/{provider}: the provider's live image models, fetched with the key
  held on the server, cached for a few minutes; errors come back as {"error": message}.
- GET /hosted_images/keys: for every provider, whether a key is configured and from where --
  never the key itself.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .core import comfy
from .core.credentials import key_status
from .core.errors import RemoteImageError

log = logging.getLogger("hosted_images")

PREFIX = "/hosted_images"
CACHE_SECONDS = 300
_cache: dict[str, tuple[float, list[str]]] = {}


def model_list(provider: str, model_lists: dict, *, refresh: bool = False) -> tuple[int, dict]:
    """(HTTP status, JSON body) for the model route; blocking (run it in a thread)."""
    fetch = model_lists.get(provider)
    if fetch is None:
        return 404, {"error": f"unknown provider {provider!r}; known: {', '.join(sorted(model_lists))}"}
    cached = _cache.get(provider)
    if cached and not refresh and time.monotonic() - cached[0] < CACHE_SECONDS:
        return 200, {"provider": provider, "models": cached[1], "cached": True}
    try:
        with comfy.outside_prompt():
            models = fetch()
    except RemoteImageError as exc:
        return (502 if exc.status else 400), {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 -- the UI gets a message, the log the details
        log.exception("model list for %s failed", provider)
        return 500, {"error": f"{type(exc).__name__}: {exc}"}
    _cache[provider] = (time.monotonic(), models)
    return 200, {"provider": provider, "models": models, "cached": False}


def key_statuses(providers: dict) -> dict:
    return {provider_id: {"label": provider.label, "variable": provider.key_env, **key_status(provider)} for provider_id, provider in providers.items()}


def register(model_lists: dict, providers: dict) -> bool:
    """Add the routes to the running ComfyUI server; False outside ComfyUI."""
    routes = comfy.prompt_server_routes()
    if routes is None:
        return False
    from aiohttp import web

    @routes.get(PREFIX + "/models/{provider}")
    async def models_route(request):
        refresh = request.query.get("refresh") in ("1", "true")
        status, body = await asyncio.to_thread(model_list, request.match_info["provider"], model_lists, refresh=refresh)
        return web.json_response(body, status=status)

    @routes.get(PREFIX + "/keys")
    async def keys_route(request):
        return web.json_response(await asyncio.to_thread(key_statuses, providers))

    return True

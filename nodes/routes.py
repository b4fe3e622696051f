"""The pack's routes in ComfyUI's server (ComfyUI mirrors them under /api):

- GET /hosted_images/models/{provider}?operation=generate|edit[&refresh=1][&base_url=…&api_key_env=…]:
  the provider's live image models that can do the operation, fetched with the key held on the
  server (a node's own base_url and api_key_env where the provider has them, under the same
  key-destination rule as the node). Lists are cached for a few minutes, and a provider is asked
  at most once every few seconds whatever ``refresh`` says. Errors come back as {"error": message}.
- GET /hosted_images/keys: for every provider, whether a key is configured and from where, and
  which endpoint it calls -- never a key, never an absolute path.
- GET /hosted_images/search_aliases: every node's SEARCH_ALIASES, for ComfyUI versions whose
  /object_info does not carry them yet.
- GET /hosted_images/spend: per provider, today's calls, images and the usage providers reported
  (credits, cost, tokens), and the daily limits set -- from the spend journal; no key, no prompt,
  no path.
- GET /hosted_images/unsaved: the newest folders of paid results that failed or cancelled nodes
  saved, so a user who cancelled finds them.
- GET /hosted_images/doctor: the doctor's report (``nodes/doctor.py``): endpoints, keys, what
  ``auto`` becomes, the example workflows' models, the catalogues' age -- free calls only.

Each route answers only the ComfyUI page itself and clients outside a browser: a request a web
page on another site (or a DNS-rebound name) makes is refused with 403.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import platform
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from . import doctor
from .common import recent_unsaved
from .core import comfy, spend
from .core.credentials import CREDENTIALS_ENV, base_url, credentials_path, is_loopback_host, key_status
from .core.errors import InputError, RemoteImageError
from .core.validation import MAX_LISTED_MODELS, listable_model_ids

log = logging.getLogger("hosted_images")

PREFIX = "/hosted_images"
OPERATIONS = ("generate", "edit")
CACHE_SECONDS = 300
REFRESH_INTERVAL_SECONDS = 5.0  # at most one live fetch per provider in this time; the rest get the cache
SERVER_NAMES_ENV = "HOSTED_IMAGES_SERVER_NAMES"

_cache: dict[tuple, tuple[float, list[str], int]] = {}  # (provider, connection) -> (fetched at, ids, dropped)
_last_fetch: dict[str, float] = {}  # provider -> when its last live fetch started
_provider_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


# --- what a response may show ------------------------------------------------------------------


def _credentials_file_name() -> str:
    """The credentials file as users may see it: home-relative, else the variable that names it."""
    path = credentials_path()
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return f"the file named by {CREDENTIALS_ENV}"


def without_paths(text: str) -> str:
    """``text`` with no absolute path of this machine: any browser on the network may read it."""
    if not text:
        return text
    text = text.replace(str(credentials_path()), _credentials_file_name())
    home = str(Path.home())
    if len(home) > 1:
        text = text.replace(home + os.sep, "~/").replace(home, "~")
    return text


# --- who may ask ---------------------------------------------------------------------------------


def server_names() -> set[str]:
    """Host names (besides IP addresses) by which a browser may address this server."""
    names = {"localhost", platform.node().lower()}  # the machine's name; no DNS lookup, which can take seconds
    names |= {n.strip().lower() for n in os.environ.get(SERVER_NAMES_ENV, "").split(",") if n.strip()}
    return names


def _host_and_port(netloc: str) -> tuple[str, int | None]:
    """(host, port) of a Host header or a URL's netloc; the default ports count as none."""
    parts = urlsplit(f"//{netloc}")
    port = parts.port  # ValueError for a malformed port
    return (parts.hostname or "").lower(), None if port in (80, 443) else port


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def cross_site_refusal(headers: Mapping[str, str], names: set[str]) -> str:
    """Why a request must be refused as cross-site, or '' when it comes from ComfyUI's own page or
    from a client outside a browser.

    Browsers always send Host and, for another site's page, say so in Sec-Fetch-Site, Origin or
    Referer (a plain GET may carry none of Origin and Referer). A page on a name the attacker
    points at this machine (DNS rebinding) looks same-origin, so a Host that is a name must be one
    of this server's names; an IP address in Host cannot be rebound.
    """
    host = (headers.get("Host") or "").strip()
    if not host:
        return "the request names no Host"
    try:
        own = _host_and_port(host)
    except ValueError:
        return "the request's Host is malformed"
    if not own[0] or not (_is_ip_address(own[0]) or own[0] in names):
        return (
            f"the request was addressed to {own[0] or host!r}, which is not a name of this server "
            f"(if browsers reach ComfyUI by that name, add it to {SERVER_NAMES_ENV})"
        )
    site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site and site not in ("same-origin", "none"):
        return f"the browser marked the request as {site}"
    for header in ("Origin", "Referer"):
        value = headers.get(header)
        if value is None:
            continue
        netloc = urlsplit(value.strip()).netloc
        try:
            theirs = _host_and_port(netloc)
        except ValueError:
            theirs = ("", None)
        if not netloc or theirs != own:
            return f"its {header} is another site"
    return ""


# --- live model lists ----------------------------------------------------------------------------


def _provider_lock(provider: str) -> threading.Lock:
    with _locks_lock:
        return _provider_locks.setdefault(provider, threading.Lock())


def model_list(
    provider: str,
    model_lists: dict,
    *,
    operation: str = "generate",
    refresh: bool = False,
    connection: Mapping[str, str] | None = None,
) -> tuple[int, dict]:
    """(HTTP status, JSON body) for the model route; blocking (run it in a thread)."""
    source = model_lists.get(provider)
    if source is None:
        return 404, {"error": f"unknown provider {provider!r}; known: {', '.join(sorted(model_lists))}"}
    label = source.label
    if operation not in OPERATIONS:
        return 400, {"label": label, "error": f"operation must be one of {', '.join(OPERATIONS)}, not {operation!r}"}
    passed = {name: str(value) for name, value in (connection or {}).items() if name in source.connection}
    key = (provider, tuple(sorted(passed.items())))
    with _provider_lock(provider):  # one live fetch of a provider at a time; the others wait for it
        now = time.monotonic()
        cached = _cache.get(key)
        age = now - cached[0] if cached else float("inf")
        if cached and (age < REFRESH_INTERVAL_SECONDS or (not refresh and age < CACHE_SECONDS)):
            models = source.for_operation(cached[1], operation)
            return 200, _reply(provider, label, operation, models, cached=True, dropped=cached[2])
        wait = REFRESH_INTERVAL_SECONDS - (now - _last_fetch.get(provider, float("-inf")))
        if wait > 0:
            return 429, {
                "label": label,
                "retry_after": round(wait, 1),
                "error": f"{label}'s models were fetched a moment ago; try again in {wait:.0f} s",
            }
        _last_fetch[provider] = now
        try:
            with comfy.outside_prompt():
                ids = source.fetch(**passed)
        except RemoteImageError as exc:
            return (502 if exc.status else 400), {"label": label, "error": without_paths(str(exc))}
        except Exception as exc:  # noqa: BLE001 -- the UI gets a message, the log the details
            log.exception("model list for %s failed", provider)
            return 500, {"label": label, "error": without_paths(f"{type(exc).__name__}: {exc}")}
        ids, dropped = listable_model_ids(ids)  # what a server sends reaches the page only as plain ids
        if dropped:
            log.warning(
                "%s's model list: %d ids that are not plain model ids (or beyond %d) were dropped",
                label,
                dropped,
                MAX_LISTED_MODELS,
            )
        _cache[key] = (time.monotonic(), ids, dropped)
    return 200, _reply(provider, label, operation, source.for_operation(ids, operation), cached=False, dropped=dropped)


def _reply(provider: str, label: str, operation: str, models: list[str], *, cached: bool, dropped: int = 0) -> dict:
    reply = {"provider": provider, "label": label, "operation": operation, "models": models, "cached": cached}
    if dropped:
        reply["dropped"] = dropped
    return reply


# --- key status ------------------------------------------------------------------------------------


def endpoint_of(provider) -> dict:
    """Which host a provider's calls go to (scheme, host and port only), or why there is none."""
    try:
        parts = urlsplit(base_url(provider))
    except InputError as exc:
        return {"host": "", "error": without_paths(exc.message)}
    except RemoteImageError:
        return {"host": "", "error": f"none configured: set {provider.base_url_env}"}
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    if parts.port:
        shown += f":{parts.port}"
    return {"host": f"{parts.scheme}://{shown}", "local": is_loopback_host(host)}


def key_statuses(providers: dict) -> dict:
    statuses = {}
    for provider_id, provider in providers.items():
        status = key_status(provider)
        status = {name: without_paths(value) if isinstance(value, str) else value for name, value in status.items()}
        statuses[provider_id] = {
            "label": provider.label,
            "variable": provider.key_env,
            **status,
            "endpoint": endpoint_of(provider),
        }
    return statuses


def search_aliases(node_classes: dict) -> dict:
    return {node_id: list(getattr(cls, "SEARCH_ALIASES", ())) for node_id, cls in node_classes.items()}


# --- ComfyUI's server --------------------------------------------------------------------------------


def register(model_lists: dict, providers: dict, node_classes: dict) -> bool:
    """Add the routes to the running ComfyUI server; False outside ComfyUI."""
    routes = comfy.prompt_server_routes()
    if routes is None:
        return False
    from aiohttp import web

    def same_site_get(path: str):
        """Register a GET route of the pack: it answers only requests from ComfyUI's own page."""

        def register_route(handler):
            @routes.get(PREFIX + path)
            async def guarded(request):
                reason = cross_site_refusal(request.headers, server_names())
                if reason:
                    log.warning("refused %s %s: %s", request.method, request.path, reason)
                    return web.json_response({"error": f"refused: {reason}"}, status=403)
                return await handler(request)

            return guarded

        return register_route

    @same_site_get("/models/{provider}")
    async def models_route(request):
        query = request.query
        status, body = await asyncio.to_thread(
            model_list,
            request.match_info["provider"],
            model_lists,
            operation=query.get("operation", "generate"),
            refresh=query.get("refresh") in ("1", "true"),
            connection={name: value for name, value in query.items() if name not in ("operation", "refresh")},
        )
        return web.json_response(body, status=status)

    @same_site_get("/keys")
    async def keys_route(request):
        return web.json_response(await asyncio.to_thread(key_statuses, providers))

    @same_site_get("/spend")
    async def spend_route(request):
        return web.json_response(await asyncio.to_thread(spend.spend_today, providers))

    @same_site_get("/unsaved")
    async def unsaved_route(request):
        return web.json_response({"folders": await asyncio.to_thread(recent_unsaved)})

    @same_site_get("/doctor")
    async def doctor_route(request):
        def report() -> dict:
            with comfy.outside_prompt():
                found = doctor.check(providers, model_lists, node_classes)
            for provider in found["providers"]:
                for finding in provider["findings"]:
                    finding["text"] = without_paths(finding["text"])
            return found

        return web.json_response(await asyncio.to_thread(report))

    @same_site_get("/search_aliases")
    async def search_aliases_route(request):
        return web.json_response(search_aliases(node_classes))

    return True

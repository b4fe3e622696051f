"""One row per provider: how to run its node minimally against its local server.

Shared by the fault matrix, the bad-input, key and load tests. A fresh emulator app is mounted
per test on one module-wide server (``mount``), with the environment pointing at it.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from conftest import FAKE_KEYS, defaults, load_pack, mod, run_node

server_mod = mod("nodes.emulator.server")
payloads = mod("nodes.core.payloads")
errors = mod("nodes.core.errors")


@dataclass
class Target:
    name: str  # the provider's modules are named after it
    operation: str  # the operation the minimal call performs, as messages name it
    model: str  # the node's default model
    api_path: str  # the part of the request path that marks the image call
    run: Callable[..., tuple]  # run(**overrides): the node's outputs
    run_edit: Callable[..., tuple] | None = None  # the node that takes IMAGE inputs, if any
    raw_bytes: bool = False  # the reply is the image file itself, not JSON with base64
    run_with_links: Callable[..., tuple] | None = None  # results come back as URLs
    link_model: str = ""  # the model run_with_links uses (one that answers with links)
    no_links: str = ""  # why there is no run_with_links
    no_images: Callable[[Any], Any] | None = None  # rewrites a success reply to hold no image
    trace_ids: bool = False  # every reply carries a trace/request id header
    app: Callable[[], Any] | None = (
        None  # makes the emulator app the tests mount; None: the provider's emulator as it comes
    )
    extra: dict = field(default_factory=dict)

    @property
    def provider_id(self) -> str:
        """The registered provider this row is for (the emulator's declaration names it)."""
        return self.emulator.api.name

    @property
    def emulator(self):
        """The provider's emulator declaration, which knows its descriptor (variables, label)."""
        return mod(f"nodes.emulator.{self.name}").EMULATOR

    @property
    def label(self) -> str:
        """The provider as messages name it."""
        return self.emulator.provider.label

    @property
    def key_env(self) -> str:
        return self.emulator.provider.key_env

    @property
    def base_url_env(self) -> str:
        return self.emulator.provider.base_url_env

    def env(self, url: str) -> dict:
        """The variables that point the pack at the emulator app served at ``url``."""
        return self.emulator.environment(url)

    def make_app(self):
        """A fresh emulator app of this provider, accepting its fake key."""
        return (self.app or self.emulator.api)()


def key(target: Target) -> str:
    return FAKE_KEYS[target.key_env]


def picture(width: int = 64, height: int = 64, batch: int = 1, value: float = 0.0) -> torch.Tensor:
    return torch.full((batch, height, width, 3), value)


# --- the five providers -------------------------------------------------------------------------


def _ionos_app():
    emulator = mod("nodes.emulator.ionos")
    app = emulator.IonosAPI()
    app.bucket = emulator.ImageBucket(per_minute=1e6, burst=1e6)  # tests that want 429s inject them
    return app


def node(name: str):
    return load_pack().NODE_CLASS_MAPPINGS[f"HostedImages_{name}"]


def run_defaults(name: str, **inputs):
    """Run a node with every input at its default but those given."""
    return run_node(node(name), **defaults(node(name), **inputs))


# --- what the registered nodes are: every per-node list of the tests is made from these ----------


def node_ids() -> list[str]:
    """Every node the pack registers, in ComfyUI's order."""
    return list(load_pack().NODE_CLASS_MAPPINGS)


def input_kinds(node_id: str) -> dict[str, str]:
    """input name -> its type (IMAGE, MASK, INT, a combo as COMBO), required and optional."""
    return mod("nodes.common").input_kinds(load_pack().NODE_CLASS_MAPPINGS[node_id])


def image_nodes() -> list[str]:
    """The nodes that make images (every node but the model lists)."""
    return [n for n in node_ids() if "IMAGE" in load_pack().NODE_CLASS_MAPPINGS[n].RETURN_TYPES]


def with_string_output() -> list[str]:
    """The image nodes that also return text (``info``): what a key or a huge field could leak into."""
    return [n for n in image_nodes() if "STRING" in load_pack().NODE_CLASS_MAPPINGS[n].RETURN_TYPES]


def provider_of(node_id: str) -> str:
    return load_pack().NODE_CLASS_MAPPINGS[node_id].PROVIDER.id


def target_of(node_id: str) -> Target:
    """The provider-table row of a node's provider (a KeyError names a provider without one)."""
    return BY_PROVIDER[provider_of(node_id)]


def run_minimal(node_id: str, **overrides):
    """A node with only what a user must give (a prompt; an image to edit), the rest at its defaults."""
    given = {"prompt": "a red fox in the snow"}
    if input_kinds(node_id).get("image") == "IMAGE":
        given["image"] = picture()
    node_class = load_pack().NODE_CLASS_MAPPINGS[node_id]
    return run_node(node_class, **defaults(node_class, **{**given, **overrides}))


def provider_modules() -> dict:
    """provider id -> its module in nodes/providers/ (the one that registers its ``PROVIDER``)."""
    import pkgutil

    found = {}
    for info in pkgutil.iter_modules(mod("nodes.providers").__path__):
        module = mod(f"nodes.providers.{info.name}")
        provider = getattr(module, "PROVIDER", None)
        if provider is not None and provider.id not in found:
            found[provider.id] = module
    return found


def catalogue_of(provider_id: str):
    """The provider's catalogue, as its module holds it (``CATALOGUE``)."""
    return provider_modules()[provider_id].CATALOGUE


def registered_ids() -> list[str]:
    return [provider.id for provider in mod("nodes.core.provider").registered()]


def by_node(ids: list[str]) -> list:
    """pytest params of node ids, each test id the node's name without the pack's prefix."""
    return [pytest.param(n, id=n.removeprefix("HostedImages_")) for n in ids]


def ionos_generate(**overrides):
    """IONOS Image Generate at its defaults (FLUX.1-schnell, 1024x1024, n 1)."""
    return run_defaults("IonosImageGenerate", **{"prompt": "a fox", **overrides})


def outcome(run, **inputs):
    """The node's outputs, or the pack error it raised (anything else fails the test)."""
    try:
        return run(**inputs)
    except errors.RemoteImageError as exc:
        return exc


def _ionos_edit(**overrides):
    return run_defaults("IonosImageEdit", **{"image": picture(), "prompt": "paint it blue", **overrides})


def _aigne_generate(**overrides):
    return run_defaults("AigneHubImageGenerate", **{"prompt": "a red fox", **overrides})


def _aigne_edit(**overrides):
    return run_defaults("AigneHubImageEdit", **{"image": picture(), "prompt": "make it night", **overrides})


def _agnic_generate(**overrides):
    return run_defaults("AgnicImageGenerate", **{"prompt": "a red fox", **overrides})


def _agnic_edit(**overrides):
    return run_defaults("AgnicImageEdit", **{"image": picture(), "prompt": "make it autumn", **overrides})


def _agnic_no_images(reply):
    for choice in reply.get("choices", []):
        choice["message"].pop("images", None)
    return reply


def _ovh_generate(**overrides):
    return run_defaults("OvhSdxlTextToImage", **{"prompt": "a hippo in a suit", **overrides})


def _openai_generate(**overrides):
    return run_defaults("OpenAICompatImageGenerate", **{"prompt": "a red fox", **overrides})


def _openai_edit(**overrides):
    return run_defaults("OpenAICompatImageEdit", **{"image": picture(), "prompt": "add a hat", **overrides})


LOCAL_MODEL = "stable-diffusion-xl"  # a model of another OpenAI-compatible server


def _empty_data(reply):
    return {**reply, "data": []}


TARGETS = [
    Target(
        name="ionos",
        operation="image edit",
        model="black-forest-labs/FLUX.2-klein-4B",
        app=_ionos_app,
        api_path="/images/edits",
        run=_ionos_edit,
        run_edit=_ionos_edit,
        no_links="IONOS answers b64_json only (docs/providers.md section 1)",
        no_images=_empty_data,
        trace_ids=True,
    ),
    Target(
        name="aigne",
        operation="image generation",
        model="openai/gpt-image-2",
        api_path="/api/v2/image/generations",
        run=_aigne_generate,
        run_edit=_aigne_edit,
        # GPT image models answer base64; the hub's Ideogram model answers with links
        run_with_links=lambda **o: _aigne_generate(**{"model": "ideogram/ideogram-v3", "response_format": "url", **o}),
        link_model="ideogram/ideogram-v3",
        no_images=lambda reply: {**reply, "data": [], "images": []},  # the hub sends both lists
    ),
    Target(
        name="agnic",
        operation="image generation",
        model="google/gemini-nano-banana-2.1",
        api_path="/chat/completions",
        run=_agnic_generate,
        run_edit=_agnic_edit,
        no_links="Agnic returns images as data URLs inside the reply (docs/providers.md section 3)",
        no_images=_agnic_no_images,
    ),
    Target(
        name="ovh",
        operation="image generation",
        model="stable-diffusion-xl-base-1.0",
        api_path="/api/text2image",
        run=_ovh_generate,
        raw_bytes=True,
        no_links="OVH returns the image bytes themselves (docs/providers.md section 4)",
    ),
    Target(
        name="openai_compat",
        operation="image generation",
        model="gpt-image-2",
        app=lambda: mod("nodes.emulator.openai_compat").OpenAIAPI(extra_models=(LOCAL_MODEL,)),
        api_path="/images/generations",
        run=_openai_generate,
        run_edit=_openai_edit,
        # GPT image models answer base64; a model of another server (e.g. OVH's unified endpoint) may link
        run_with_links=lambda **o: _openai_generate(**{"model": LOCAL_MODEL, "response_format": "url", **o}),
        link_model=LOCAL_MODEL,
        no_images=_empty_data,
        trace_ids=True,
    ),
]
BY_NAME = {target.name: target for target in TARGETS}
BY_PROVIDER = {target.provider_id: target for target in TARGETS}
# parametrize lists, each test id the target's name
ALL = [pytest.param(t, id=t.name) for t in TARGETS]
WITH_LINKS = [pytest.param(t, id=t.name) for t in TARGETS if t.run_with_links]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slot_server():
    """One loopback server per test module; each test mounts a fresh app on it."""
    server = server_mod.EmulatorServer({"": server_mod.EmulatedAPI()}).start()
    yield server
    server.stop()


@pytest.fixture
def mount(slot_server, monkeypatch):
    """mount(target) -> a fresh emulator app serving at the root, the environment pointing at it."""

    def mount_target(target: Target):
        app = target.make_app()
        app.announces = False  # plays the real provider: its calls count in the spend journal
        app.base_url = slot_server.url
        slot_server.apps = {"": app}
        for name, value in target.env(slot_server.url).items():
            monkeypatch.setenv(name, value)
        return app

    return mount_target


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


# --- rewriting replies --------------------------------------------------------------------------


def _is_image_base64(text: str) -> bool:
    try:
        return len(text) > 64 and payloads.sniff_format(base64.b64decode(text[:24])) is not None
    except ValueError:
        return False


def map_payloads(value: Any, change: Callable[[str], str]) -> Any:
    """Apply ``change`` to every base64 image payload of a JSON reply, bare or inside a data URL."""
    if isinstance(value, dict):
        return {name: map_payloads(item, change) for name, item in value.items()}
    if isinstance(value, list):
        return [map_payloads(item, change) for item in value]
    if isinstance(value, str):
        head, sep, tail = value.partition(";base64,") if value.startswith("data:image/") else ("", "", value)
        if _is_image_base64(tail):
            return head + sep + change(tail)
    return value


def map_links(value: Any, change: Callable[[str], str]) -> Any:
    """Apply ``change`` to every http(s) link of a JSON reply."""
    if isinstance(value, dict):
        return {name: map_links(item, change) for name, item in value.items()}
    if isinstance(value, list):
        return [map_links(item, change) for item in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return change(value)
    return value


def with_file(data: bytes) -> Callable[[str], str]:
    """A payload change that swaps in other file bytes."""
    return lambda _: base64.b64encode(data).decode()


def downloads(app) -> list:
    """Requests for result links (both emulators serve them under /files/)."""
    return [r for r in app.requests if r.path.startswith("/files/")]


def api_calls(app, target: Target) -> list:
    return [r for r in app.requests if target.api_path in r.path]

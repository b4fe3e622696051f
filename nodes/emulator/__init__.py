"""Local emulators of every provider's API, for building and testing graphs without keys.

``python -m nodes.emulator`` serves them all on one loopback port and prints the environment
variables that point ComfyUI (or the demo) at it. Each emulator module declares what it emulates
(``EMULATOR``); the variables come from that provider's descriptor, while the API's behaviour is
the emulator's own (its tables are independent of the pack's, so a wrong catalogue fails the tests).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from ..core.provider import Provider, registered_provider
from .server import EmulatedAPI, EmulatorServer


def fake_key(provider_id: str) -> str:
    """The key an emulator accepts for a provider: obviously fake, never a real one's shape."""
    return f"fake-{provider_id}-key"


@dataclass(frozen=True)
class Emulator:
    """What an emulator module declares (``EMULATOR``): the class that plays a provider's API (its
    ``name`` is the provider's id), and the path below the API's mount that the provider's
    base-URL variable ends in (e.g. "/v1")."""

    api: type[EmulatedAPI]
    base_path: str = ""

    @property
    def provider(self) -> Provider:
        """The provider's descriptor, registered by the pack's provider module (the emulator
        imports none: its tables are its own)."""
        return registered_provider(self.api.name)

    @property
    def prefix(self) -> str:
        return f"/{self.api.name}"

    def environment(self, app_url: str) -> dict[str, str]:
        """The variables that point the pack at this emulator's API served at ``app_url``."""
        provider = self.provider
        return {provider.base_url_env: f"{app_url}{self.base_path}", provider.key_env: fake_key(provider.id)}

    def make(self, api: EmulatedAPI | None = None) -> EmulatedAPI:
        """A fresh emulated API of this provider (or ``api``), knowing this declaration."""
        api = api if api is not None else self.api()
        api.emulator = self
        return api


def emulators() -> list[Emulator]:
    """Every emulator module's declaration."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        declared = getattr(importlib.import_module(f".{module.name}", __name__), "EMULATOR", None)
        if declared is not None:
            found.append(declared)
    return found


def all_apis() -> dict[str, EmulatedAPI]:
    """prefix -> a fresh emulated API, for every provider."""
    return {emulator.prefix: emulator.make() for emulator in emulators()}


def serve(apis: list[EmulatedAPI], host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """Start one server with these emulated APIs, each at its emulator's prefix."""
    return EmulatorServer({api.emulator.prefix: api for api in apis}, host, port).start()


def start_all(host: str = "127.0.0.1", port: int = 0) -> tuple[EmulatorServer, dict[str, EmulatedAPI]]:
    """Start every provider's emulated API on one server."""
    apis = all_apis()
    return serve(list(apis.values()), host, port), apis

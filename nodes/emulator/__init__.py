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
from .server import App, EmulatorServer


def fake_key(provider_id: str) -> str:
    """The key an emulator accepts for a provider: obviously fake, never a real one's shape."""
    return f"fake-{provider_id}-key"


@dataclass(frozen=True)
class Emulator:
    """What an emulator module serves: the app that plays a provider's API (its ``name`` is the
    provider's id), and the path below the app's mount that the provider's base-URL variable ends
    in (e.g. "/v1")."""

    app: type[App]
    base_path: str = ""

    @property
    def provider(self) -> Provider:
        """The provider's descriptor, registered by the pack's provider module (the emulator
        imports none: its tables are its own)."""
        return registered_provider(self.app.name)

    @property
    def prefix(self) -> str:
        return f"/{self.app.name}"

    def environment(self, app_url: str) -> dict[str, str]:
        """The variables that point the pack at this emulator's app served at ``app_url``."""
        provider = self.provider
        return {provider.base_url_env: f"{app_url}{self.base_path}", provider.key_env: fake_key(provider.id)}


@dataclass
class Emulated:
    """One provider's emulator as served (mounted at its prefix), and the variables that point the pack at it."""

    app: App
    emulator: Emulator

    @property
    def key_env(self) -> str:
        return self.emulator.provider.key_env

    def environment(self, url: str) -> dict[str, str]:
        return self.emulator.environment(f"{url}{self.emulator.prefix}")


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


def all_apps() -> dict[str, Emulated]:
    """prefix -> Emulated, for every provider."""
    return {emulator.prefix: Emulated(emulator.app(), emulator) for emulator in emulators()}


def serve(emulated: list[Emulated], host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """Start one server with these emulators, each at its prefix."""
    return EmulatorServer({item.emulator.prefix: item.app for item in emulated}, host, port).start()


def start_all(host: str = "127.0.0.1", port: int = 0) -> tuple[EmulatorServer, dict[str, Emulated]]:
    """Start every emulator on one server."""
    emulated = all_apps()
    return serve(list(emulated.values()), host, port), emulated

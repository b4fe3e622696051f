"""Local emulators of every provider's API, for building and testing graphs without keys.

``python -m nodes.emulator`` serves them all on one loopback port and prints the environment
variables that point ComfyUI (or the demo) at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .server import App, EmulatorServer


@dataclass
class Emulated:
    """One provider's emulator and the variables that point the pack at it."""

    app: App
    key_env: str
    env: dict[str, str]  # values may use {url}, the server's address

    def environment(self, url: str) -> dict[str, str]:
        return {name: value.format(url=url) for name, value in self.env.items()}


def all_apps() -> dict[str, Emulated]:
    """prefix -> Emulated, for every provider."""
    from .agnic import AgnicApp
    from .aigne import AigneHubApp
    from .ionos import IonosApp
    from .openai_compat import OpenAIApp
    from .ovh import PATH as OVH_PATH, OvhApp

    return {
        "/ionos": Emulated(IonosApp(), "IONOS_API_TOKEN", {"IONOS_BASE_URL": "{url}/ionos/v1", "IONOS_API_TOKEN": "fake-ionos-token"}),
        "/aigne": Emulated(AigneHubApp(), "AIGNE_HUB_API_KEY", {"AIGNE_HUB_BASE_URL": "{url}/aigne", "AIGNE_HUB_API_KEY": "fake-aigne-key"}),
        "/agnic": Emulated(AgnicApp(), "AGNIC_API_KEY", {"AGNIC_BASE_URL": "{url}/agnic/v1", "AGNIC_API_KEY": "fake-agnic-key"}),
        "/openai": Emulated(OpenAIApp(), "OPENAI_API_KEY", {"OPENAI_BASE_URL": "{url}/openai/v1", "OPENAI_API_KEY": "fake-openai-key"}),
        "/ovh": Emulated(OvhApp(), "OVH_AI_ENDPOINTS_ACCESS_TOKEN", {"OVH_SDXL_URL": "{url}/ovh" + OVH_PATH, "OVH_AI_ENDPOINTS_ACCESS_TOKEN": "fake-ovh-token"}),
    }


def start_all(host: str = "127.0.0.1", port: int = 0) -> tuple[EmulatorServer, dict[str, Emulated]]:
    """Start every emulator on one server."""
    emulated = all_apps()
    server = EmulatorServer({prefix: item.app for prefix, item in emulated.items()}, host, port).start()
    return server, emulated

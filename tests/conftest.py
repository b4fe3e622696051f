"""Shared fixtures: the pack loaded the way ComfyUI loads it, and local provider servers."""

from __future__ import annotations

import asyncio
import datetime
import importlib
import importlib.util
import json
import logging
import os
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACK_NAME = "hosted_images_pack"  # ComfyUI names the module after the folder; any name works
# The providers' published OpenAPI documents are read, never copied into the repository: from
# HOSTED_IMAGES_SPECS, else the specs folder beside the checkout; spec checks skip without them.
SPECS = Path(os.environ.get("HOSTED_IMAGES_SPECS") or ROOT.parent / "shared" / "specs")
# The day every test runs on, whatever the machine's clock says (docs/design.md, "No dependence on
# the day it runs"): the day the catalogues were last checked. A test that needs another sets it.
TODAY = datetime.date(2026, 12, 6)
# Set (e.g. to 400) to run the whole suite with the machine's clock moved that many days ahead:
# what passes only on the day it was written fails then. `make test` runs the suite both ways.
CLOCK_AHEAD_ENV = "HOSTED_IMAGES_TEST_CLOCK_AHEAD_DAYS"


def load_pack():
    """Import the pack from its folder with importlib, as ComfyUI's load_custom_node does."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module


def mod(name: str):
    """A submodule of the loaded pack, e.g. mod("nodes.core.images")."""
    load_pack()
    return importlib.import_module(f"{PACK_NAME}.{name}")


def _providers():
    """Every provider's descriptor, as the pack registers them."""
    return mod("nodes.core.provider").registered()


# Every provider's fake key (what its emulator accepts) and variables, from the descriptors.
FAKE_KEYS = {provider.key_env: mod("nodes.emulator").fake_key(provider.id) for provider in _providers()}
PROVIDER_ENV = [*FAKE_KEYS, *(provider.base_url_env for provider in _providers())]


@pytest.fixture(scope="session")
def pack():
    return load_pack()


@pytest.hookimpl(trylast=True)  # after pytest's tmp_path machinery is configured
def pytest_configure(config):
    """Hypothesis keeps its example database and caches in this run's temporary folder, not in
    .hypothesis/ of the repository; it writes them while test modules are collected, so a fixture
    would come too late."""
    from hypothesis import configuration

    configuration.set_hypothesis_home_dir(config._tmp_path_factory.mktemp("hypothesis"))
    days = int(os.environ.get(CLOCK_AHEAD_ENV) or 0)
    if days:
        import time_machine  # moves the wall clock and dates, not time.monotonic (which timeouts use)

        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
        config._clock_ahead = time_machine.travel(later, tick=True)
        config._clock_ahead.start()
        print(f"the machine's clock reads {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} for this run")


def pytest_unconfigure(config):
    travel = getattr(config, "_clock_ahead", None)
    if travel is not None:
        travel.stop()


def set_today(monkeypatch, day: datetime.date) -> None:
    """Run the rest of the test on ``day`` (the pack's clock, and the emulators that read it)."""
    monkeypatch.setenv(mod("nodes.core.clock").TODAY_ENV, day.isoformat())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No real keys, no real credentials file, files only in tmp_path, fast retries, no interrupt
    left over, and the same day whatever the machine's clock says."""
    set_today(monkeypatch, TODAY)
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(tmp_path / "no-credentials.ini"))
    monkeypatch.setenv("HOSTED_IMAGES_UNSAVED_DIR", str(tmp_path / "unsaved"))  # paid results of failed runs
    monkeypatch.setenv("HOSTED_IMAGES_JOURNAL", str(tmp_path / "journal.jsonl"))  # the spend journal
    monkeypatch.setenv("HOSTED_IMAGES_REUSE_DIR", str(tmp_path / "reuse"))
    monkeypatch.setenv("HOSTED_IMAGES_REUSE_MINUTES", "0")  # each test sends what it runs; the reuse tests turn it on
    for name in [n for n in os.environ if n.startswith("HOSTED_IMAGES_DAILY_IMAGE_LIMIT")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOSTED_IMAGES_RETRY_BACKOFF", "0.05")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    comfy = mod("nodes.core.comfy")
    comfy.clear_interrupt()
    forget_what_nodes_learned()
    yield
    comfy.clear_interrupt()
    journal = tmp_path / "journal.jsonl"
    if journal.exists():  # every test's calls, the fault matrix's too: never a key in the journal
        assert_no_secret(journal.read_text(errors="replace"))


def journal_lines() -> list[dict]:
    """The spend journal of the running test, line by line."""
    path = Path(os.environ["HOSTED_IMAGES_JOURNAL"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def journal_calls(provider: str | None = None) -> list[dict]:
    """The journal's image calls (model-list reads left out), of one provider or all."""
    return [
        line
        for line in journal_lines()
        if line["event"] == "call" and line["images_asked"] and provider in (None, line["provider"])
    ]


def forget_what_nodes_learned():
    """Live model lists and the AIGNE paths that answered, kept per endpoint: tests reuse loopback URLs."""
    mod("nodes.common").ModelListCache.forget_all()
    mod("nodes.aigne")._paths.clear()


def run_node(node_class, **inputs):
    """Run a node's FUNCTION the way ComfyUI's executor does (awaiting it when async)."""
    node = node_class()
    result = getattr(node, node_class.FUNCTION)(**inputs)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return result


def defaults(node_class, **given) -> dict:
    """Every widget input of a node at its default (a combo without one: its first entry), then ``given``."""
    return {**mod("nodes.common").input_defaults(node_class), **given}


@pytest.fixture
def serve():
    """serve(app, prefix="") -> a running EmulatorServer on 127.0.0.1; stopped after the test."""
    servers = []
    server_module = mod("nodes.emulator.server")

    def start(app, prefix: str = ""):
        server = server_module.EmulatorServer({prefix: app}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def ionos(serve, monkeypatch):
    """A local IONOS server with the environment pointing at it; yields the app."""
    app = mod("nodes.emulator.ionos").IonosAPI(token=FAKE_KEYS["IONOS_API_TOKEN"])
    server = serve(app)
    monkeypatch.setenv("IONOS_API_TOKEN", FAKE_KEYS["IONOS_API_TOKEN"])
    monkeypatch.setenv("IONOS_BASE_URL", f"{server.url}/v1")
    return app


@pytest.fixture
def progress(monkeypatch):
    """A stand-in for ComfyUI's PromptServer that records the progress text sent to nodes."""
    sent: list[tuple[str, str]] = []
    instance = types.SimpleNamespace(
        send_progress_text=lambda text, node, sid=None: sent.append((node, text)), client_id="the-queueing-client"
    )
    monkeypatch.setitem(
        sys.modules, "server", types.SimpleNamespace(PromptServer=types.SimpleNamespace(instance=instance))
    )
    return sent


@pytest.fixture
def pack_logs(caplog):
    """Everything the pack and urllib3 log, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog


def hang_ups(app, expected: int, seconds: float = 5.0) -> list[str]:
    """The paths whose client hung up before ``app`` had answered, once ``expected`` are in (the
    server notices within a poll interval) or ``seconds`` have passed: an interrupt, counted."""
    deadline = time.monotonic() + seconds
    while len(app.disconnects) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(app.disconnects)


def assert_no_secret(text: str, secrets=None):
    for secret in FAKE_KEYS.values() if secrets is None else secrets:
        assert secret not in text, f"a key leaked into: {text[:200]!r}"

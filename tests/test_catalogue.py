"""The dated model catalogues and the nodes' defaults.

Every node, with all inputs at their defaults and only a prompt (and an image for edits), makes
an image against the emulators as they play the providers today; every default model is one its
catalogue serves today; and the catalogue's rules behave as one format for every provider.
"""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest
import torch

from conftest import defaults, load_pack, mod, run_node

catalogue = mod("nodes.providers.catalogue")
TODAY = datetime.date(2026, 11, 29)
PROVIDER_MODULES = ["openai_compat", "aigne", "agnic", "ionos", "ovh"]
DATA_MODULES = ["openai_models", "aigne_models", "agnic_models", "ionos_models", "ovh_models"]
NODES = load_pack().NODE_CLASS_MAPPINGS
IMAGE_NODES = sorted(name for name in NODES if not name.endswith("ListModels"))
MODEL_NODES = sorted(name for name in NODES if "model" in NODES[name].INPUT_TYPES()["required"])


@pytest.fixture(scope="module")
def emulators():
    server, emulated = mod("nodes.emulator").start_all()
    yield server, emulated
    server.stop()


@pytest.fixture
def pointed_at_emulators(emulators, monkeypatch):
    server, emulated = emulators
    for item in emulated.values():
        item.app.reset()
        for name, value in item.environment(server.url).items():
            monkeypatch.setenv(name, value)
    return {prefix.strip("/"): item.app for prefix, item in emulated.items()}


@pytest.mark.parametrize("node_id", IMAGE_NODES)
def test_every_node_makes_an_image_from_its_defaults_and_a_prompt(node_id, pointed_at_emulators):
    cls = NODES[node_id]
    given = {"prompt": "a lighthouse at dawn"}
    if "image" in cls.INPUT_TYPES()["required"]:
        given["image"] = torch.rand(1, 64, 96, 3)
    outputs = run_node(cls, **defaults(cls, **given))
    image = outputs[0]
    assert image.ndim == 4 and image.shape[0] == 1 and image.shape[-1] == 3 and min(image.shape[1:3]) >= 64
    assert float(image.std()) > 0.01, "a real picture, not a flat placeholder"
    assert sum(len(app.requests) for app in pointed_at_emulators.values()) >= 1


@pytest.mark.parametrize("node_id", MODEL_NODES)
def test_every_default_model_is_served_today(node_id):
    spec = NODES[node_id].INPUT_TYPES()["required"]["model"]
    provider = mod(f"nodes.providers.{NODES[node_id].__module__.rsplit('.', 1)[-1]}")
    default = spec[1]["default"]
    entry = provider.CATALOGUE.find(default)
    assert entry is not None, f"{node_id}'s default {default} is not in its catalogue"
    assert entry.shutdown is None or entry.shutdown > TODAY + datetime.timedelta(days=catalogue.WARN_DAYS), (
        f"{node_id}'s default {default} shuts down on {entry.shutdown}"
    )
    operations = [name for name in (catalogue.GENERATE, catalogue.EDIT) if entry.can(name)]
    assert operations, f"{default} can do nothing"


@pytest.mark.parametrize("name", DATA_MODULES)
def test_each_catalogue_is_dated_and_sourced(name):
    data = mod(f"nodes.providers.{name}").CATALOGUE
    assert data.checked == TODAY
    assert data.source.startswith("https://")
    ids = [m.id.lower() for m in data.models] + [a.lower() for m in data.models for a in m.aliases]
    assert len(ids) == len(set(ids)), "a model id or alias is listed twice"
    for model in data.models:
        assert model.source.startswith("https://") or model.note, f"{model.id} has no source"
        if model.shutdown is not None and model.successor:
            successor = data.find(model.successor)
            assert successor is not None and successor.shutdown is None, (
                f"{model.id}'s successor {model.successor} is not served"
            )


def test_a_rule_break_names_what_is_allowed():
    openai = mod("nodes.providers.openai_models").CATALOGUE
    rules = openai.rules("gpt-image-2", catalogue.GENERATE, TODAY)
    assert rules.check_size("gpt-image-2", "3840x1280") == "3840x1280"
    assert rules.check_size("gpt-image-2", "2048 x 1152") == "2048x1152"
    with pytest.raises(mod("nodes.core.errors").InputError, match="aspect ratio may be at most 3:1"):
        rules.check_size("gpt-image-2", "3840x1264")
    legacy = openai.rules("gpt-image-1.5", catalogue.GENERATE, TODAY)
    with pytest.raises(mod("nodes.core.errors").InputError, match="use one of: 1024x1024, 1536x1024, 1024x1536, auto"):
        legacy.check_size("gpt-image-1.5", "1536x864")


def test_shutdown_dates_turn_into_notices_then_refusals():
    openai = mod("nodes.providers.openai_models").CATALOGUE
    assert openai.notice("gpt-image-1.5", datetime.date(2026, 10, 31)) == ""  # more than 30 days ahead
    assert (
        openai.notice("gpt-image-1.5", datetime.date(2026, 11, 1))
        == "gpt-image-1.5 shuts down on 2026-12-01 (in 30 days); move to gpt-image-2"
    )
    assert openai.notice("gpt-image-1.5", datetime.date(2026, 12, 1)) == ""  # from then on it is refused
    with pytest.raises(
        mod("nodes.core.errors").InputError, match="OpenAI retired gpt-image-1.5 on 2026-12-01; use gpt-image-2"
    ):
        openai.rules("gpt-image-1.5", catalogue.GENERATE, datetime.date(2026, 12, 1))
    assert (
        openai.notice("gpt-image-2", TODAY, live_shutdown=datetime.date(2026, 12, 29))
        == "gpt-image-2 shuts down on 2026-12-29 (in 30 days)"
    )


def test_a_gateway_catalogue_announces_instead_of_refusing():
    agnic = mod("nodes.providers.agnic_models").CATALOGUE
    assert agnic.rules("google/gemini-2.5-flash-image", catalogue.GENERATE, TODAY) is not None
    assert agnic.notice("google/gemini-2.5-flash-image", TODAY) == (
        "google/gemini-2.5-flash-image was shut down upstream on 2026-10-02; move to google/gemini-3.1-flash-image"
    )


def test_models_the_catalogue_does_not_know_are_not_checked():
    for name in DATA_MODULES:
        assert mod(f"nodes.providers.{name}").CATALOGUE.rules("acme/brand-new-model", catalogue.GENERATE, TODAY) is None


def test_the_aigne_catalogue_is_openais_through_the_hub():
    openai = mod("nodes.providers.openai_models").CATALOGUE
    hub = mod("nodes.providers.aigne_models").CATALOGUE
    for model in openai.models:
        routed = hub.find(f"openai/{model.id}")
        assert routed is not None and routed.shutdown == model.shutdown and hub.find(model.id) is routed
        for name, operation in routed.operations.items():
            assert operation.max_n == 1  # the hub's framework drops n for GPT image models
            assert operation.sizes == model.operations[name].sizes
            assert set(operation.options) <= {
                "quality",
                "background",
                "output_format",
                "output_compression",
                "moderation",
            }
            assert name != catalogue.EDIT or "moderation" not in operation.options


def test_the_emulators_keep_their_own_tables():
    """The emulators never import the pack's provider modules: a wrong catalogue must fail the tests."""
    for path in (Path(__file__).resolve().parents[1] / "nodes" / "emulator").glob("*.py"):
        imported = {
            node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
        }
        assert not any("providers" in name for name in imported), f"emulator/{path.name} imports {imported}"

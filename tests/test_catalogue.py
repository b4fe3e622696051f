"""The dated model catalogues and the nodes' defaults.

Every node, with all inputs at their defaults and only a prompt (and an image for edits), makes
an image against the emulators as they play the providers today; every default model is one its
catalogue serves today; and the catalogue's rules behave as one format for every provider.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime
from pathlib import Path

import pytest
import torch

from conftest import TODAY, defaults, load_pack, mod, run_node, set_today
from provider_table import catalogue_of, registered_ids

catalogue = mod("nodes.providers.catalogue")
A_YEAR_ON = TODAY + datetime.timedelta(days=400)
PROVIDERS = registered_ids()  # every catalogue is checked: each registered provider's module holds one
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
        item.reset()
        for name, value in item.environment(server.url).items():
            monkeypatch.setenv(name, value)
    return {prefix.strip("/"): item for prefix, item in emulated.items()}


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
def test_every_model_combo_starts_with_auto_its_default(node_id):
    spec = NODES[node_id].INPUT_TYPES()["required"]["model"]
    assert spec[0][0] == "auto" and spec[1]["default"] == "auto"
    provider = mod(f"nodes.providers.{NODES[node_id].__module__.rsplit('.', 1)[-1]}")
    assert spec[0][1:] == provider.CATALOGUE.served(_operation(NODES[node_id]), TODAY)


def _operation(cls) -> str:
    return catalogue.EDIT if "image" in cls.INPUT_TYPES()["required"] else catalogue.GENERATE


@pytest.mark.parametrize("day", [TODAY, A_YEAR_ON], ids=["today", "a_year_on"])
@pytest.mark.parametrize("node_id", MODEL_NODES)
def test_auto_becomes_a_model_served_that_day_that_can_do_the_operation(node_id, day):
    provider = mod(f"nodes.providers.{NODES[node_id].__module__.rsplit('.', 1)[-1]}")
    operation = _operation(NODES[node_id])
    picks = provider.CATALOGUE.auto(operation, None, day)
    entry = provider.CATALOGUE.find(picks[0])
    assert entry.can(operation) and not provider.CATALOGUE.is_retired(entry, day)
    assert entry.shutdown is None or entry.shutdown > day + datetime.timedelta(days=catalogue.WARN_DAYS)


@pytest.mark.parametrize("node_id", IMAGE_NODES)
def test_a_year_on_every_node_still_makes_an_image_from_its_defaults(node_id, pointed_at_emulators, monkeypatch):
    """The emulators read the same clock: what shut down by then is gone there too."""
    set_today(monkeypatch, A_YEAR_ON)
    cls = NODES[node_id]
    given = {"prompt": "a lighthouse at dawn"}
    if "image" in cls.INPUT_TYPES()["required"]:
        given["image"] = torch.rand(1, 64, 96, 3)
    assert run_node(cls, **defaults(cls, **given))[0].shape[0] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_catalogue_is_dated_and_sourced(provider):
    data = catalogue_of(provider)
    assert data.checked == TODAY
    assert data.source.startswith("https://")
    ids = [m.id.lower() for m in data.models] + [a.lower() for m in data.models for a in m.aliases]
    assert len(ids) == len(set(ids)), "a model id or alias is listed twice"
    for operation, preferred in data.preferred.items():
        for model in preferred:
            entry = data.find(model)
            assert entry is not None and entry.can(operation) and not data.is_retired(entry, TODAY), model
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
    legacy = openai.rules("gpt-image-1.5", catalogue.GENERATE, datetime.date(2026, 11, 29))
    with pytest.raises(mod("nodes.core.errors").InputError, match="use one of: 1024x1024, 1536x1024, 1024x1536, auto"):
        legacy.check_size("gpt-image-1.5", "1536x864")


def test_shutdown_dates_turn_into_notices_then_refusals():
    openai = mod("nodes.providers.openai_models").CATALOGUE
    assert openai.notice("gpt-image-1.5", datetime.date(2026, 10, 31)) == ""  # more than 30 days ahead
    assert (
        openai.notice("gpt-image-1.5", datetime.date(2026, 11, 1))
        == "gpt-image-1.5 shuts down on 2026-12-01 (in 30 days); move to gpt-image-2.6-sunburst"
    )
    assert openai.notice("gpt-image-1.5", datetime.date(2026, 12, 1)) == ""  # from then on it is refused
    with pytest.raises(
        mod("nodes.core.errors").InputError,
        match="OpenAI retired gpt-image-1.5 on 2026-12-01; use gpt-image-2.6-sunburst",
    ):
        openai.rules("gpt-image-1.5", catalogue.GENERATE, datetime.date(2026, 12, 1))
    assert (
        openai.notice("gpt-image-2", TODAY, live_shutdown=datetime.date(2027, 1, 5))
        == "gpt-image-2 shuts down on 2027-01-05 (in 30 days)"
    )


def test_a_retirement_is_a_fact_about_a_host():
    """OpenAI's dates refuse a model at OpenAI's own API; elsewhere it is sent with a line in info."""
    openai = mod("nodes.providers.openai_models").CATALOGUE
    for host in (None, "api.openai.com", "API.OpenAI.com"):
        with pytest.raises(mod("nodes.core.errors").InputError, match="OpenAI retired dall-e-3 on 2026-05-12"):
            openai.rules("dall-e-3", catalogue.GENERATE, TODAY, host)
    assert openai.rules("dall-e-3", catalogue.GENERATE, TODAY, "relay.example") is None  # its rules are the host's
    legacy = openai.rules("gpt-image-1.5", catalogue.GENERATE, TODAY, "my-resource.openai.azure.com")
    assert legacy.size_names == "1024x1024, 1536x1024, 1024x1536, auto"  # what it took, where still served
    assert openai.notice("dall-e-3", TODAY, host="api.openai.com") == ""  # refused there instead
    assert openai.notice("dall-e-3", TODAY, host="127.0.0.1") == (
        "OpenAI retired dall-e-3 on its own API on 2026-05-12; this server may still serve it; "
        "move to gpt-image-2.6-sunburst"
    )
    hub = mod("nodes.providers.aigne_models").CATALOGUE  # a hub always calls OpenAI: refused at every hub
    with pytest.raises(mod("nodes.core.errors").InputError, match="its maker retired openai/dall-e-3"):
        hub.rules("openai/dall-e-3", catalogue.GENERATE, TODAY, "hub.example")


def test_a_gateway_catalogue_announces_instead_of_refusing():
    agnic = mod("nodes.providers.agnic_models").CATALOGUE
    assert agnic.rules("google/gemini-2.5-flash-image", catalogue.GENERATE, TODAY) is not None
    assert agnic.notice("google/gemini-2.5-flash-image", TODAY) == (
        "google/gemini-2.5-flash-image was shut down upstream on 2026-10-02; move to google/gemini-nano-banana-2.1"
    )


def test_models_the_catalogue_does_not_know_are_not_checked():
    for provider in PROVIDERS:
        assert catalogue_of(provider).rules("acme/brand-new-model", catalogue.GENERATE, TODAY) is None


def test_the_aigne_catalogue_is_openais_and_googles_through_the_hubs_framework():
    openai = mod("nodes.providers.openai_models").CATALOGUE
    hub = mod("nodes.providers.aigne_models").CATALOGUE
    for model in openai.models:
        routed = hub.find(f"openai/{model.id}")
        assert routed is not None and routed.shutdown == model.shutdown and hub.find(model.id) is routed
        for name, operation in routed.operations.items():
            assert operation.sizes == model.operations[name].sizes
            if model.id == "gpt-image-1":  # the framework's SUPPORTED_PARAMS: options, no n, edits
                assert operation.max_n == 1
            else:  # dall-e-2's list: prompt, size, n -- every GPT option dropped, and no edits
                assert operation.options == {} and operation.max_n == model.operations[name].max_n
                assert name != catalogue.EDIT
    served_edits = hub.served(catalogue.EDIT, TODAY)
    assert served_edits and all(model.startswith("google/") for model in served_edits)
    for model in served_edits:
        rules = hub.rules(model, catalogue.EDIT, TODAY)
        assert rules.sizes == ("auto",) and rules.max_n == 1 and rules.options == {}


def test_the_emulators_keep_their_own_tables():
    """The emulators never import the pack's provider modules: a wrong catalogue must fail the tests."""
    for path in (Path(__file__).resolve().parents[1] / "nodes" / "emulator").glob("*.py"):
        imported = {
            node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
        }
        assert not any("providers" in name for name in imported), f"emulator/{path.name} imports {imported}"


# --- number ranges and sizes as numbers: one format, one check -------------------------------------

errors = mod("nodes.core.errors")
# the width and height a size combo's "custom" uses: limited by the size presets and rule, not a Range
_SIZE_INPUTS = mod("nodes.common").size_inputs(["auto", "custom"], "")
SIZE_SIDES = {name for name, (kind, _) in _SIZE_INPUTS.items() if kind == "INT"}


def _int_inputs(cls) -> dict[str, dict]:
    """A node's INT inputs (required and optional) with their widget options."""
    spec = cls.INPUT_TYPES()
    return {
        name: options
        for section in ("required", "optional")
        for name, (kind, *rest) in spec.get(section, {}).items()
        for options in [rest[0] if rest else {}]
        if kind == "INT"
    }


def _numbers(cls) -> list[str]:
    """The numbers a node sends: its INT inputs but the seed (sent by Agnic only, and never limited)
    and width and height (checked as a size)."""
    return sorted(set(_int_inputs(cls)) - {"seed"} - SIZE_SIDES)


def _managed(cls) -> set[str]:
    """The inputs only some models take (a model without one refuses it, so never sends it)."""
    model = cls.INPUT_TYPES()["required"].get("model")
    return set(model[1].get("hosted_images_inputs", {}).get("managed", ())) if model else set()


def _takes(cls, rules, name: str) -> bool:
    return name not in _managed(cls) or name in rules.options


@pytest.mark.parametrize("node_id", IMAGE_NODES)
def test_every_catalogue_limits_every_number_its_nodes_send(node_id):
    """Each operation of every model a node may send declares a Range for each number the node
    sends that the model takes, and limits width and height by its sizes; the node's widgets
    offer what the endpoint takes from a model the catalogue does not know."""
    cls = NODES[node_id]
    operation, data = _operation(cls), cls.PROVIDER.catalogue
    inputs = _int_inputs(cls)
    entries = [(m.id, m.operations[operation]) for m in data.models if m.can(operation)]
    assert entries and _numbers(cls), node_id
    for model, rules in entries:
        for name in _numbers(cls):
            if _takes(cls, rules, name):
                assert name in rules.ranges, f"{model} ({operation}) has no range for {node_id}'s {name}"
        if SIZE_SIDES & set(inputs):  # the sizes bound them, checked as numbers
            beyond = [inputs[side]["max"] + inputs[side].get("step", 1) for side in sorted(SIZE_SIDES)]
            with pytest.raises(errors.InputError, match="is not allowed for"):
                rules.check_dimensions(model, *beyond)
    for name in _numbers(cls):
        limit = data.endpoint[operation].ranges.get(name) if data.endpoint else entries[0][1].ranges[name]
        if limit is not None:  # None: the endpoint leaves it to a model the catalogue does not know
            assert (inputs[name]["min"], inputs[name]["max"]) == (limit.low, limit.high), (node_id, name)


def _provider_module(cls):
    return mod(f"nodes.providers.{cls.__module__.rsplit('.', 1)[-1]}")


def _range_cases():
    """Per image node and number it sends: the first model its catalogue serves, and a model it
    does not know (the endpoint's rules) where the node names models."""
    for node_id in IMAGE_NODES:
        cls = NODES[node_id]
        operation, data = _operation(cls), cls.PROVIDER.catalogue
        known = data.served(operation, TODAY)[0]
        rules = data.find(known).operations[operation]
        for name in _numbers(cls):
            if _takes(cls, rules, name) and rules.ranges[name] != catalogue.ONE:  # ONE: nothing narrower
                yield pytest.param(node_id, name, known, id=f"{node_id}-{name}-known")
            if node_id in MODEL_NODES and name in data.endpoint[operation].ranges:
                yield pytest.param(node_id, name, None, id=f"{node_id}-{name}-unknown")


def _narrowed(data, model: str | None, operation: str, name: str, limit):
    """The catalogue with ``name`` limited to ``limit`` in ``model``'s rules (None: the endpoint's)."""
    if model is None:
        rules = data.endpoint[operation]
        endpoint = {**data.endpoint, operation: dataclasses.replace(rules, ranges={**rules.ranges, name: limit})}
        return dataclasses.replace(data, endpoint=endpoint)
    models = []
    for entry in data.models:
        if entry.id == model:
            rules = entry.operations[operation]
            narrowed = dataclasses.replace(rules, ranges={**rules.ranges, name: limit})
            entry = dataclasses.replace(entry, operations={**entry.operations, operation: narrowed})
        models.append(entry)
    return dataclasses.replace(data, models=tuple(models))


@pytest.mark.parametrize("node_id,name,model", list(_range_cases()))
def test_a_range_in_the_catalogue_refuses_a_value_outside_it_before_anything_is_sent(
    node_id, name, model, pointed_at_emulators, monkeypatch
):
    """The range comes from the catalogue, for a model it knows and from the endpoint's rules for
    one it does not: narrowed there by one, a value the catalogue allowed is refused, naming the
    narrowed range, and nothing reaches the provider."""
    cls = NODES[node_id]
    operation, provider = _operation(cls), _provider_module(cls)
    rules = provider.CATALOGUE.find(model).operations[operation] if model else provider.CATALOGUE.endpoint[operation]
    limit = rules.ranges[name]
    value = limit.high if limit.high != _int_inputs(cls)[name]["default"] else limit.high - 1
    narrowed = catalogue.Range(limit.low, value - 1)
    monkeypatch.setattr(provider, "CATALOGUE", _narrowed(provider.CATALOGUE, model, operation, name, narrowed))
    given = {"prompt": "a lighthouse at dawn", name: value}
    if node_id in MODEL_NODES:
        given["model"] = model or "acme/a-model-newer-than-the-catalogue"
    if "image" in cls.INPUT_TYPES()["required"]:
        given["image"] = torch.rand(1, 64, 96, 3)
    with pytest.raises(errors.InputError) as caught:
        run_node(cls, **defaults(cls, **given))
    words = f"{name} is {value}; it must be a whole number from {narrowed.low} to {narrowed.high}"
    assert words in str(caught.value) and "nothing was sent" in str(caught.value)
    assert sum(len(app.requests) for app in pointed_at_emulators.values()) == 0


def test_width_and_height_are_checked_as_numbers(monkeypatch):
    """A node with width and height inputs hands them over as they are: no WIDTHxHEIGHT string is
    made or parsed, and the refusals are the size check's own words."""
    openai = mod("nodes.providers.openai_models").CATALOGUE
    gpt = openai.rules("gpt-image-2", catalogue.GENERATE, TODAY)
    by_string = gpt.check_size
    with pytest.raises(errors.InputError) as as_text:
        by_string("gpt-image-2", "3840x1264")
    rules_module = mod("nodes.providers.rules")

    def no_parsing(*args, **kwargs):
        raise AssertionError("a size string was parsed")

    monkeypatch.setattr(rules_module, "parse_size", no_parsing)
    assert gpt.check_dimensions("gpt-image-2", 3840, 1280) == (3840, 1280)  # within the rule
    assert gpt.check_dimensions("gpt-image-2", 2160, 3840) == (2160, 3840)  # a preset
    with pytest.raises(errors.InputError) as as_numbers:
        gpt.check_dimensions("gpt-image-2", 3840, 1264)
    said = as_numbers.value.message
    assert said == as_text.value.message
    assert "size 3840x1264 is not allowed for gpt-image-2: the aspect ratio may be at most 3:1" in said
    legacy = openai.rules("gpt-image-1.5", catalogue.GENERATE, datetime.date(2026, 11, 29))
    with pytest.raises(errors.InputError, match="use one of: 1024x1024, 1536x1024, 1024x1536, auto"):
        legacy.check_dimensions("gpt-image-1.5", 2048, 2048)
    for width, height, words in (("1024", 1024, "width is '1024'"), (1024, True, "height is True")):
        with pytest.raises(errors.InputError, match=f"{words}; it must be a whole number"):
            gpt.check_dimensions("gpt-image-2", width, height)


def test_a_provider_with_steps_and_integer_sides_says_its_limits_in_the_catalogue():
    """What a new provider needs (steps, width and height as numbers) is data in the one format."""
    flux = catalogue.Operation(
        size_rule=catalogue.SizeRule(multiple=32, min_edge=256, max_edge=1440),
        ranges={"n": catalogue.Range(1, 4), "steps": catalogue.Range(1, 50)},
    )
    assert flux.check_dimensions("acme/flux", 1440, 256) == (1440, 256)
    with pytest.raises(errors.InputError, match="size 1472x256 is not allowed for acme/flux: each side must be"):
        flux.check_dimensions("acme/flux", 1472, 256)
    assert flux.check_number("acme/flux", "steps", 50) == 50
    for value in (0, 51, 2.5, True):
        with pytest.raises(errors.InputError, match=f"steps is {value!r}; it must be a whole number from 1 to 50"):
            flux.check_number("acme/flux", "steps", value)
    flux.check_numbers("acme/flux", {"steps": 28, "n": 4, "guidance": 3.5})  # guidance: not limited here
    with pytest.raises(errors.InputError, match="n is 5; it must be a whole number from 1 to 4"):
        flux.check_numbers("acme/flux", {"steps": 28, "n": 5})
    with pytest.raises(errors.InputError, match="acme/one makes one image per call; set n to 1"):
        catalogue.Operation().check_number("acme/one", "n", 2)  # n is one unless the rules say more

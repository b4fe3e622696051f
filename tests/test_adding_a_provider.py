"""A sixth provider, added the way docs/development.md "Adding a provider" says, and nothing more.

"Toy Images" is an OpenAI-like API with its own quirk: its requests ask for ``num_images`` (not
``n``) and take integer ``width``, ``height`` and ``steps``. The test copies the pack into a
temporary folder, takes each documented step there (the files below), and runs the pack's own
tests on the copy: the new provider must join the fault matrix, the key and security tests, the
journal, the routes, the bad inputs, the catalogue checks and the demo with no list edited
anywhere else. Then it leaves one step out at a time: the tests must fail, naming the part.

(The one documented step left out here is the example workflow, whose thumbnail is made in a real
ComfyUI; tests/test_pack.py asks every node for one.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

NODE_ID = "HostedImages_ToyImageGenerate"
LANGS = ("zh", "ja")

PROVIDER_MODULE = '''"""Toy Images (a provider the tests add): an OpenAI-like API whose requests say num_images."""

from __future__ import annotations

import datetime
from typing import Any

from ..core import validation as check
from ..core.provider import Provider, register
from . import openai_wire
from .catalogue import GENERATE, Catalogue, Model, Operation, Range, SizeRule

DOCS = "https://toy.example/docs"
GENERATION = Operation(
    sizes=((1024, 1024),),
    size_rule=SizeRule(multiple=8, max_edge=2048, min_edge=256),
    ranges={"n": Range(1, 4), "steps": Range(1, 50)},
    prompt_limit=2000,
)
CATALOGUE = Catalogue(
    provider="Toy Images",
    checked=datetime.date(2026, 12, 6),
    source=DOCS,
    models=(Model("toy-1", {GENERATE: GENERATION}, source=f"{DOCS}/toy-1"),),
    preferred={GENERATE: ("toy-1",)},
    endpoint={GENERATE: GENERATION},
)


def count_asked(json_body: Any, files: list | None) -> int:
    """Its requests ask for num_images, not n."""
    return openai_wire.positive_count(json_body.get("num_images") if isinstance(json_body, dict) else None)


PROVIDER = register(
    Provider(
        id="toy",
        label="Toy Images",
        key_env="TOY_API_KEY",
        base_url_env="TOY_BASE_URL",
        default_base_url="https://api.toy.example/v1",
        key_patterns=(r"toy_[A-Za-z0-9]{16,}",),
        error_reader=openai_wire.error_message,
        lasting_refusal=openai_wire.lasting_refusal,
        catalogue=CATALOGUE,
        count_asked=count_asked,
        read_reply=openai_wire.read_reply,
        usage_names=openai_wire.USAGE_NAMES,
    )
)


def generation_body(*, model: str, prompt: str, width: int, height: int, steps: int, n: int) -> dict:
    model = check.model_name(model)
    rules = CATALOGUE.rules(model, GENERATE) or CATALOGUE.endpoint[GENERATE]
    check.prompt(prompt, max_chars=rules.prompt_limit)
    width, height = rules.check_dimensions(model, width, height)
    rules.check_numbers(model, {"n": n, "steps": steps})
    return {"model": model, "prompt": prompt, "width": width, "height": height, "steps": steps, "num_images": n}


parse_images = openai_wire.parse_images
parse_model_ids = openai_wire.parse_model_ids
'''

NODE_MODULE = '''"""Toy Images node (a provider the tests add): generate with width, height and steps."""

from __future__ import annotations

from .common import (
    CATEGORY,
    HIDDEN,
    Call,
    ModelList,
    ModelListCache,
    RemoteImageNode,
    count_input,
    fetch_model_list,
    model_input,
    node_id,
    prompt_input,
    run_calls,
    seed_input,
    with_chosen_model,
)
from .providers import toy


class ToyImageGenerate(RemoteImageNode):
    DESCRIPTION = "Generate images from a prompt with Toy Images (needs TOY_API_KEY)."
    SEARCH_ALIASES = ["toy", "text to image"]
    CATEGORY = f"{CATEGORY}/Toy"
    PROVIDER = toy.PROVIDER
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "info")
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", "What the reply said besides the images (usage).")

    @classmethod
    def INPUT_TYPES(cls):
        side = {"default": 1024, "min": 256, "max": 2048, "step": 8}
        return {
            "required": {
                "prompt": prompt_input(),
                "model": model_input(toy.CATALOGUE, toy.GENERATE, provider="toy"),
                "width": ("INT", {**side, "tooltip": "Width in pixels, a multiple of 8."}),
                "height": ("INT", {**side, "tooltip": "Height in pixels, a multiple of 8."}),
                "steps": ("INT", {"default": 20, "min": 1, "max": 50, "tooltip": "Denoising steps."}),
                "n": count_input("How many images one call returns.", high=4),
                "seed": seed_input(False, "Toy Images"),
            },
            **HIDDEN,
        }

    def call(self, model, prompt, width, height, steps, n, seed=0, unique_id=None):
        call = Call(toy.PROVIDER, toy.GENERATE, model=model, node_id=unique_id)
        with call.context():
            body = with_chosen_model(
                call,
                toy.CATALOGUE,
                toy.GENERATE,
                lambda: _live.get(call.base_url),
                lambda chosen: toy.generation_body(
                    model=chosen, prompt=prompt, width=width, height=height, steps=steps, n=n
                ),
            )
        batch = run_calls(call, lambda job, _: toy.parse_images(job.post_json("images", body).json()), per_call=n)
        return batch.image, batch.describe()


def _models():
    return fetch_model_list(toy.PROVIDER)


_live = ModelListCache(lambda: toy.parse_model_ids(_models()))
MODEL_LIST = ModelList(toy.PROVIDER, lambda: toy.parse_model_ids(_models()))

NODES = {node_id("ToyImageGenerate"): (ToyImageGenerate, "Toy Image Generate")}
'''

EMULATOR_MODULE = '''"""Toy Images emulator (a provider the tests add), strict to its contract: num_images, not n."""

from __future__ import annotations

import time

from ..core.payloads import b64encode
from . import Emulator, fake_key, synth
from .server import EmulatedAPI, Request, Response

MODELS = ("toy-1",)
NUMBERS = {"width": (256, 2048), "height": (256, 2048), "steps": (1, 50), "num_images": (1, 4)}


class ToyAPI(EmulatedAPI):
    name = "toy"

    def __init__(self, token: str = fake_key(name)):
        super().__init__()
        self.token = token
        self.routes = {("GET", "/v1/models"): self.models, ("POST", "/v1/images"): self.images}

    def error(self, status: int, message: str) -> Response:
        return Response.json({"error": {"message": message, "type": "invalid_request_error"}}, status)

    def handle(self, request: Request) -> Response:
        if request.bearer != self.token:
            return self.error(401, "invalid api key")
        return super().handle(request)

    def models(self, request: Request) -> Response:
        return Response.json({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})

    def images(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return self.error(400, "the body must be a JSON object")
        if body.get("model") not in MODELS:
            return self.error(404, f"model {body.get('model')!r} not found")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 2000:
            return self.error(400, "prompt must have 1 to 2000 characters")
        if "n" in body:
            return self.error(400, "unknown field n; use num_images")
        for name, (low, high) in NUMBERS.items():
            value = body.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return self.error(400, f"{name} must be a whole number from {low} to {high}")
        if body["width"] % 8 or body["height"] % 8:
            return self.error(400, "width and height must be multiples of 8")
        data = [
            {"b64_json": b64encode(synth.generate(prompt, body["width"], body["height"], "png", i))}
            for i in range(body["num_images"])
        ]
        usage = {"input_tokens": len(prompt.split()), "output_tokens": 64 * body["num_images"]}
        return Response.json({"created": int(time.time()), "data": data, "usage": usage})


EMULATOR = Emulator(ToyAPI, base_path="/v1")
'''

TARGET_ROW = """    Target(
        name="toy",
        operation="image generation",
        model="toy-1",
        api_path="/v1/images",
        run=lambda **overrides: run_defaults("ToyImageGenerate", **{"prompt": "a toy boat", **overrides}),
        no_links="Toy Images answers b64_json only",
        no_images=_empty_data,
    ),
"""

HELP_PAGE = """# Toy Image Generate

Generates images with Toy Images, an OpenAI-like API.

## What it sends

One `POST {TOY_BASE_URL}/images` with `model`, `prompt`, `width`, `height`, `steps` and
`num_images`.

## Inputs

- `prompt`: what the image should show.
- `model`: `auto` or a model id.
- `width`, `height`: multiples of 8 from 256 to 2048.
- `steps`: 1 to 50.
- `n`: images per call, 1 to 4 (sent as `num_images`).
- `seed`: not sent.

## Outputs

- `image`: the images. `info`: the reply's usage.

## Costs and limits

No public price.

## Example

None yet.
"""

README_KEY_ROW = "| Toy Images | `TOY_API_KEY` | `TOY_BASE_URL` | `https://api.toy.example/v1` |\n"
README_NODE_ROW = f"| [Toy Image Generate](web/docs/{NODE_ID}.md) | text to image with width, height and steps |\n"
GUIDE_SECTION = "\n## Toy Images\n\nAn OpenAI-like API: `num_images`, `width`, `height`, `steps`.\n"
CONTRACT_SECTION = "\n## 6. Toy Images\n\n`POST /v1/images` takes `num_images` (1-4), not `n`.\n"


def _node_translation(node_class) -> dict:
    """The toy's entry in a nodeDefs.json: the English with a CJK mark, so every fact is kept."""
    inputs = node_class.INPUT_TYPES()["required"]
    entry = {
        "display_name": "\u73a9\u5177 Toy Image Generate",
        "description": "\u73a9\u5177\uff1a" + node_class.DESCRIPTION,
        "inputs": {
            name: {"name": f"\u73a9\u5177{index}", "tooltip": "\u73a9\u5177\uff1a" + options.get("tooltip", name)}
            for index, (name, (_, options)) in enumerate(inputs.items())
        },
        "outputs": {
            str(index): {"name": "\u73a9\u5177\u8f93\u51fa", "tooltip": "\u73a9\u5177\uff1a" + tooltip}
            for index, tooltip in enumerate(node_class.OUTPUT_TOOLTIPS)
        },
    }
    entry["inputs"]["control_after_generate"] = {"name": "\u751f\u6210\u540e\u63a7\u5236"}
    return entry


def _insert_after(path: Path, anchor: str, text: str) -> None:
    """Put ``text`` on the line after the first line containing ``anchor``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next((i for i, line in enumerate(lines) if anchor in line), None)
    assert index is not None, f"{path.name}: no line with {anchor!r} to add the toy after"
    lines.insert(index + 1, text)
    path.write_text("".join(lines), encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def take_step(pack: Path, step: str) -> None:
    """One step of docs/development.md "Adding a provider", taken in the copy at ``pack``."""
    if step == "provider module":
        _write(pack / "nodes/providers/toy.py", PROVIDER_MODULE)
    elif step == "node module":
        _write(pack / "nodes/toy.py", NODE_MODULE)
    elif step == "emulator":
        _write(pack / "nodes/emulator/toy.py", EMULATOR_MODULE)
    elif step == "provider table row":
        text = (pack / "tests/provider_table.py").read_text(encoding="utf-8")
        assert "\n]\nBY_NAME = " in text, "tests/provider_table.py: the end of TARGETS moved"
        text = text.replace("\n]\nBY_NAME = ", "\n" + TARGET_ROW + "]\nBY_NAME = ", 1)
        (pack / "tests/provider_table.py").write_text(text, encoding="utf-8")
    elif step == "node ids":
        with (pack / "tests/fixtures/node_ids.txt").open("a", encoding="utf-8") as handle:
            handle.write(f"{NODE_ID}\n")
    elif step == "help page":
        _write(pack / "web/docs" / f"{NODE_ID}.md", HELP_PAGE)
    elif step == "translations":
        _translate(pack)
    elif step == "docs":
        _insert_after(pack / "README.md", "| OpenAI-compatible | `OPENAI_API_KEY`", README_KEY_ROW)
        _insert_after(pack / "README.md", "HostedImages_OpenAICompatListModels.md", README_NODE_ROW)
        with (pack / "docs/providers-guide.md").open("a", encoding="utf-8") as handle:
            handle.write(GUIDE_SECTION)
        with (pack / "docs/providers.md").open("a", encoding="utf-8") as handle:
            handle.write(CONTRACT_SECTION)
    else:
        raise AssertionError(f"no such step: {step}")


def _translate(pack: Path) -> None:
    """The node's entries in every language's nodeDefs.json, its category in main.json."""
    for lang in LANGS:
        defs_path = pack / "locales" / lang / "nodeDefs.json"
        defs = json.loads(defs_path.read_text(encoding="utf-8"))
        defs[NODE_ID] = _node_translation(_ToyNodeFacts)
        defs_path.write_text(json.dumps(defs, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        main_path = pack / "locales" / lang / "main.json"
        main = json.loads(main_path.read_text(encoding="utf-8"))
        main["nodeCategories"]["Toy"] = "\u73a9\u5177"
        main_path.write_text(json.dumps(main, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


class _ToyNodeFacts:
    """The English texts of the toy node (its inputs as the copy defines them, read by _english_inputs)."""

    DESCRIPTION = "Generate images from a prompt with Toy Images (needs TOY_API_KEY)."
    OUTPUT_TOOLTIPS = ("The generated images as one batch.", "What the reply said besides the images (usage).")

    @staticmethod
    def INPUT_TYPES():
        return {"required": _TOY_INPUTS}


_TOY_INPUTS: dict = {}


STEPS = (
    "provider module",
    "node module",
    "emulator",
    "provider table row",
    "node ids",
    "help page",
    "translations",
    "docs",
)

# The pack's own tests the new provider must pass in the copy (-k toy: its cases; the demo and the
# locales run whole, the demo making every registered node's image).
TESTS = [
    "tests/test_provider_parts.py",
    "tests/test_fault_matrix.py",
    "tests/test_keys.py",
    "tests/test_security.py",
    "tests/test_journal.py",
    "tests/test_routes.py",
    "tests/test_bad_inputs.py",
    "tests/test_catalogue.py",
    "tests/test_frontend_assets.py",
    "tests/test_locales.py",
    "tests/test_demo.py",
    "tests/test_pack.py",
]
SELECTION = "toy or Toy or demo or every_locale or every_node_is or every_input or every_output or keep_the_facts"
SELECTION += " or categories or node_ids or core_names or layers or bad_input_is_tried"


def copy_of_the_pack(destination: Path) -> Path:
    """The pack's files as a fresh clone has them (no virtualenv, caches or outputs)."""
    ignored = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "out", ".ruff_cache", "*.pyc", "emulator.env")
    shutil.copytree(ROOT, destination, ignore=ignored)
    return destination


def run_tests(pack: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider", "-k", SELECTION, "-W", "ignore"],
        cwd=pack,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _english_inputs(pack: Path) -> None:
    """The toy node's inputs as the copy defines them (tooltips from the pack's shared inputs)."""
    script = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('toy_pack', {str(pack / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(pack)!r}])\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['toy_pack'] = module\n"
        "spec.loader.exec_module(module)\n"
        f"inputs = module.NODE_CLASS_MAPPINGS[{NODE_ID!r}].INPUT_TYPES()['required']\n"
        "print(json.dumps({name: [value[0] if isinstance(value[0], str) else 'COMBO', "
        "{'tooltip': value[1].get('tooltip', '')}] for name, value in inputs.items()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=pack, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    _TOY_INPUTS.clear()
    _TOY_INPUTS.update({name: tuple(value) for name, value in json.loads(done.stdout.splitlines()[-1]).items()})


def add_the_toy(pack: Path, leave_out: str = "") -> None:
    for step in STEPS:
        if step == leave_out:
            continue
        if step == "translations":
            if "node module" == leave_out:
                continue
            _english_inputs(pack)
        take_step(pack, step)


def summary(done: subprocess.CompletedProcess) -> str:
    return "\n".join((done.stdout + done.stderr).splitlines()[-60:])


def test_a_provider_added_by_the_documented_steps_joins_every_provider_test(tmp_path):
    pack = copy_of_the_pack(tmp_path / "pack")
    add_the_toy(pack)
    done = run_tests(pack, tmp_path)
    assert done.returncode == 0, summary(done)
    # the toy took part (the run passed with these selected): its cases in the fault matrix, the key,
    # security, journal, route, bad-input and parts tests
    verbose = subprocess.run(
        [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider", "-k", "toy or Toy", "--co"],
        cwd=pack,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    for test in (
        "test_fault[toy-",
        "test_a_key_echoed_in_a_successful_reply_stays_out_of_the_string_output[ToyImageGenerate]",
        "test_a_huge_reply_field_does_not_reach_the_info_output[ToyImageGenerate]",
        "test_every_providers_image_call_is_counted_as_its_wire_asked_and_brought[toy]",
        "test_every_model_list_route_offers_the_models_that_can_do_each_operation[toy]",
        "test_bad_input_is_refused_before_any_request[toy-n_above_range]",
        "test_bad_input_is_refused_before_any_request[toy-size_not_multiple_of_16]",
        "test_the_provider_has_an_emulator[toy]",
    ):
        assert test in verbose, f"{test} was not collected"


# Each step left out: the tests fail, naming the part.
LEFT_OUT = {
    "emulator": "nodes.emulator.toy",
    "provider table row": "toy: no provider-table row",
    "node ids": "new node ids: add them to tests/fixtures/node_ids.txt",
    "help page": f"{NODE_ID} has no help page",
    "translations": "entries for exactly the pack's nodes",
    "docs": "toy: no row in the README's key table naming TOY_API_KEY",
}


@pytest.mark.parametrize("step,named", LEFT_OUT.items(), ids=list(LEFT_OUT))
def test_a_step_left_out_fails_a_test_that_names_the_part(step, named, tmp_path):
    pack = copy_of_the_pack(tmp_path / "pack")
    add_the_toy(pack, leave_out=step)
    done = run_tests(pack, tmp_path)
    assert done.returncode != 0, f"leaving out the {step} failed no test"
    assert named in done.stdout + done.stderr, summary(done)

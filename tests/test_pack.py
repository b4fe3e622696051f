"""The pack as ComfyUI sees it: loading, node ids, definitions, layers, example workflows."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, load_pack, mod
from workflow_builder import CORE_NODES, definitions, widget_slots

SNAPSHOT = ROOT / "tests" / "fixtures" / "node_ids.txt"
EXAMPLES = ROOT / "example_workflows"


def test_exports_exactly_what_comfyui_reads(pack):
    public = {name for name in vars(pack) if not name.startswith("_")}
    assert {"NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"} <= public
    assert set(pack.NODE_CLASS_MAPPINGS) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)
    assert (ROOT / pack.WEB_DIRECTORY).is_dir()


def test_node_ids_never_disappear(pack):
    snapshot = set(SNAPSHOT.read_text().split())
    current = set(pack.NODE_CLASS_MAPPINGS)
    assert snapshot - current == set(), "node ids were removed: saved workflows would break"
    assert current - snapshot == set(), "new node ids: add them to tests/fixtures/node_ids.txt"
    assert all(node_id.startswith("HostedImages_") for node_id in current)


@pytest.mark.parametrize("node_id", sorted(load_pack().NODE_CLASS_MAPPINGS))
def test_node_definition_is_complete(pack, node_id):
    cls = pack.NODE_CLASS_MAPPINGS[node_id]
    inputs = cls.INPUT_TYPES()
    assert cls.CATEGORY.startswith("Hosted Images/")
    assert cls.DESCRIPTION and cls.NOT_IDEMPOTENT is True
    assert not getattr(cls, "API_NODE", False), "must not pose as a Comfy partner API node"
    assert callable(getattr(cls, cls.FUNCTION))
    assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
    for section in ("required", "optional"):
        for name, spec in inputs.get(section, {}).items():
            assert len(spec) == 2 and spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
    assert inputs.get("hidden", {}).get("unique_id") == "UNIQUE_ID"
    if "seed" in inputs["required"]:
        assert inputs["required"]["seed"][1]["control_after_generate"] is True
    if "model" in inputs["required"]:
        # any model name passes ComfyUI's validation (headless runs may name new models)
        assert cls.VALIDATE_INPUTS(model="some/brand-new-model") is True


def test_imports_without_comfyui_and_without_network():
    code = (
        "import importlib.util, sys, socket\n"
        "def no_network(*a, **k): raise AssertionError('network touched at import')\n"
        "socket.socket.connect = no_network\n"
        f"spec = importlib.util.spec_from_file_location('p', {str(ROOT / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(ROOT)!r}])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['p'] = m; spec.loader.exec_module(m)\n"
        "assert 'comfy' not in sys.modules and 'server' not in sys.modules\n"
        "print(len(m.NODE_CLASS_MAPPINGS))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(load_pack().NODE_CLASS_MAPPINGS)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


# Who may import what inside the core: each module, the core modules it may import (relative
# names). Anything else -- another core module, or a layer above the core -- breaks the layering.
CORE_IMPORTS = {
    "errors": set(),
    "provider": set(),  # the descriptor: pure data
    "comfy": set(),  # the only module importing ComfyUI
    "clock": set(),  # what day it is: every date rule reads it
    "validation": {"errors"},
    "redaction": {"provider"},  # key shapes come from the registered descriptors
    "payloads": {"errors", "redaction", "validation"},  # what travels, read within bounds: pure
    "failures": {"errors", "payloads", "provider", "redaction", "validation"},  # the wording of failures
    "credentials": {"comfy", "errors", "provider", "redaction"},
    "retries": {"payloads", "errors"},  # pure: testable with a fake send
    "sse": {"errors", "failures", "validation"},  # event streams parsed from bytes as they arrive
    "images": {"comfy", "errors", "payloads", "redaction"},
    "connections": {"credentials", "errors"},  # sessions, each connection's address checked, dropping one
    # with connections, the only one opening connections
    "exchange": {"comfy", "connections", "credentials", "failures", "payloads", "errors", "redaction", "sse"},
    # the spend journal's lines, today's counts and the limits, the summaries: no sockets, no key
    "journal": {"clock", "comfy", "payloads", "errors", "provider", "redaction"},
    "counts": {"journal"},  # what lines add up to: per day, provider or model, money included
    "limits": {"clock", "counts", "errors", "journal", "redaction"},
    "spend": {"clock", "counts", "journal", "limits"},
    "reuse": {"clock"},  # results already paid for, kept a while on disk
    "unsaved": {"comfy", "journal", "payloads", "redaction"},  # paid results of a failed node, saved
    "transport": {
        "comfy",
        "counts",
        "credentials",
        "failures",
        "errors",
        "exchange",
        "journal",
        "limits",
        "payloads",
        "provider",
        "retries",
        "sse",
        "validation",
    },
    # a node's calls -> one batch of images: nothing paid for lost or paid twice
    "batch": {
        "clock",
        "comfy",
        "errors",
        "images",
        "journal",
        "payloads",
        "redaction",
        "reuse",
        "transport",
        "unsaved",
    },
}
# pure core modules
PROVIDER_MAY_IMPORT = {"clock", "errors", "validation", "payloads", "failures", "provider", "redaction"}


def test_layers_are_enforced():
    """Provider modules are pure; only the glue imports ComfyUI; only the exchange opens sockets;
    only the transport asks for a key; node modules see the core only through the facade (common.py)."""
    for path in (ROOT / "nodes" / "providers").glob("*.py"):
        imported = _imports(path)
        assert not imported & {"torch", "requests", "socket", "urllib3", "comfy", "server", "PIL", "numpy"}, path.name
        core = {name.split(".")[3] for name in imported if name.startswith("..core.")} | _core_modules_from(
            path, "..core"
        )
        assert core <= PROVIDER_MAY_IMPORT, f"{path.name} imports core modules {sorted(core - PROVIDER_MAY_IMPORT)}"
    for path in (ROOT / "nodes").rglob("*.py"):
        rel = path.relative_to(ROOT / "nodes").as_posix()
        imported = _imports(path)
        if rel != "core/comfy.py":
            assert not imported & {"comfy", "server", "folder_paths", "comfy_extras", "comfy_api"}, rel
        if not rel.startswith(("core/exchange.py", "core/connections.py", "emulator/", "cli/")):
            assert not imported & {"requests", "urllib3", "socket", "http"}, (
                f"{rel} opens connections; only core/exchange (with core/connections) may"
            )
        if rel != "core/transport.py":
            asks = _names_imported(path, "credentials") & {"api_key", "require_key"}
            assert not asks, f"{rel} asks for a key ({sorted(asks)}); only core/transport may"
        if not rel.startswith("core/"):
            reached = {name.split(".")[-1] for name in imported if name.split(".")[-1] in ("exchange", "retries")}
            assert not reached, f"{rel} reaches into {sorted(reached)}; Call (core/transport) is the way in"
    core_files = {p.stem for p in (ROOT / "nodes" / "core").glob("*.py")} - {"__init__"}
    assert core_files == set(CORE_IMPORTS), (
        f"core modules without a row in CORE_IMPORTS: {sorted(core_files ^ set(CORE_IMPORTS))}"
    )
    for name, allowed in CORE_IMPORTS.items():
        path = ROOT / "nodes" / "core" / f"{name}.py"
        relative = {module for module in _imports(path) if module.startswith(".")}
        assert not any(module.startswith("..") for module in relative), f"core/{name}.py imports a layer above the core"
        used = {module.lstrip(".") for module in relative if module != "."} | _core_modules_from(path, ".")
        assert used <= allowed, f"core/{name}.py imports {sorted(used - allowed)}, which it may not"
    for path in ROOT.glob("nodes/*.py"):  # node modules: no HTTP, no pixel code
        assert not _imports(path) & {"requests", "PIL", "numpy"}, path.name
    not_node_modules = {"__init__", *load_pack().nodes.NOT_NODE_MODULES}  # the facade, the routes, the doctor
    node_modules = [p for p in ROOT.glob("nodes/*.py") if p.stem not in not_node_modules]
    assert {p.stem for p in node_modules} >= {"ionos", "aigne", "agnic", "ovh", "openai_compat"}
    for path in node_modules:  # ... and they import only the facade and their own provider module
        relative = {name for name in _imports(path) if name.startswith(".")}
        assert relative <= {".common", ".providers"}, (
            f"{path.name} imports {sorted(relative - {'.common', '.providers'})}"
        )
        assert _provider_imports(path) <= {path.stem}, f"{path.name} imports another provider's module"


def _core_modules_from(path: Path, package: str) -> set[str]:
    """Modules named in ``from <package> import a, b`` (e.g. ``from ..core import validation``)."""
    level = package.count(".")
    module = package.lstrip(".") or None
    return {
        alias.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level == level and node.module == module
        for alias in node.names
    }


def _names_imported(path: Path, module: str) -> set[str]:
    """Names imported from a module whose last part is ``module`` (e.g. ``.credentials``)."""
    return {
        alias.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == module
        for alias in node.names
    }


def _provider_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "providers"
        for alias in node.names
    }


# --- example workflows ---------------------------------------------------------------------------

UI_EXAMPLES = sorted(EXAMPLES.glob("*.json"))


def test_every_node_has_an_example(pack):
    used = set()
    for path in UI_EXAMPLES:
        used |= {node["type"] for node in json.loads(path.read_text())["nodes"]}
    assert set(pack.NODE_CLASS_MAPPINGS) - used == set()


def test_examples_are_what_the_builder_writes():
    from make_examples import all_examples, render, template_name

    built = all_examples()
    assert sorted(p.stem for p in UI_EXAMPLES) == sorted(template_name(w) for w in built.values())
    for name, workflow in built.items():
        assert (EXAMPLES / f"{template_name(workflow)}.json").read_text() == render(workflow.ui()), name
        assert (EXAMPLES / "api" / f"{name}.json").read_text() == render(workflow.api()), name


@pytest.mark.parametrize("path", UI_EXAMPLES, ids=lambda p: p.stem)
def test_ui_example_matches_node_definitions(path):
    defs = definitions()
    workflow = json.loads(path.read_text())
    nodes = {node["id"]: node for node in workflow["nodes"]}
    uses_remote = uses_local = False
    for node in workflow["nodes"]:
        assert node["type"] in defs, f"unknown node type {node['type']}"
        uses_remote |= node["type"].startswith("HostedImages_")
        uses_local |= node["type"] in CORE_NODES
        slots = widget_slots(defs[node["type"]])
        assert len(node["widgets_values"]) == len(slots), f"{node['type']}: widget count"
        for (name, real), value in zip(slots, node["widgets_values"], strict=True):
            spec = dict(
                (n, s) for sec in ("required", "optional") for n, s in defs[node["type"]]["input"].get(sec, {}).items()
            ).get(name)
            if real and isinstance(spec[0], list) and node["type"].startswith("HostedImages_") and name != "model":
                assert value in spec[0], f"{node['type']}.{name}={value!r} not in its list"
    assert uses_remote and uses_local, "each example chains a remote node with local ones"
    for link_id, source, out_slot, target, in_slot, kind in workflow["links"]:
        out = nodes[source]["outputs"][out_slot]
        assert link_id in out["links"] and out["type"] == kind
        assert nodes[target]["inputs"][in_slot]["link"] == link_id


@pytest.mark.parametrize("path", sorted((EXAMPLES / "api").glob("*.json")), ids=lambda p: p.stem)
def test_api_example_names_real_inputs(path):
    defs = definitions()
    prompt = json.loads(path.read_text())
    for node in prompt.values():
        definition = defs[node["class_type"]]
        known = {n for sec in ("required", "optional") for n in definition["input"].get(sec, {})}
        required = set(definition["input"].get("required", {}))
        assert set(node["inputs"]) <= known, node["class_type"]
        assert required <= set(node["inputs"]), f"{node['class_type']} misses {required - set(node['inputs'])}"
        for value in node["inputs"].values():
            if isinstance(value, list):
                assert value[0] in prompt, f"link to a missing node {value[0]}"


def test_every_template_has_a_thumbnail():
    """ComfyUI's template browser shows <name>.jpg beside <name>.json (tests/make_thumbnails.py)."""
    from PIL import Image

    for path in UI_EXAMPLES:
        thumbnail = path.with_suffix(".jpg")
        assert thumbnail.is_file(), f"{path.stem} has no thumbnail"
        with Image.open(thumbnail) as picture:
            assert picture.format == "JPEG" and max(picture.size) <= 512
    orphans = {path.stem for path in EXAMPLES.glob("*.jpg")} - {path.stem for path in UI_EXAMPLES}
    assert not orphans, f"thumbnails of examples that no longer exist: {sorted(orphans)}"


# --- ready for the Comfy Registry ---------------------------------------------------------------------


def test_python_sources_encode_on_windows():
    """comfy-test lint --strict: Windows' cp1252 must encode every character of the Python sources."""
    for path in [*ROOT.glob("*.py"), *(ROOT / "nodes").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        try:
            text.encode("cp1252")
        except UnicodeEncodeError as exc:
            line = text[: exc.start].count("\n") + 1
            raise AssertionError(f"{path.relative_to(ROOT)}:{line} holds {text[exc.start]!r}") from None


def test_the_web_extension_is_named_under_the_packs_namespace():
    """Two extensions of one name break each other; the Registry's linter wants the display name first."""
    display = re.search(r'^DisplayName = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.M).group(1)
    namespace = display.replace(" ", "").lower()
    names = re.findall(r'registerExtension\(\{\s*name: "([^"]+)"', (ROOT / "web" / "hosted_images.js").read_text())
    assert names and all(name.startswith(namespace + ".") for name in names), names


def test_the_registry_zip_leaves_out_what_only_developers_use():
    ignored = {
        line.strip() for line in (ROOT / ".comfyignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    }
    assert {"tests/", ".ci/", "nodes/cli/bench.py", "Makefile"} <= ignored
    for kept in ("nodes/emulator/", "nodes/cli/headless.py", "nodes/cli/demo.py", "example_workflows/", "locales/"):
        assert kept not in ignored, kept


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_no_two_nodes_of_an_example_overlap(path):
    """Each node's box -- its title bar and the room its widgets take (the builder's estimate, which
    the frontends keep as the least size) -- apart from every other's."""
    from workflow_builder import overlaps

    nodes = json.loads(path.read_text())["nodes"]
    assert overlaps(nodes) == [], [(n["id"], n["type"], n["pos"], n["size"]) for n in nodes]


# Providers' wire fields the core once read (the journal's own line fields, e.g. "usage", are its own)
WIRE_FIELDS = {"n", "input", "data", "choices", "messages", "errorCode", "insufficient_quota", "b64_json", "code"}


def test_the_core_names_no_provider_and_reads_no_wire_field():
    """Wire knowledge lives with the provider (its descriptor's hooks); the core names no provider,
    in code or comments, and no string of its code is one of a provider's fields."""
    names = set()
    for provider in mod("nodes.core.provider").registered():
        names.add(provider.id.lower())
        names.add(re.findall(r"[A-Za-z]+", provider.label)[0].lower())  # its brand: "AIGNE" of "AIGNE Hub"
    assert {"ionos", "aigne", "agnic", "ovh", "openai"} <= names
    pattern = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b", re.IGNORECASE)
    for path in sorted((ROOT / "nodes" / "core").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        found = sorted({m.group(0) for m in pattern.finditer(text)})
        assert not found, f"core/{path.name} names {found}"
        read = _fields_used(text) & WIRE_FIELDS - ({"data"} if path.name == "sse.py" else set())  # SSE's own
        assert not read, f"core/{path.name} reads {sorted(read)}"


def _fields_used(source: str) -> set[str]:
    """The string keys a module reads or writes: ``x["key"]``, ``x.get("key")``, ``{"key": ...}``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        keys = []
        if isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            keys = node.args[:1]
        elif isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]
        found |= {key.value for key in keys if isinstance(key, ast.Constant) and isinstance(key.value, str)}
    return found

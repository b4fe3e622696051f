"""Builds example workflows in both of ComfyUI's formats from one description.

UI format (what the template browser and drag-and-drop load) needs each node's widget values in
input order, with the extra value a ``control_after_generate`` seed and an ``image_upload`` combo
add; API format (what ``/prompt`` takes) needs inputs by name. Node definitions come from the
pack itself and from a snapshot of ComfyUI's ``/object_info`` for the core nodes used.
"""

from __future__ import annotations

import json
from pathlib import Path

PACK_LAYOUT = 2  # the web extension's widget layout the examples are written in (prompt before model)

HERE = Path(__file__).resolve().parent
CORE_NODES = json.loads((HERE / "fixtures" / "comfyui_core_nodes.json").read_text())
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def pack_definitions() -> dict:
    from conftest import load_pack

    pack = load_pack()
    definitions = {}
    for node_type, cls in pack.NODE_CLASS_MAPPINGS.items():
        inputs = cls.INPUT_TYPES()
        order = {section: list(inputs.get(section, {})) for section in ("required", "optional")}
        definitions[node_type] = {
            "input": {section: dict(inputs.get(section, {})) for section in ("required", "optional")},
            "input_order": order,
            "output": list(cls.RETURN_TYPES),
            "output_name": list(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)),
        }
    return definitions


def definitions() -> dict:
    return {**CORE_NODES, **pack_definitions()}


def is_widget(spec) -> bool:
    kind = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if options.get("forceInput"):
        return False
    return isinstance(kind, list) or kind in WIDGET_TYPES


def ordered_inputs(definition) -> list[tuple[str, list]]:
    result = []
    for section in ("required", "optional"):
        names = (definition.get("input_order") or {}).get(section) or list(definition["input"].get(section, {}))
        for name in names:
            result.append((name, list(definition["input"][section][name])))
    return result


def widget_slots(definition) -> list[tuple[str, bool]]:
    """(input name or None for an extra UI-only value, is_real_input) in widgets_values order."""
    slots = []
    for name, spec in ordered_inputs(definition):
        if not is_widget(spec):
            continue
        slots.append((name, True))
        options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        if options.get("control_after_generate"):
            slots.append(("control_after_generate", False))
        if options.get("image_upload"):
            slots.append(("upload", False))
    return slots


TITLE_HEIGHT = 30  # LiteGraph's title bar, drawn above a node's pos
SLOT_HEIGHT = 20
WIDGET_HEIGHT = 24  # a widget's row, its margin included
# nodes that show a picture or text once they have run, and how much room it takes
SHOWS = {"PreviewImage": 260, "SaveImage": 260, "LoadImage": 260, "PreviewAny": 120}


def estimated_size(node_type: str, definition: dict) -> list[int]:
    """The room a node takes on the canvas (without its title bar), as the frontends lay it out --
    rounded up, so that the saved size is the one drawn and nodes placed apart stay apart."""
    rows = max(len([spec for _, spec in ordered_inputs(definition) if not is_widget(spec)]), len(definition["output"]))
    height = 12 + rows * SLOT_HEIGHT
    for name, real in widget_slots(definition):
        spec = dict(ordered_inputs(definition)).get(name) if real else None
        options = spec[1] if spec and len(spec) > 1 and isinstance(spec[1], dict) else {}
        height += 110 if options.get("multiline") else WIDGET_HEIGHT
    if node_type.startswith("HostedImages_") and "model" in definition["input"].get("required", {}):
        height += WIDGET_HEIGHT  # the refresh models button
    height += SHOWS.get(node_type, 0)
    return [360 if node_type.startswith("HostedImages_") else 320, height]


def overlaps(nodes: list[dict], gap: int = 10) -> list[tuple[int, int]]:
    """Pairs of node ids whose boxes (title bar included) come closer than ``gap``."""
    boxes = [
        (n["id"], n["pos"][0], n["pos"][1] - TITLE_HEIGHT, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
        for n in nodes
    ]
    found = []
    for index, (a, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for b, bx0, by0, bx1, by1 in boxes[index + 1 :]:
            if ax0 < bx1 + gap and bx0 < ax1 + gap and ay0 < by1 + gap and by0 < ay1 + gap:
                found.append((a, b))
    return found


class Workflow:
    def __init__(self, title: str):
        self.title = title
        self.nodes: list[dict] = []
        self.links: list[list] = []
        self.defs = definitions()

    def node(self, node_type: str, pos=(0, 0), title: str | None = None, **values) -> int:
        """Add a node; widget inputs from ``values`` (defaults otherwise); links via ``link``."""
        definition = self.defs[node_type]
        node_id = len(self.nodes) + 1
        widgets = []
        for name, real in widget_slots(definition):
            if not real:
                widgets.append(values.pop(name, "fixed" if name == "control_after_generate" else "image"))
                continue
            spec = dict(ordered_inputs(definition))[name]
            options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            default = options.get("default", spec[0][0] if isinstance(spec[0], list) and spec[0] else None)
            widgets.append(values.pop(name, default))
        if values:
            raise KeyError(f"{node_type} has no widgets {sorted(values)}")
        inputs = [
            {"name": name, "type": spec[0] if isinstance(spec[0], str) else "COMBO", "link": None}
            for name, spec in ordered_inputs(definition)
            if not is_widget(spec)
        ]
        outputs = [
            {"name": name, "type": kind, "links": [], "slot_index": index}
            for index, (kind, name) in enumerate(
                zip(definition["output"], definition.get("output_name") or definition["output"], strict=True)
            )
        ]
        node = {
            "id": node_id,
            "type": node_type,
            "pos": list(pos),
            "size": estimated_size(node_type, definition),
            "flags": {},
            "order": node_id - 1,
            "mode": 0,
            "inputs": inputs,
            "outputs": outputs,
            "properties": {
                "Node name for S&R": node_type,
                **({"hosted_images_layout": PACK_LAYOUT} if node_type.startswith("HostedImages_") else {}),
            },
            "widgets_values": widgets,
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node_id

    def link(self, source: int, output: int, target: int, input_name: str) -> None:
        link_id = len(self.links) + 1
        src, dst = self.nodes[source - 1], self.nodes[target - 1]
        slot = next(i for i, item in enumerate(dst["inputs"]) if item["name"] == input_name)
        kind = src["outputs"][output]["type"]
        src["outputs"][output]["links"].append(link_id)
        dst["inputs"][slot]["link"] = link_id
        self.links.append([link_id, source, output, target, slot, kind])

    def ui(self) -> dict:
        return {
            "last_node_id": len(self.nodes),
            "last_link_id": len(self.links),
            "nodes": self.nodes,
            "links": self.links,
            "groups": [],
            "config": {},
            "extra": {"ds": {"scale": 1, "offset": [0, 0]}, "title": self.title},
            "version": 0.4,
        }

    def api(self) -> dict:
        prompt = {}
        for node in self.nodes:
            definition = self.defs[node["type"]]
            inputs = {}
            values = iter(node["widgets_values"])
            for name, real in widget_slots(definition):
                value = next(values)
                if real:
                    inputs[name] = value
            for item in node["inputs"]:
                if item["link"] is not None:
                    link = next(candidate for candidate in self.links if candidate[0] == item["link"])
                    inputs[item["name"]] = [str(link[1]), link[2]]
            prompt[str(node["id"])] = {
                "class_type": node["type"],
                "inputs": inputs,
                "_meta": {"title": node.get("title", node["type"])},
            }
        return prompt

"""Node registry: every provider's node module contributes its NODES table here."""

from __future__ import annotations

from . import ionos, openai_compat

_MODULES = (ionos, openai_compat)

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
for _module in _MODULES:
    for _node_id, (_cls, _display_name) in _module.NODES.items():
        NODE_CLASS_MAPPINGS[_node_id] = _cls
        NODE_DISPLAY_NAME_MAPPINGS[_node_id] = _display_name

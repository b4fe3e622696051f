"""Node registry: every provider's node module contributes its NODES table here."""

from __future__ import annotations

from . import agnic, aigne, ionos, openai_compat, ovh

_MODULES = (ionos, aigne, agnic, ovh, openai_compat)

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
MODEL_LISTS = {}  # provider id -> function returning the live model ids (for the server route)
PROVIDERS = {}  # provider id -> core.credentials.Provider (for the key status route)
for _module in _MODULES:
    MODEL_LISTS.update(getattr(_module, "MODEL_LISTS", {}))
    PROVIDERS.update({provider.id: provider for provider in getattr(_module, "PROVIDERS", ())})
    for _node_id, (_cls, _display_name) in _module.NODES.items():
        NODE_CLASS_MAPPINGS[_node_id] = _cls
        NODE_DISPLAY_NAME_MAPPINGS[_node_id] = _display_name

"""Node registry: every node module (``nodes/<provider>.py``) contributes its NODES table here,
and its provider's descriptor and model list (``MODEL_LIST``) to the server routes."""

from __future__ import annotations

import importlib
import pkgutil

# the facade, the server routes and the doctor; every other module here holds one provider's nodes
NOT_NODE_MODULES = {"common", "doctor", "routes"}

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
MODEL_LISTS = {}  # provider id -> common.ModelList (for the refresh button's route)
PROVIDERS = {}  # provider id -> core.provider.Provider (for the key status route)
for _found in pkgutil.iter_modules(__path__):
    if _found.ispkg or _found.name in NOT_NODE_MODULES:
        continue
    _module = importlib.import_module(f".{_found.name}", __name__)
    for _node_id, (_cls, _display_name) in _module.NODES.items():
        NODE_CLASS_MAPPINGS[_node_id] = _cls
        NODE_DISPLAY_NAME_MAPPINGS[_node_id] = _display_name
        PROVIDERS.setdefault(_cls.PROVIDER.id, _cls.PROVIDER)
    _model_list = getattr(_module, "MODEL_LIST", None)
    if _model_list is not None:
        MODEL_LISTS[_model_list.provider.id] = _model_list

"""Hosted Image APIs for ComfyUI: IONOS, AIGNE Hub, Agnic, OVH and any OpenAI-compatible server."""

from . import nodes as _nodes
from .nodes.routes import register as _register_routes

NODE_CLASS_MAPPINGS = _nodes.NODE_CLASS_MAPPINGS
NODE_DISPLAY_NAME_MAPPINGS = _nodes.NODE_DISPLAY_NAME_MAPPINGS
WEB_DIRECTORY = "./web"

_register_routes(_nodes.MODEL_LISTS, _nodes.PROVIDERS, _nodes.NODE_CLASS_MAPPINGS)  # only inside ComfyUI

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]

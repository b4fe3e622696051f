"""Shared core: images, payloads, transport, credentials, validation and the ComfyUI glue."""

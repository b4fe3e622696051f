"""Shared core, from the bottom up: errors, provider (descriptors, operations), comfy (the only
ComfyUI import), clock, validation, redaction, payloads, failures, credentials, retries, sse (event
streams), images, connections (the only sockets), exchange, journal, limits, spend, reuse, unsaved,
transport (``Call``, the only code that asks for a key) and batch. No module names a provider."""

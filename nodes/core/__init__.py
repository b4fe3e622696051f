"""Shared core, from the bottom up: errors, provider (descriptors), comfy (the only ComfyUI import),
payloads, validation, redaction, envelopes, credentials, retries, sse (event streams), images,
exchange (the only connections), journal (spend and daily limits) and transport (``Call``, the only
code that asks for a key)."""

"""Pure mappings between node inputs and each provider's wire format (no torch, no sockets)."""

"""The descriptor: everything the core needs to know about one provider, in one place.

Each provider module (``nodes/providers/<provider>.py``) declares one ``Provider`` and registers
it. ``Call`` reads its key and endpoint variables, error reader, hints and anonymous mode from it;
redaction reads the key shapes of every registered provider; the routes, the emulator, the demo
and the tests read its variables. Pure data: no sockets, no ComfyUI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What a ``Call`` does for a node, one name each: the catalogue keys its model rules by GENERATE and
# EDIT, the routes take them as ``?operation=``; errors, progress text and journal lines show the words.
GENERATE = "generate"
EDIT = "edit"
LIST_MODELS = "list models"
OPERATION_WORDS = {GENERATE: "image generation", EDIT: "image edit", LIST_MODELS: "model list"}


@dataclass(frozen=True)
class Anonymous:
    """How a provider serves calls made without a key (some take calls without a token, rate-limited)."""

    note: str = ""  # progress text while no key is set, e.g. the lower rate limit
    status_hints: Mapping[int, str] = field(default_factory=dict)  # replace the provider's own for such calls


@dataclass(frozen=True)
class Provider:
    id: str  # section name in the credentials file, route names
    label: str  # what users read in messages
    key_env: str
    base_url_env: str
    default_base_url: str  # "" when the user must name one
    anonymous: Anonymous | None = None  # None: every call needs a key
    status_hints: Mapping[int, str] = field(default_factory=dict)  # per HTTP status, beside the pack's own
    error_reader: Callable[[Any], str] | None = None  # its error envelope -> its words; None: the plain reader
    # a 429 or 503 whose envelope means waiting cannot help (out of quota, no route): (status, body) -> the
    # hint, else ''; such a reply is not retried
    lasting_refusal: Callable[[int, Any], str] | None = None
    key_patterns: tuple[str, ...] = ()  # regular expressions of its keys' shape, redacted wherever they appear
    # a result link that no longer works: adds what the provider's links are like to the error, in place
    explain_expired_link: Callable[[Any], None] | None = None
    catalogue: Any = None  # its dated model catalogue (``providers.catalogue.Catalogue``)
    base_id: str = ""  # on a copy that takes its key from what a node names: the id of the provider itself
    # What its wire format says, read by the spend journal (which knows no provider's fields):
    # how many images a request asks for (JSON body, multipart parts) ...
    count_asked: Callable[[Any, list | None], int] | None = None
    # ... what a JSON reply brought: (images, its usage object, its request id) ...
    read_reply: Callable[[Any], tuple[int, Any, str]] | None = None
    # ... and its usage figures by name (dotted for nested ones) -> the journal's names: input_tokens,
    # output_tokens, total_tokens, input_text_tokens, input_image_tokens, credits, cost
    usage_names: Mapping[str, str] = field(default_factory=dict)
    # derived: whether every call needs a key, and the provider's own id whatever key it uses (the
    # spend journal and the daily limits name it)
    key_required: bool = field(init=False)
    own_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_required", self.anonymous is None)
        object.__setattr__(self, "own_id", self.base_id or self.id)


_registered: dict[str, Provider] = {}
# every registered provider's key shapes, for redaction (kept as they register: redaction runs on
# every message and log line)
KEY_PATTERNS: list[str] = []


def register(provider: Provider) -> Provider:
    """Make ``provider`` known to redaction and to whoever lists the providers; returns it."""
    _registered[provider.id] = provider
    KEY_PATTERNS.extend(p for p in provider.key_patterns if p not in KEY_PATTERNS)
    return provider


def registered_provider(provider_id: str) -> Provider:
    """The provider registered under ``provider_id`` (KeyError when none is)."""
    return _registered[provider_id]


def registered() -> list[Provider]:
    """Every registered provider, in the order they were registered."""
    return list(_registered.values())

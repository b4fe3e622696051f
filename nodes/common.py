"""The small facade node modules build on: shared inputs, running calls off the event loop,
encoding an edit's inputs as the provider declares, and running a node's provider calls into one
ordered batch of images -- with nothing paid for lost.

Node modules import only this module and their own provider module: the operations they need
from the core (``Call``, ``encode_edit_inputs``, ``RemoteImageError``) are offered here, and
no core module is handed on whole."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .core import comfy, limits, reuse
from .core.batch import Batch, run_calls, stream_images  # noqa: F401 -- for node modules
from .core.credentials import anonymous_mode
from .core.errors import InputError, OptionRefused, RemoteImageError
from .core.images import encode_edit_inputs  # noqa: F401 -- for node modules
from .core.provider import LIST_MODELS, Provider
from .core.redaction import redact
from .core.transport import Call
from .core.unsaved import recent_unsaved  # noqa: F401 -- for the routes

log = logging.getLogger("hosted_images")

T = TypeVar("T")

PACK = "HostedImages"
CATEGORY = "Hosted Images"

HIDDEN = {"hidden": {"unique_id": "UNIQUE_ID"}}
AUTO_MODEL = "auto"  # a model combo's first entry: resolved at run time (``choose_model``)


def input_defaults(node_class, sections: Sequence[str] = ("required", "optional")) -> dict:
    """Every widget input of a node at its default, as a new node in the UI has them (a combo
    without one: its first entry)."""
    values = {}
    spec = node_class.INPUT_TYPES()
    for section in sections:
        for name, (kind, *rest) in spec.get(section, {}).items():
            options = rest[0] if rest else {}
            if isinstance(kind, list):
                values[name] = options.get("default", kind[0])
            elif "default" in options:
                values[name] = options["default"]
    return values


def input_kinds(node_class) -> dict[str, str]:
    """input name -> its type (IMAGE, MASK, INT, ...; a combo as COMBO), required and optional: what
    the demo and the tests ask of a node to know what it takes."""
    spec = node_class.INPUT_TYPES()
    return {
        name: kind if isinstance(kind, str) else "COMBO"
        for section in ("required", "optional")
        for name, (kind, *_) in spec.get(section, {}).items()
    }


def node_id(name: str) -> str:
    return f"{PACK}_{name}"


def prompt_input(tooltip: str = "What the image should show.") -> tuple:
    return ("STRING", {"multiline": True, "default": "", "tooltip": tooltip})


def model_input(catalogue, operation: str, tooltip: str = "", *, provider: str = "", managed=()) -> tuple:
    """A model combo: ``auto`` first and by default, then the catalogue's models served today for
    ``operation``. ``provider`` names the live list the web extension's refresh button loads;
    ``managed``: the node's inputs the extension hides while the chosen model does not take them
    (``Catalogue.inputs_taken``) and they hold their defaults."""
    if not tooltip:
        tooltip = (
            "auto: at run time, the pack's preferred model for this operation among those the provider serves now "
            "(the progress text and info say which). Or the provider's model id; the list holds the known image "
            "models."
        )
        if provider:
            tooltip += (
                " The refresh models button loads the provider's live list of models that can do this node's operation."
            )
        tooltip += (
            " '(type a model id…)' at the end of the list takes any other id; API-format workflows may name any model."
        )
    models = [AUTO_MODEL, *catalogue.served(operation)]
    options = {"default": AUTO_MODEL, "tooltip": tooltip}
    if provider:
        options["hosted_images_provider"] = provider
    if managed:
        options["hosted_images_inputs"] = {
            "managed": list(managed),
            "models": catalogue.inputs_taken(operation, managed),
        }
    return (models, options)


def with_chosen_model(
    call: Call, catalogue, operation: str, listed: Callable[[], Sequence[str] | None], build: Callable[[str], T]
) -> T:
    """``build(model)`` for the model this run sends (docs/design.md, "No dependence on the day it
    runs"): the one the user named, as named -- never swapped; for ``auto``, the first model the
    catalogue prefers for the operation that the provider serves now (``listed()``: its live list,
    None when it has none or it could not be read) and that takes the options as set (``build``
    raises OptionRefused for one that does not; any other refusal is the input's own). Every
    input is checked against the catalogue's own picks before the list is read, so a bad input
    sends nothing. What ``auto`` became is said in
    the progress text, in ``info`` (``call.chosen``) and in the journal line."""
    named = (call.model or "").strip()
    if named.lower() != AUTO_MODEL:
        return build(named)
    with call.context():
        _first_that_builds(catalogue.auto(operation, None), build)
        model, built = _first_that_builds(catalogue.auto(operation, listed()), build)
    call.model, call.chosen = model, f"auto -> {model}"
    call.progress(call.chosen)
    comfy.note_for_last_line(call.chosen)
    return built


def _first_that_builds(models: Sequence[str], build: Callable[[str], T]) -> tuple[str, T]:
    """(model, build(model)) of the first model that takes the options as set; else the first one's refusal."""
    first_refusal = None
    for model in models:
        try:
            return model, build(model)
        except OptionRefused as exc:
            first_refusal = first_refusal or exc
        except InputError:
            if first_refusal is None:
                raise  # the input's own fault, whatever the model
    raise first_refusal


def seed_input(sent: bool, provider: str) -> tuple:
    """A seed with ComfyUI's control_after_generate; where the API has no seed, new nodes keep it fixed."""
    options = {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True}
    if sent:
        options["tooltip"] = f"Sent to {provider} as the generation seed."
    else:
        options["tooltip"] = (
            f"Not sent: {provider} takes no seed. It is fixed on new nodes, so Run does not call (and bill) "
            "again for the same inputs; change it, or set it to randomize, to get a new image."
        )
        # frontends before 1.3x take control_after_generate as a bare flag (and refuse a mode name there),
        # so the web extension sets the mode on new nodes
        options["hosted_images_control_default"] = "fixed"
    return ("INT", options)


def count_input(tooltip: str, high: int = 10) -> tuple:
    return ("INT", {"default": 1, "min": 1, "max": high, "tooltip": tooltip})


def size_inputs(choices: Sequence[str], tooltip: str) -> dict:
    """A size combo (its first choice the default, its last "custom") and the width and height
    that custom uses: presets stay one click away, any WIDTHxHEIGHT stays possible."""
    side = {"default": 1024, "min": 16, "max": 8192, "step": 16}
    custom = f"Used when size is {choices[-1]}; the model's size rules apply."
    return {
        "size": (list(choices), {"default": choices[0], "tooltip": tooltip}),
        "width": ("INT", {**side, "tooltip": custom}),
        "height": ("INT", {**side, "tooltip": custom}),
    }


@dataclass(frozen=True)
class ModelList:
    """A provider's model list as its node module offers it (``MODEL_LIST``): the live image model
    ids, fetched on the server with the key, for the refresh button's route and the doctor. A
    node's own runs keep what the list says per endpoint in a ``ModelListCache``; one ``GET`` of
    it is ``fetch_model_list``."""

    provider: Provider
    fetch: Callable[..., list[str]]  # (**connection) -> the live image model ids; blocking
    connection: tuple[str, ...] = ()  # node inputs the route passes on to fetch, e.g. base_url
    public: bool = False  # the list needs no key (so reading it says nothing about the key)

    @property
    def label(self) -> str:
        return self.provider.label

    def for_operation(self, ids: list[str], operation: str) -> list[str]:
        """The ids that can do the operation ("generate" or "edit"), by the provider's catalogue."""
        return self.provider.catalogue.able(ids, operation)


class RemoteImageNode:
    """Base of every node: remote calls are never cached away and take any model name headless."""

    FUNCTION = "run"
    NOT_IDEMPOTENT = True
    PROVIDER: Provider  # the provider's descriptor (``providers.<provider>.PROVIDER``)

    @classmethod
    def VALIDATE_INPUTS(cls, model=None):
        # Listing ``model`` here tells ComfyUI to skip its combo check, so API-format workflows
        # may name models the built-in list does not know. Emptiness is checked at run time.
        return True

    async def run(self, **inputs):
        """Run ``call`` off the event loop; the node's progress text ends with done, failed or cancelled."""
        node = inputs.get("unique_id")
        started = time.monotonic()
        comfy.remember_event_loop()
        self._notes = comfy.start_notes()
        reuse.remember_inputs(inputs)
        try:
            # spend hook: the node's whole ask against the daily image limits, before anything is sent
            with (
                limits.daily_limits(self.PROVIDER.own_id, self.PROVIDER.label, self.images_asked(inputs)),
                contextlib.ExitStack() as held,  # and the daily budgets, once the run's estimate is made
            ):
                token = limits.RUN_HOLD.set(held)
                try:
                    result = await asyncio.to_thread(self.call, **inputs)
                finally:
                    limits.RUN_HOLD.reset(token)
        except BaseException as exc:
            self._last_line(node, final_line(exc, time.monotonic() - started))
            raise
        self._last_line(node, f"done · {self.summary(result)} · {time.monotonic() - started:.0f}s")
        return result

    def _last_line(self, node, text: str) -> None:
        """The node's last progress line; it names a folder (saved results) only to the client
        that queued the prompt."""
        notes = [*getattr(self, "_notes", ()), self.progress_note()]
        line = " · ".join(part for part in (self.PROVIDER.label, text, *notes) if part)
        comfy.progress_text(node, line, private="saved to " in line)

    def call(self, **inputs):  # pragma: no cover - every node overrides it
        raise NotImplementedError

    def images_asked(self, inputs: dict) -> int:
        """Every image the node's calls will ask for, for the daily limits: its n or count (0 for
        nodes without one). Nodes that make n per input image say so by overriding this."""
        for name in ("n", "count"):
            value = inputs.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(value, 0)
        return 0

    def progress_note(self) -> str:
        """Extra text for the last progress line: that calls are anonymous and rate-limited, when they are."""
        mode = anonymous_mode(self.PROVIDER)
        return mode.note if mode else ""

    def summary(self, result: tuple) -> str:
        """What a finished run returned, for its last progress line."""
        # not strict: a progress line must never fail a run whose images were paid for
        counts = [len(value) for kind, value in zip(self.RETURN_TYPES, result, strict=False) if kind == "IMAGE"]
        total = sum(counts)
        return f"{total} image{'' if total == 1 else 's'}"


def final_line(exc: BaseException, seconds: float) -> str:
    """The last progress line of a run that raised."""
    if isinstance(exc, comfy.CANCELLATIONS):
        return f"cancelled · {seconds:.0f}s"
    first = redact(str(exc)).strip().splitlines()
    reason = first[0] if first else type(exc).__name__
    return f"failed · {seconds:.0f}s: {reason[:200]}"


class ListModelsNode(RemoteImageNode):
    """Base of the List Models nodes; a subclass supplies ``list_models(unique_id)``."""

    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("models",)
    OUTPUT_TOOLTIPS = ("One model id per line.",)
    FILTER_EXAMPLE = "FLUX"

    @classmethod
    def extra_inputs(cls) -> dict:
        """Optional inputs besides ``filter`` (e.g. where to connect), passed on to list_models."""
        return {}

    @classmethod
    def INPUT_TYPES(cls):
        tooltip = f"Keep only ids containing this text (case-insensitive), e.g. {cls.FILTER_EXAMPLE}."
        optional = {"filter": ("STRING", {"default": "", "tooltip": tooltip}), **cls.extra_inputs()}
        return {"required": {}, "optional": optional, **HIDDEN}

    def list_models(self, unique_id=None, **connection) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def call(self, filter="", unique_id=None, **connection):  # noqa: A002 -- the input's name in the UI
        needle = (filter or "").strip().lower()
        return ("\n".join(i for i in self.list_models(unique_id, **connection) if needle in i.lower()),)

    def summary(self, result: tuple) -> str:
        total = len(result[0].splitlines())
        return f"{total} model{'' if total == 1 else 's'}"


# --- live model lists ------------------------------------------------------------------------


def fetch_model_list(
    provider: Provider, path: str = "models", parse: Callable[[Any], T] | None = None, **call_options
) -> T | Any:
    """One ``GET`` of a provider's model list (the operation "model list"), parsed by ``parse``
    inside the call's context, so a reply it cannot read names the provider. ``call_options``:
    as for ``Call`` (node_id, base_url_override, key_from)."""
    call = Call(provider, LIST_MODELS, **call_options)
    with call.context():
        body = call.get_model_list(path).json()
        return parse(body) if parse else body


class ModelListCache(Generic[T]):
    """What a provider's model list says, per endpoint, fetched at most once every ``seconds``.

    It only ever helps a call (a shutdown notice, the output modalities, the models to suggest),
    so a failed fetch gives None -- the catalogue answers instead -- and is not retried until the
    time is up.
    """

    seconds = 600.0
    _all: list[ModelListCache] = []

    def __init__(self, fetch: Callable[..., T]):
        self._fetch = fetch
        self._items: dict[str, tuple[float, T | None]] = {}
        self._fetching: dict[str, threading.Lock] = {}  # endpoint -> held while its list is fetched
        self._lock = threading.Lock()
        ModelListCache._all.append(self)

    def get(self, endpoint: str, *args) -> T | None:
        """The list for ``endpoint``, fetched (``fetch(*args)``) unless one fetched within the time
        is kept. Calls that need the same list at once wait for one fetch."""
        fresh = self._fresh(endpoint)
        if fresh is not None:
            return fresh[1]
        with self._lock:
            fetching = self._fetching.setdefault(endpoint, threading.Lock())
        with fetching:
            fresh = self._fresh(endpoint)  # fetched while this call waited
            if fresh is not None:
                return fresh[1]
            try:
                value = self._fetch(*args)
            except RemoteImageError as exc:
                log.info("live model list unavailable, using the catalogue: %s", exc)
                value = None
            with self._lock:
                self._items[endpoint] = (time.monotonic(), value)
        return value

    def cached(self, endpoint: str) -> T | None:
        """The list fetched for ``endpoint`` within the time, if any; never fetches."""
        fresh = self._fresh(endpoint)
        return fresh[1] if fresh is not None else None

    def _fresh(self, endpoint: str) -> tuple[float, T | None] | None:
        """(when, list) fetched within the time -- the list None when that fetch failed -- or None."""
        with self._lock:
            kept = self._items.get(endpoint)
        return kept if kept is not None and time.monotonic() - kept[0] < self.seconds else None

    @classmethod
    def forget_all(cls) -> None:
        for live in cls._all:
            with live._lock:
                live._items.clear()

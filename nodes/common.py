"""The small facade node modules build on: shared inputs, running calls off the event loop,
encoding an edit's inputs as the provider declares, and running a node's provider calls into one
ordered batch of images -- with nothing paid for lost.

Node modules import only this module and their own provider module: the operations they need
from the core (``Call``, ``encode_edit_inputs``, ``RemoteImageError``) are offered here, and
no core module is handed on whole."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from .core import clock, comfy, journal, limits, reuse
from .core.credentials import anonymous_mode
from .core.errors import InputError, OptionRefused, RemoteImageError
from .core.images import (  # noqa: F401 -- encode_edit_inputs: for node modules
    ResultNotDecoded,
    decode_images,
    encode_edit_inputs,
    preview_picture,
    sniff_format,
)
from .core.payloads import ImageResult, describe_calls
from .core.provider import Provider
from .core.redaction import redact, shown_path
from .core.transport import Call, Reply

log = logging.getLogger("hosted_images")

T = TypeVar("T")

PACK = "HostedImages"
CATEGORY = "Hosted Images"
MAX_PARALLEL_CALLS = 4  # small: providers rate-limit per key, and each call may be billed
UNSAVED_DIR_ENV = "HOSTED_IMAGES_UNSAVED_DIR"  # where paid results go when a node fails, outside ComfyUI
DEFAULT_UNSAVED_DIR = Path("~/.local/share/comfyui-hosted-image-apis/unsaved")

HIDDEN = {"hidden": {"unique_id": "UNIQUE_ID"}}
AUTO_MODEL = "auto"  # a model combo's first entry: resolved at run time (``choose_model``)


@dataclass
class _Run:
    """One run of a node, as its calls see it (``call`` runs in a worker thread with a copy of the
    context): what its last progress line repeats (e.g. what ``auto`` became), and a fingerprint
    of its inputs (with its node id) for reusing a result already paid for."""

    notes: list[str]
    inputs: str


_run: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("hosted_images_run", default=None)


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
    note_for_last_line(call.chosen)
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


def note_for_last_line(text: str) -> None:
    """Say ``text`` again in the node's last progress line (done, failed or cancelled)."""
    run = _run.get()
    if run is not None and text not in run.notes:
        run.notes.append(text)


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
class LiveModels:
    """What the refresh button's server route needs from a provider's node module."""

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
        self._notes = []
        _run.set(_Run(self._notes, _fingerprint(inputs)))
        try:
            # spend hook: the node's whole ask against the daily image limits, before anything is sent
            with limits.daily_limits(self.PROVIDER.own_id, self.PROVIDER.label, self.images_asked(inputs)):
                result = await asyncio.to_thread(self.call, **inputs)
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


def _fingerprint(inputs: dict) -> str:
    """What a node's inputs were (tensors by their bytes), for ``reuse``."""
    parts = []
    for name in sorted(inputs):
        value = inputs[name]
        if hasattr(value, "detach") and hasattr(value, "shape"):  # a tensor: IMAGE or MASK
            array = value.detach().cpu().contiguous().numpy()
            parts += [name, list(array.shape), str(array.dtype), array.tobytes()]
        else:
            parts += [name, value if isinstance(value, (str, int, float, bool, type(None))) else repr(type(value))]
    return reuse.key(parts)


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


def read_model_list(
    provider: Provider, path: str = "models", parse: Callable[[Any], T] | None = None, **call_options
) -> T | Any:
    """One ``GET`` of a provider's model list (the operation "model list"), parsed by ``parse``
    inside the call's context, so a reply it cannot read names the provider. ``call_options``:
    as for ``Call`` (node_id, base_url_override, key_from)."""
    call = Call(provider, "model list", **call_options)
    with call.context():
        body = call.get_model_list(path).json()
        return parse(body) if parse else body


class LiveList(Generic[T]):
    """A provider's live model list per endpoint, fetched at most once every ``seconds``.

    It only ever helps a call (a shutdown notice, the output modalities, the models to suggest),
    so a failed fetch gives None -- the catalogue answers instead -- and is not retried until the
    time is up.
    """

    seconds = 600.0
    _all: list[LiveList] = []

    def __init__(self, fetch: Callable[..., T]):
        self._fetch = fetch
        self._items: dict[str, tuple[float, T | None]] = {}
        self._fetching: dict[str, threading.Lock] = {}  # endpoint -> held while its list is fetched
        self._lock = threading.Lock()
        LiveList._all.append(self)

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


# --- a node's provider calls -> one ordered batch of images ---------------------------------------


@dataclass
class Batch:
    """What a node's calls brought back: the images in call order, one result per call."""

    image: Any  # IMAGE [B,H,W,3]
    mask: Any  # MASK [B,H,W] from the results' alpha (1 where transparent)
    results: list[ImageResult]
    warning: str  # "asked for n images, got m", or ''
    blobs: list[bytes]  # the files the images were decoded from
    chosen: str = ""  # what ``auto`` became ("auto -> model"), or ''

    @contextmanager
    def kept_if_cancelled(self, node_id: str | None) -> Iterator[None]:
        """For work after the calls (e.g. reading a notice): a Cancel meanwhile saves the images
        already paid for, as a Cancel during the calls does."""
        try:
            yield
        except comfy.CANCELLATIONS:
            keep_paid_results(node_id, self.blobs)
            raise

    def describe(self, notice: str = "") -> str:
        """The info output: the first reply's fields, usage added up over the calls, what
        ``auto`` became, the notice and the warning."""
        return describe_calls(self.results, notice, self.warning, self.chosen)


def run_calls(
    call: Call,
    one: Callable[[Call, int], ImageResult],
    *,
    count: int = 1,
    per_call: int = 1,
    what: str = "call",
    first_alone: bool = False,
) -> Batch:
    """Run ``count`` provider calls -- ``one(job, index)`` sends one with its own ``job`` (a
    ``call.sibling()``) and parses the reply -- a few at a time, then decode their images, in order.

    Each call's result links are downloaded at once (they expire), at most ``per_call`` images
    each. A progress bar counts the calls. If some calls fail, the others still finish (they may
    have been billed): the error then says which failed and where the images of the ones that
    worked were saved. On Cancel, the images of the calls that had finished are saved too; so are
    the others when one result does not decode. ``first_alone``: the first call runs before the
    others start (it finds what they then reuse, e.g. the path a hub serves)."""

    def job(index: int) -> tuple[ImageResult, list[bytes]]:
        sent = call.sibling()
        with sent.context():
            result = one(sent, index)
            return result, fetch_payloads(sent, result, asked=per_call)

    fingerprint = _request_key(call, count, per_call)
    kept = reuse.find(fingerprint) if fingerprint else None
    if kept is not None:
        return _reused(call, kept)
    jobs = [lambda i=i: job(i) for i in range(count)]
    if first_alone and count > 1:
        first = job(0)
        jobs[0] = lambda: first
    done = _in_order(jobs, node_id=call.node_id, what=what)
    blobs = [blob for _, batch in done for blob in batch]
    warning = shortfall(call, count * per_call, len(blobs))
    image, mask = to_tensors(call, blobs)
    results = [result for result, _ in done]
    if fingerprint:
        details = {"results": [{"info": r.info, "text": r.text} for r in results], "warning": warning}
        reuse.store(fingerprint, blobs, details)
    return Batch(image, mask, results, warning, blobs, call.chosen)


def _request_key(call: Call, count: int, per_call: int) -> str:
    """What shaped this node's requests -- its inputs and node id, the provider, operation, endpoint,
    the model sent (what ``auto`` became) and the calls -- or '' outside a node's run."""
    run = _run.get()
    if run is None or not reuse.minutes():
        return ""
    return reuse.key([run.inputs, call.provider.own_id, call.operation, call.base_url, call.model, count, per_call])


def _reused(call: Call, kept: reuse.Kept) -> Batch:
    """The images an identical request got a little while ago: nothing is sent or paid."""
    when = kept.when[11:16] if len(kept.when) >= 16 else "earlier"
    line = f"the same request was answered at {when} UTC; its images were reused: nothing was sent or paid again"
    call.progress(line)
    note_for_last_line("reused, not paid again")
    journal.append(
        {
            "time": clock.utc_stamp(),
            "event": "reused",
            "provider": call.provider.own_id,
            "operation": call.operation,
            "model": call.model,
            "images": len(kept.blobs),
            **({"node": str(call.node_id)} if call.node_id is not None else {}),
        }
    )
    image, mask = to_tensors(call, kept.blobs)
    results = [
        ImageResult(images=[], info=d.get("info") or {}, text=d.get("text") or "")
        for d in kept.details.get("results") or [{}]
    ]
    if not results:
        results = [ImageResult(images=[])]
    results[0].info = {**results[0].info, "reused": line}
    return Batch(image, mask, results, kept.details.get("warning") or "", kept.blobs, call.chosen)


def stream_images(call: Call, send: Callable[[Callable], Reply], stream) -> ImageResult:
    """Send a request that asks for a stream and read its reply as it arrives: each partial image
    becomes the node's live preview (ComfyUI's sampler preview channel) and the progress bar
    counts the partial and completed images; the completed images are the result.

    ``send(stream)`` sends the request, handing each event to ``stream.take``; ``stream`` is the
    provider's reader of its events (``take``, ``show``, ``steps``, ``completed``, ``result``; e.g.
    ``openai_wire.ImageStream``). Images that completed before the stream failed, or before
    Cancel, are saved like any partly failed batch's (docs/design.md, "Nothing paid for is
    lost"); a stream that breaks off after every image came still gives them, with a warning."""
    bar = comfy.ProgressBar(stream.steps, call.node_id)
    size = comfy.preview_size()

    def show(step: int, blob: bytes | None) -> None:
        picture = None
        if blob is not None:
            try:
                picture = preview_picture(blob, size)
            except RemoteImageError as exc:  # only a preview: the result decides
                log.info("%s: a partial image was not shown: %s", call.provider.label, exc.message)
        bar.show(step, picture)
        done = len(stream.completed)
        stage = [f"{done} of {stream.count} images done"] if done else []
        if blob is not None:  # this image's partial images so far: the steps past the images done
            stage.append(f"partial image {step - done * (stream.partials + 1)} of {stream.partials}")
        call.stage = ", ".join(stage)
        call.progress(call.stage)

    stream.show = show
    try:
        return stream.result(send(stream))
    except comfy.InterruptProcessingException:
        keep_paid_results(call.node_id, stream.completed, _unfinished(stream))
        raise
    except RemoteImageError as exc:
        if stream.all_came:  # only the stream's end went wrong: every image asked for is here
            label, count = call.provider.label, stream.count
            log.warning("%s %s: %s, after all %d image(s) had come", label, call.operation, exc.message, count)
            result = stream.result()
            result.info["warning"] = f"the stream broke off after its last image: {exc.message}"
            return result
        unfinished = _unfinished(stream)
        folder = save_unsaved(list(enumerate(stream.completed, 1)), unfinished)
        if folder:
            kept = [f"the {len(stream.completed)} image(s) that had completed"] if stream.completed else []
            if unfinished:
                kept.append(f"the last partial image of image {unfinished[0]}")
            exc.message += f"; {' and '.join(kept)} {'were' if len(kept) > 1 or stream.completed else 'was'} saved to "
            exc.message += shown_path(folder)
        raise


def _unfinished(stream) -> tuple[int, bytes] | None:
    """(number, bytes) of the newest partial image of the image the stream was still making, or None."""
    blob = getattr(stream, "last_partial", None)
    return (len(stream.completed) + 1, blob) if blob else None


def fetch_payloads(call: Call, result: ImageResult, *, asked: int) -> list[bytes]:
    """The bytes of the first ``asked`` results, downloading links at once (they expire).

    A reply with more images than were asked for has the extra ones dropped, with a note in the
    info output: what a reply claims never decides how much is decoded. A Cancel while links are
    downloaded keeps the results already in hand (see ``keep_paid_results``).
    """
    items = result.images
    if len(items) > asked:
        note = (
            f"the provider returned {len(items)} images for {asked} asked for; "
            f"the {len(items) - asked} extra were dropped"
        )
        result.info["note"] = note
        log.warning("%s %s: %s", call.provider.label, call.operation, note)
        items = items[:asked]
    blobs: list[bytes] = []
    try:
        for item in items:
            comfy.raise_if_interrupted()
            blobs.append(item.data if item.data is not None else call.download(item.url))
    except comfy.InterruptProcessingException:
        keep_paid_results(call.node_id, [*blobs, *(i.data for i in items[len(blobs) :] if i.data is not None)])
        raise
    return blobs


def shortfall(call: Call, asked: int, got: int) -> str:
    """Fewer images than asked (a server that ignores or caps n) is said on the node, never
    silently, but is no error: they were paid for. The line for the info output, or ''."""
    if got >= asked:
        return ""
    line = f"asked for {asked} images, got {got}"
    call.progress(line)
    return line


def to_tensors(call: Call, blobs: list[bytes]):
    """(IMAGE, MASK) from result files, with errors naming the call.

    Paid results are never lost: when one does not decode, the others are saved and the error
    names the folder and the failing result; on Cancel all of them are saved."""
    try:
        with call.context():
            return decode_images(blobs)
    except ResultNotDecoded as exc:
        kept = [(number, blob) for number, blob in enumerate(blobs, 1) if number - 1 != exc.index]
        folder = save_unsaved(kept)
        if folder:
            which = "they were" if exc.index is None else f"the other {len(kept)} result(s) were"
            exc.message += f"; {which} saved to {folder}"
        raise
    except comfy.InterruptProcessingException:
        keep_paid_results(call.node_id, blobs)
        raise


def _in_order(jobs: Sequence[Callable[[], tuple[ImageResult, list[bytes]]]], *, node_id: str | None, what: str) -> list:
    """Run jobs concurrently (a few at a time) and return their results in order (see ``run_calls``)."""
    if len(jobs) == 1:
        return [jobs[0]()]
    bar = comfy.ProgressBar(len(jobs), node_id)
    results: list = [None] * len(jobs)
    failures: dict[int, BaseException] = {}

    def job_runner(index: int):
        try:
            results[index] = jobs[index]()
        except BaseException as exc:  # noqa: BLE001 -- collected and reported below
            failures[index] = exc
        finally:
            bar.update(1)

    with ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL_CALLS, len(jobs)), thread_name_prefix="hosted-images-call"
    ) as pool:
        list(pool.map(job_runner, range(len(jobs))))
    if not failures:
        return results
    finished = [blob for result in results if result is not None for blob in result[1]]
    if comfy.interrupted() or any(isinstance(exc, comfy.InterruptProcessingException) for exc in failures.values()):
        keep_paid_results(node_id, finished)
        raise comfy.InterruptProcessingException()
    first = failures[min(failures)]
    if len(failures) == len(jobs):
        raise first
    lines = [f"{what} {i + 1}: {exc}" for i, exc in sorted(failures.items())]
    saved = save_unsaved(list(enumerate(finished, 1)))
    message = f"{len(failures)} of {len(jobs)} {what}s failed:\n" + "\n".join(lines)
    if saved:
        message += f"\nThe images of the {what}s that succeeded were saved to {saved}"
    error = RemoteImageError(message)
    if isinstance(first, RemoteImageError):
        error.provider, error.operation, error.model = first.provider, first.operation, first.model
    raise error


# --- nothing paid for is lost -----------------------------------------------------------------


def unsaved_root() -> Path:
    """<ComfyUI output>/hosted_images/unsaved, or outside ComfyUI HOSTED_IMAGES_UNSAVED_DIR (else a
    folder in the user's data directory)."""
    output = comfy.output_directory()
    if output:
        return Path(output) / "hosted_images" / "unsaved"
    return Path(os.environ.get(UNSAVED_DIR_ENV) or DEFAULT_UNSAVED_DIR).expanduser()


def save_unsaved(numbered: list[tuple[int, bytes]], partial: tuple[int, bytes] | None = None) -> str:
    """Write result files (number, bytes) -- and ``partial``, the last partial image of an image
    that never completed, as ``partial_NNN`` -- into a new folder of their own; return it, or ''.
    The node's last progress line says where.

    The folder's name is the time plus a random part, created exclusively: two failures in the
    same second, or in two processes, never share (or overwrite) a folder."""
    if not numbered and partial is None:
        return ""
    root = unsaved_root()
    root.mkdir(parents=True, exist_ok=True)
    while True:
        folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
    files = [(f"result_{number:03d}", blob) for number, blob in numbered]
    if partial is not None:
        files.append((f"partial_{partial[0]:03d}", partial[1]))
    for name, blob in files:
        extension = (sniff_format(blob) or "bin").lower().replace("jpeg", "jpg")
        (folder / f"{name}.{extension}").write_bytes(blob)
    journal.saved(str(folder), len(files))  # spend journal hook: where paid results went
    note_for_last_line(f"saved to {shown_path(str(folder))}")
    return str(folder)


def recent_unsaved(limit: int = 10) -> list[dict]:
    """The newest folders of paid results a failed or cancelled node saved (newest first): name,
    files, when, and where -- with ``~`` for the home folder, and ``subfolder`` for ComfyUI's /view
    when they lie in its output folder."""
    root = unsaved_root()
    try:
        folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True)[:limit]
    except OSError:
        return []
    output = comfy.output_directory()
    found = []
    for folder in folders:
        files = sorted(f.name for f in folder.iterdir() if f.is_file())
        entry = {"name": folder.name, "files": files, "where": shown_path(str(folder))}
        if output:
            try:
                entry["subfolder"] = folder.relative_to(output).as_posix()
            except ValueError:
                pass
        found.append(entry)
    return found


def keep_paid_results(node_id: str | None, blobs: list[bytes], partial: tuple[int, bytes] | None = None) -> str:
    """On Cancel: save the results already paid for and say where, in the log and on the node --
    only to the client that queued the prompt, since it names a folder."""
    folder = save_unsaved(list(enumerate(blobs, 1)), partial)
    if folder:
        text = f"cancelled; the {len(blobs)} image(s) already returned were saved to {shown_path(folder)}"
        log.warning("%s", text)
        comfy.progress_text(node_id, text, private=True)
    return folder

"""A node's provider calls -> one ordered batch of images, with nothing paid for lost or paid twice.

``run_calls`` runs a node's calls a few at a time (each a sibling of the node's ``Call``),
downloads result links at once, decodes the images in order and says when fewer came than were
asked for; an identical request within the reuse time gets the images already paid for
(``reuse``). ``stream_images`` reads a streamed reply as it arrives, each partial image the node's
live preview. Whatever fails or is cancelled after results were paid for, they are saved
(``unsaved``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import clock, comfy, journal, reuse
from .errors import RemoteImageError
from .images import ResultNotDecoded, decode_images, preview_picture
from .payloads import ImageResult, Reply, describe_calls
from .redaction import shown_path
from .transport import Call
from .unsaved import keep_paid_results, save_unsaved

log = logging.getLogger("hosted_images")

MAX_PARALLEL_CALLS = 4  # small: providers rate-limit per key, and each call may be billed


@dataclass
class Batch:
    """What a node's calls brought back: the images in call order, one result per call."""

    image: Any  # IMAGE [B,H,W,3]
    mask: Any  # MASK [B,H,W] from the results' alpha (1 where transparent)
    results: list[ImageResult]
    warning: str  # "asked for n images, got m", or ''
    blobs: list[bytes]  # the files the images were decoded from
    chosen: str = ""  # what ``auto`` became ("auto -> model"), or ''
    price: str = ""  # what the run was expected to cost and what the replies reported, or ''

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
        return describe_calls(self.results, notice, self.warning, self.chosen, self.price)


def price_said(call: Call, results: list[ImageResult]) -> str:
    """The run's money for ``info``: the estimate made before sending and, from the replies, the
    cost a provider reported and the reported tokens at the catalogue's prices -- each marked."""
    quoted = call.estimate
    if quoted is None:
        return ""
    parts = [f"estimated {quoted.text}" if quoted.usd is not None else quoted.text]
    figures = [journal.usage_figures(call.provider, result.info.get("usage")) for result in results]
    reported = [f["cost"] for f in figures if "cost" in f]
    if reported:
        parts.append(f"reported ${sum(reported):.4f}")
    priced = [p for p in (quoted.tokens_usd(f) for f in figures if f) if p is not None]
    if priced:
        parts.append(f"reported tokens at list prices ~${sum(priced):.4f} (estimated)")
    if quoted.price is not None:
        parts.append(f"prices {quoted.price.dated}")
    return "; ".join(parts)


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

    if count == 1 and call.expected:  # one call: the bar moves with the time it is expected to take
        call.time_bar = comfy.ProgressBar(100, call.node_id)

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
    return Batch(image, mask, results, warning, blobs, call.chosen, price_said(call, results))


def _request_key(call: Call, count: int, per_call: int) -> str:
    """What shaped this node's requests -- its inputs and node id, the provider, operation, endpoint,
    the model sent (what ``auto`` became) and the calls -- or '' outside a node's run."""
    inputs = reuse.inputs_of_run()
    if not inputs or not reuse.minutes():
        return ""
    return reuse.key([inputs, call.provider.own_id, call.operation, call.base_url, call.model, count, per_call])


def _reused(call: Call, kept: reuse.Kept) -> Batch:
    """The images an identical request got a little while ago: nothing is sent or paid."""
    when = kept.when[11:16] if len(kept.when) >= 16 else "earlier"
    line = f"the same request was answered at {when} UTC; its images were reused: nothing was sent or paid again"
    call.progress(line)
    comfy.note_for_last_line("reused, not paid again")
    journal.append(
        {
            "time": clock.utc_stamp(),
            "event": "reused",
            "provider": call.provider.own_id,
            "operation": call.words,
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
    call.time_bar = None  # the stream's own bar counts its images instead of the expected time
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
            log.warning("%s %s: %s, after all %d image(s) had come", label, call.words, exc.message, count)
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
        log.warning("%s %s: %s", call.provider.label, call.words, note)
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

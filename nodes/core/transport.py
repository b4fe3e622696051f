"""``Call``: one node operation against one provider -- the only code that asks for a key.

A call knows who it is (provider, operation, model, node) and shows it in the node's progress
text and in every error; it takes the key, the endpoint, the error reader and the hints from the
provider's descriptor; it checks where the key may go, then hands each request to the exchange
(``exchange``, which opens the connections) under the retry policy (``retries``), and words what
failed (``failures``) with every key redacted.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import logging
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

from . import comfy, counts, journal, limits
from .credentials import (
    anonymous_mode,
    api_key,
    base_url,
    check_key_destination,
    check_url,
    is_loopback_host,
    provider_with_key_from,
    require_key,
)
from .errors import InputError, RemoteImageError, Unanswered
from .exchange import MAX_RESPONSE_BYTES, POLL_SECONDS, Watch, fetch, origin
from .failures import EXPIRED_LINK_HINT, EXPIRED_LINK_STATUSES, Fetch, fit_to_show, status_failure, unanswered_failure
from .payloads import MAX_JSON_VALUES, MODEL_LIST_VALUES, Reply, sniff_format, url_host
from .provider import EDIT, GENERATE, LIST_MODELS, OPERATION_WORDS, Provider  # noqa: F401 -- a Call names its operation by these
from .retries import Policy, send_with_retries
from .sse import ServerEvent
from .validation import sendable

log = logging.getLogger("hosted_images")  # the pack's logger, redacted (see ``redaction``)

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MODEL_LIST_BYTES = 16 * 1024 * 1024  # a model list of a few thousand entries is a few MB at most


class StreamReader(Protocol):
    """What reads a streamed reply (a provider module's, e.g. the Images API's): ``take`` gets each
    event as it arrives; the spend journal reads the ``images`` and the ``usage`` it gathered and
    whether ``all_came``."""

    images: list
    usage: object  # the provider's usage object, as its descriptor's ``usage_names`` read it
    all_came: bool

    def take(self, event: ServerEvent) -> None: ...


class Call:
    """One node operation: builds authenticated requests, waits interruptibly, maps errors."""

    def __init__(
        self,
        provider: Provider,
        operation: str,
        *,
        model: str = "",
        node_id: str | None = None,
        base_url_override: str = "",
        key_from: str | None = None,
        policy: Policy | None = None,
    ):
        """``key_from``: what a node's input names as the key's source (a variable or a
        credentials-file section); None: the provider's own variable. ``base_url_override``: a
        node's own base URL input ('' = the one configured outside the workflow)."""
        if operation not in OPERATION_WORDS:
            raise ValueError(f"a Call's operation is one of {', '.join(OPERATION_WORDS)}, not {operation!r}")
        self.operation = operation  # GENERATE, EDIT or LIST_MODELS
        self.words = OPERATION_WORDS[operation]  # what errors, the progress text and the journal show
        self.model = model
        try:
            self.provider = provider if key_from is None else provider_with_key_from(provider, key_from)
        except RemoteImageError as exc:
            exc.add_context(provider=provider.label, operation=self.words, model=model)
            raise
        self.node_id = node_id
        self.policy = dataclasses.replace(policy or Policy(), lasting=self.provider.lasting_refusal)
        self._base_url_override = base_url_override
        anonymous = anonymous_mode(self.provider)
        self._hints = {**self.provider.status_hints, **(anonymous.status_hints if anonymous else {})}
        self.attempts = 0  # requests actually sent, for the progress text and tests
        self.started = time.monotonic()
        self.note = anonymous.note if anonymous else ""  # extra progress text, e.g. "anonymous: 2 calls a minute"
        self.stage = ""  # what the reply has brought so far, e.g. "partial image 1 of 2"; '' while nothing has
        self.chosen = ""  # what the node's ``auto`` model became ("auto -> model"), or ''
        self.emulated = False  # the bundled emulator answered (journal lines say so, and do not count)
        self.estimate = None  # what the run is expected to cost (``quote``): text, usd, per_image, tokens_usd()
        self.expected: float | None = None  # seconds one call is expected to take, from the journal's history
        self.time_bar = None  # a progress bar moved by the expected time (a single call without a stream)

    def sibling(self) -> Call:
        """The same call made again (one job of a batch): same provider, key, endpoint, node, hints
        and note, with its own attempts and clock."""
        call = copy.copy(self)
        call.attempts, call.started, call.stage = 0, time.monotonic(), ""
        return call

    # ---- public API

    @contextlib.contextmanager
    def context(self):
        """Name this provider, operation and model in every pack error raised inside."""
        try:
            yield self
        except RemoteImageError as exc:
            fit_to_show(exc).add_context(provider=self.provider.label, operation=self.words, model=self.model)
            raise

    @functools.cached_property
    def base_url(self) -> str:
        """Resolved once per call (and kept by its siblings): every attempt of every request goes
        to the same endpoint, and the credentials file is not read again for each."""
        with self.context():
            return base_url(self.provider, self._base_url_override)

    def error(self, message: str, **fields) -> RemoteImageError:
        where = {"provider": self.provider.label, "operation": self.words, "model": self.model}
        error = RemoteImageError(message, **where, **fields)
        return fit_to_show(error)

    def post_json(
        self, path: str, body: dict, *, accept: str = "application/json", stream: StreamReader | None = None
    ) -> Reply:
        return self.request("POST", path, json_body=body, accept=accept, stream=stream)

    def post_multipart(self, path: str, fields: list[tuple[str, Any]], *, stream: StreamReader | None = None) -> Reply:
        """``fields``: (name, value) for text parts, (name, (filename, bytes, mime)) for files."""
        files = [(n, v if isinstance(v, tuple) else (None, str(v))) for n, v in fields]
        return self.request("POST", path, files=files, stream=stream)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def get_model_list(self, path: str) -> Reply:
        """GET a model list: a few MB and some thousand entries at most (docs/design.md,
        "Bounded in time and memory")."""
        return self.request("GET", path, max_bytes=MODEL_LIST_BYTES, max_json_values=MODEL_LIST_VALUES)

    def url_for(self, path: str) -> str:
        """``path`` below the base URL ('' = the base URL itself, for a provider whose variable
        names the whole endpoint), or a whole http(s) URL."""
        if path.startswith(("http://", "https://")):
            return check_url(path, what="endpoint")
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body=None,
        files=None,
        accept="application/json",
        stream: StreamReader | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
        max_json_values: int = MAX_JSON_VALUES,
    ) -> Reply:
        """Send to the provider's API with its key, retried as the policy allows; an error status
        raises. ``stream``: the request asks for a stream; if the reply is one, each of its events
        goes to ``stream.take`` as it arrives (``exchange.send``), and a reply that is not still comes back.
        ``max_bytes`` and ``max_json_values`` bound what the reply may cost."""
        with self.context():
            url = self.url_for(path)
            sendable(json_body, files)
            if self.provider.key_required:
                key = require_key(self.provider, self.words)
            else:
                key, _ = api_key(self.provider)
            if key:
                check_key_destination(self.provider, url)  # every request that carries a key, every node
            events = stream.take if stream is not None else None
            if events is not None:
                accept = f"text/event-stream, {accept}"
            kwargs = {"headers": {"Accept": accept}, "json": json_body, "files": files}

            def send() -> Reply:
                reply = self._send(
                    Fetch.API,
                    lambda: self._fetch(method, url, kwargs, Fetch.API, key=key, events=events, max_bytes=max_bytes),
                )
                reply.max_json_values = max_json_values
                return reply

            return journal.journaled(self, url, json_body, files, send, stream)  # spend journal hook: one line per call

    def download(self, url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """Fetch a result URL at once, with no Authorization header and a size cap.

        Whatever the link answers that is not an image is never quoted back: a link could lead
        anywhere, and its body could be anything."""
        with self.context():
            scheme = (urlsplit(url).scheme if isinstance(url, str) else "").lower()
            if scheme not in ("http", "https"):
                raise self.error(f"the result URL has the scheme {scheme!r}; only http and https links are downloaded")
            try:
                check_url(url, what="the result URL", plain_http_anywhere=True)
            except InputError as exc:  # the provider sent it: not the user's input
                raise self.error(exc.message) from None
            kwargs = {"headers": {"Accept": "image/*"}}
            try:
                link = Fetch.RESULT_LINK
                reply = self._send(link, lambda: self._fetch("GET", url, kwargs, link, max_bytes=max_bytes))
            except RemoteImageError as exc:
                if exc.status in EXPIRED_LINK_STATUSES:
                    exc.hint = EXPIRED_LINK_HINT
                    if self.provider.explain_expired_link is not None:
                        self.provider.explain_expired_link(exc)
                raise
            if sniff_format(reply.content) is None:
                raise self.error(
                    f"{Fetch.RESULT_LINK.prefix}the link answered with {len(reply.content)} bytes of "
                    f"{reply.content_type or 'an unnamed type'} that are not an image (they are not shown)",
                    status=reply.status,
                )
            return reply.content

    # ---- money

    def quote(self, estimate, per_call: int = 1) -> None:
        """Say what this run is expected to cost, before anything is sent: the progress text shows
        it now, every later line keeps it, and each journal line prices its own images by it. The
        daily budgets are checked (and the estimate held) here; the journal's past calls of the
        same model and ``per_call`` images say how long one call is expected to take."""
        self.estimate = estimate
        host = url_host(self.base_url)  # as the journal's lines name it
        self.expected = counts.expected_seconds(self.provider.own_id, self.model, host, per_call)
        self.progress()
        budget = limits.daily_budget(self.provider.own_id, self.provider.label, estimate.usd, estimate.text)
        hold = limits.RUN_HOLD.get()
        if hold is not None:
            hold.enter_context(budget)  # released when the node's run ends
        else:
            with budget:  # no node run around it: checked, not held
                pass

    def money(self, asked: int, usage: dict) -> dict:
        """The journal's money fields of one request: the estimate for the images it asked for,
        and the tokens its reply reported priced by the catalogue (both marked as estimates)."""
        quoted = self.estimate
        if quoted is None:
            return {}
        fields = {"estimate_usd": round(quoted.per_image * asked, 6)} if quoted.per_image is not None else {}
        priced = quoted.tokens_usd(usage) if usage else None
        if priced is not None:
            fields["tokens_usd"] = round(priced, 6)
        return fields

    # ---- progress

    def progress(self, text: str = "") -> None:
        elapsed = time.monotonic() - self.started
        parts = [self.provider.label, self.words]
        if self.model:
            parts.append(self.model)
        line = " · ".join(parts) + f" · {elapsed:.0f}s"
        if self.expected and not self.stage and self.attempts:  # waiting, with a history of this model
            left = self.expected - elapsed
            line += f" (~{left:.0f}s left)" if left >= 1 else f" (longer than the usual {self.expected:.0f}s)"
        if self.estimate is not None:  # what the run is expected to cost, on every line from before it is sent
            line += f" · {self.estimate.text}"
        if text:
            line += f" · {text}"
        if self.note:
            line += f" · {self.note}"
        comfy.progress_text(self.node_id, line)

    # ---- internals

    def _send(self, fetching: Fetch, send) -> Reply:
        """``send`` under the retry policy; what is final and failed raises, worded."""
        try:
            reply = send_with_retries(send, self.policy, self._sleep)
        except Unanswered as failure:
            raise unanswered_failure(failure, fetching, self.policy.read_timeout, self.attempts) from None
        if reply.headers.get(journal.EMULATOR_HEADER) and is_loopback_host(urlsplit(reply.url).hostname or ""):
            self.emulated = True  # the bundled emulator (on loopback only): the journal never counts it
        if reply.status >= 400:
            raise status_failure(reply, fetching, self.provider, self._hints, self.attempts)
        return reply

    def _fetch(self, method: str, url: str, kwargs: dict, fetching: Fetch, **options) -> Reply:
        """One request and its redirects (``exchange.fetch``), watched by this call."""
        policy = self.policy
        watch = Watch(policy.connect_timeout, policy.read_timeout, self.started, self._count_attempt, self._waiting)
        session = self.provider.id if fetching is Fetch.API else "download"
        endpoint = self._endpoint()
        return fetch(
            method, url, kwargs, fetching=fetching, session_name=session, endpoint=endpoint, watch=watch, **options
        )

    def _count_attempt(self) -> None:
        self.attempts += 1

    def _waiting(self) -> None:
        self.progress(self.stage or ("waiting for the provider" if self.attempts == 1 else f"attempt {self.attempts}"))
        if self.time_bar is not None and self.expected and not self.stage:  # moves with the expected time,
            elapsed = time.monotonic() - self.started  # held below the end until the answer comes
            self.time_bar.show(min(95, int(100 * elapsed / self.expected)))

    def _sleep(self, seconds: float, why: str) -> None:
        deadline = time.monotonic() + seconds
        last_shown = -1
        while True:
            comfy.raise_if_interrupted()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if int(left) != last_shown:
                last_shown = int(left)
                self.progress(f"{why}, retrying in {left:.0f}s")
            time.sleep(min(POLL_SECONDS, left))

    def _endpoint(self) -> tuple[str, int] | None:
        """Host and port of the provider endpoint: the one private address a hop may reach."""
        try:
            return origin(self.base_url)[1:]
        except (RemoteImageError, ValueError):
            return None

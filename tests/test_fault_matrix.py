"""The fault matrix: every provider's node against its local server, misbehaving in every way
the "Errors, retries, interrupts" table in docs/troubleshooting.md lists.

Each case injects one fault and states the documented outcome: images (after the retries the
policy allows) or one clear RemoteImageError naming provider, operation, HTTP status and the
provider's own words -- with the number of requests actually made counted, never a placeholder
image, never a bare library error, never a key. Cases that cannot happen to a provider are listed
in ``NOT_APPLICABLE`` with the reason.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import ImageFile

from conftest import assert_no_secret, journal_calls, mod
from provider_table import (  # noqa: F401 -- slot_server and mount are fixtures
    TARGETS,
    Target,
    api_calls,
    closed_port_url,
    downloads,
    key,
    map_payloads,
    mount,
    slot_server,
    with_file,
)

errors = mod("nodes.core.errors")
synth = mod("nodes.emulator.synth")

NOT_PDF = b"%PDF-1.4 this is not an image at all"
HTML = b"<html><head><title>Maintenance</title></head><body><h1>We will be back soon</h1></body></html>"
LIBRARY_NOISE = ("Traceback", "object at 0x", "HTTPConnectionPool", "urllib3", "requests.exceptions", "MaxRetryError")


@dataclass
class Expect:
    images: bool = False  # True: the node returns images; False: it raises one RemoteImageError
    requests: int = 1  # image calls the provider receives (the retry policy's count)
    status: int | None = None  # the HTTP status the message must name
    words: tuple[str, ...] = ()  # what else the message must say
    downloads: int = 0  # result-link downloads
    within: float = 8.0  # seconds the node may take at most (timeout cases: the timeout and a little)


@dataclass
class Case:
    name: str
    setup: Callable  # (target, app, monkeypatch) -> Expect; injects the fault
    needs: str = ""  # "json": base64 inside a JSON reply; "links": results as URLs


def _status(status: int) -> Callable:
    def setup(target, app, monkeypatch):
        said = f"the provider says no ({status})"
        app.inject(status=status, message=said, path=target.api_path)
        return Expect(status=status, words=(said, target.key_env) if status == 401 else (said,))

    return setup


def _gateway_failing(status: int) -> Callable:
    def setup(target, app, monkeypatch):
        app.inject(status=status, message=f"gateway failure {status}", path=target.api_path, times=10)
        return Expect(status=status, requests=3, words=(f"gateway failure {status}",))

    return setup


def _rate_limited(times: int, retry_after: str | None) -> Callable:
    def setup(target, app, monkeypatch):
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        app.inject(status=429, message="slow down", headers=headers, path=target.api_path, times=times)
        if retry_after == "120":  # longer than HOSTED_IMAGES_MAX_RETRY_WAIT: fail at once, saying when
            return Expect(status=429, requests=1, words=("slow down", "try again in 120s"))
        if times == 1:
            return Expect(images=True, requests=2)
        return Expect(status=429, requests=4, words=("slow down", "rate limited", "after 4 attempt(s)"))

    return setup


def _lasting(status: int, body: bytes, words: tuple[str, ...]) -> Callable:
    """A 429 or 503 whose envelope says waiting will not help: one request, the reason named."""

    def setup(target, app, monkeypatch):
        app.inject(status=status, body=body, headers={"Retry-After": "0"}, path=target.api_path, times=5)
        return Expect(status=status, requests=1, words=words)

    return setup


QUOTA_429 = (
    b'{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",'
    b'"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}'
)
NO_ROUTE_503 = b'{"error":{"message":"No allowed providers are available for the selected model.","code":503}}'


def _refused(target, app, monkeypatch):
    for name, value in target.env(closed_port_url()).items():
        monkeypatch.setenv(name, value)
    return Expect(requests=0, words=("could not connect", "after 3 attempt(s)", "connection refused"))


def _fault(expect: Expect, timeout: float | None = None, **fault) -> Callable:
    """Inject ``fault`` on the image call (or on result links when it names a path)."""

    def setup(target, app, monkeypatch):
        if timeout is not None:
            monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", str(timeout))
        app.inject(**{"path": target.api_path, **fault})
        return expect

    return setup


def _file(make: Callable[[bytes], bytes], expect: Expect, *, lenient_pil: bool = False) -> Callable:
    """The reply carries other file bytes: ``make(original bytes)``; raw for OVH, base64 elsewhere."""

    def setup(target, app, monkeypatch):
        if lenient_pil:  # as after another node pack set it: PIL would paint missing rows black
            monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
        if target.raw_bytes:
            body = make(synth.generate("original", 1024, 1024, "jpeg"))
            app.inject(body=body, content_type="image/jpeg", path=target.api_path)
        else:
            change = lambda text: base64.b64encode(make(base64.b64decode(text))).decode()  # noqa: E731
            app.inject(rewrite=lambda reply: map_payloads(reply, change), path=target.api_path)
        return expect

    return setup


def _base64_text(change: Callable[[str], str], expect: Expect) -> Callable:
    def setup(target, app, monkeypatch):
        monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
        app.inject(rewrite=lambda reply: map_payloads(reply, change), path=target.api_path)
        return expect

    return setup


def _no_images(target, app, monkeypatch):
    app.inject(rewrite=target.no_images, path=target.api_path)
    return Expect(words=("no image",))


def _key_echoed(target, app, monkeypatch):
    app.inject(status=400, message=f"the key {key(target)} is not valid for this model", path=target.api_path)
    return Expect(status=400, words=("***", "is not valid for this model"))


CASES = [
    *(Case(f"http_{status}", _status(status)) for status in (400, 401, 402, 403, 404, 413, 422)),
    Case("http_429_retry_after_once", _rate_limited(1, "0")),
    Case("http_429_retry_after_persisting", _rate_limited(10, "0")),
    Case("http_429_retry_after_too_long", _rate_limited(1, "120")),
    Case("http_429_no_retry_after_once", _rate_limited(1, None)),
    Case("http_500", _status(500)),
    *(Case(f"http_{status}_persisting", _gateway_failing(status)) for status in (502, 503, 504)),
    Case("http_503_once", _fault(Expect(images=True, requests=2), status=503, message="overloaded")),
    Case(
        "http_429_insufficient_quota",
        _lasting(429, QUOTA_429, ("exceeded your current quota", "billing", "not retried")),
    ),
    Case(
        "http_503_no_allowed_providers", _lasting(503, NO_ROUTE_503, ("No allowed providers", "routing", "not retried"))
    ),
    Case("connection_refused", _refused),
    Case("connection_dropped_before_reply", _fault(Expect(words=("dropped", "not retried")), drop=True)),
    Case("connection_dropped_mid_body", _fault(Expect(words=("dropped", "not retried")), drop_mid_body=True)),
    Case(
        "no_headers_before_timeout",
        _fault(Expect(words=("no reply", "within 0.3s", "billed"), within=1.0), timeout=0.3, delay=1.0),
    ),
    Case(
        "headers_trickling_beyond_timeout",
        _fault(
            Expect(words=("status line and headers", "still arriving 0.3s", "not retried"), within=1.5),
            timeout=0.3,
            slow_headers=20.0,
        ),
    ),
    Case("slow_body_within_timeout", _fault(Expect(images=True), slow_body=0.4)),
    Case(
        "slow_body_beyond_timeout",
        _fault(Expect(words=("still arriving", "0.3s", "not retried"), within=1.0), timeout=0.3, slow_body=2.0),
    ),
    Case(
        "html_error_page_with_200",
        _fault(Expect(status=200, words=("We will be back soon",)), body=HTML, content_type="text/html"),
    ),
    Case("non_image_bytes", _file(lambda _: NOT_PDF, Expect(words=("%PDF-1.4",)))),
    Case(
        "truncated_image_file",
        _file(lambda data: data[: len(data) // 2], Expect(words=("truncated",)), lenient_pil=True),
    ),
    Case(
        "image_20000x20000",
        _file(lambda _: synth.huge_png(20000, 20000), Expect(words=("20000x20000", "decompression bomb"))),
    ),
    Case(
        "truncated_base64",
        _base64_text(lambda text: text[: len(text) // 8 * 4], Expect(words=("truncated",))),
        needs="json",
    ),
    Case(
        "invalid_base64",
        _base64_text(lambda _: "@@ not base64 @@" * 8, Expect(words=("not valid base64",))),
        needs="json",
    ),
    Case("empty_data_array", _no_images, needs="json"),
    Case("provider_echoes_the_key", _key_echoed),
    Case(
        "result_link_404",
        _fault(
            Expect(status=404, words=("downloading the result image",), downloads=1),
            status=404,
            message="BlobNotFound",
            path="/files/",
        ),
        needs="links",
    ),
    Case(
        "result_link_never_ends",
        _fault(
            Expect(words=("downloading the result image", "still arriving"), downloads=1, within=1.0),
            timeout=0.3,
            endless=True,
            path="/files/",
        ),
        needs="links",
    ),
]


def not_applicable(target: Target, case: Case) -> str:
    """Why ``case`` cannot happen to ``target``, or '' when it is tested."""
    if case.needs == "json" and target.raw_bytes:
        return "OVH answers with the image file itself: there is no JSON, base64 or data array"
    if case.needs == "links" and target.run_with_links is None:
        return target.no_links
    return ""


APPLICABLE = [pytest.param(t, c, id=f"{t.name}-{c.name}") for t in TARGETS for c in CASES if not not_applicable(t, c)]
NOT_APPLICABLE = {(t.name, c.name): not_applicable(t, c) for t in TARGETS for c in CASES if not_applicable(t, c)}


@pytest.mark.parametrize("target,case", APPLICABLE)
def test_fault(target, case, mount, monkeypatch, pack_logs):
    app = mount(target)
    expect = case.setup(target, app, monkeypatch)
    run = target.run_with_links if case.needs == "links" else target.run
    started = time.monotonic()
    try:
        outcome = run()
    except Exception as exc:  # noqa: BLE001 -- judged below
        outcome = exc
    assert time.monotonic() - started < expect.within, "the node took too long: a hang or a retry storm"

    if expect.images:
        assert not isinstance(outcome, Exception), f"expected images after the retries, got: {outcome!r}"
        image = outcome[0]
        assert image.ndim == 4 and image.shape[0] == 1 and image.shape[-1] == 3
        for text in (o for o in outcome if isinstance(o, str)):
            assert_no_secret(text)
    else:
        assert isinstance(outcome, errors.RemoteImageError), f"expected the pack's error, got: {outcome!r}"
        assert not isinstance(outcome, errors.InputError), "a provider fault is not an input error"
        text = str(outcome)
        model = target.link_model if case.needs == "links" else target.model
        for part in (target.label, target.operation, f"model {model}", *expect.words):
            assert part in text, f"{part!r} missing from: {text}"
        if expect.status is not None:
            assert outcome.status == expect.status and f"HTTP {expect.status}" in text, text
            if target.trace_ids and expect.status >= 400:
                assert "trace id:" in text, text
        assert not any(noise in text for noise in LIBRARY_NOISE), f"library internals in: {text}"
        assert_no_secret(text)

    assert len(api_calls(app, target)) == expect.requests, "requests made differ from the retry policy"
    _assert_one_journal_line(target, case, expect, outcome)
    links = downloads(app)
    assert len(links) == expect.downloads
    assert all("authorization" not in request.headers for request in links), "a result link got the key"
    assert_no_secret(pack_logs.text)


def _assert_one_journal_line(target, case, expect, outcome):
    """The call is in the spend journal once (retries are its attempts), saying how it ended."""
    lines = journal_calls()
    assert len(lines) == 1, lines
    line = lines[0]
    model = target.link_model if case.needs == "links" else target.model
    assert (line["provider"], line["operation"], line["model"]) == (
        target.emulator.provider.id,
        target.operation,
        model,
    )
    assert line["attempts"] == (3 if case.name == "connection_refused" else expect.requests)
    assert line["images_asked"] == 1 and line["duration_s"] >= 0
    if line["status"] == 200:  # the provider answered: what the node then made of it is not the call's
        assert (line["outcome"], line["images_returned"]) == ("ok", 0 if case.name in NO_IMAGE_ANSWERS else 1)
    elif line["status"] is not None:
        assert (line["outcome"], line["failure"], line["images_returned"]) == ("failed", "refused", 0)
        assert line["status"] == outcome.status == expect.status
    else:
        assert (line["outcome"], line["failure"]) == ("failed", UNANSWERED[case.name])
    assert expect.images <= (line["outcome"] == "ok")
    if target.trace_ids and line["status"] is not None:
        assert line["request_id"]


NO_IMAGE_ANSWERS = {"html_error_page_with_200", "empty_data_array"}
# how a call that got no HTTP status ended, as the journal names it
UNANSWERED = {
    "connection_refused": "connect_failed",
    "connection_dropped_before_reply": "connection_dropped",
    "connection_dropped_mid_body": "connection_dropped",
    "no_headers_before_timeout": "read_timeout",
    "headers_trickling_beyond_timeout": "no_reply",
    "slow_body_beyond_timeout": "no_reply",
}


def test_every_case_is_tested_or_not_applicable_with_a_reason():
    assert len(APPLICABLE) + len(NOT_APPLICABLE) == len(TARGETS) * len(CASES)
    assert all(NOT_APPLICABLE.values())
    per_provider = {t.name: sum(1 for c in CASES if not not_applicable(t, c)) for t in TARGETS}
    assert min(per_provider.values()) >= 25, per_provider

"""Transport: retries, timeouts, interrupts, error mapping, redaction, downloads, credentials."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time

import pytest

from conftest import assert_no_secret, hang_ups, mod

server_mod = mod("nodes.emulator.server")
transport = mod("nodes.core.transport")
exchange = mod("nodes.core.exchange")
payloads = mod("nodes.core.payloads")
credentials = mod("nodes.core.credentials")
comfy = mod("nodes.core.comfy")
errors = mod("nodes.core.errors")

KEY = "fake-transport-key-0123456789"
PROVIDER = credentials.Provider(
    "testprov",
    "TestProvider",
    "TESTPROV_KEY",
    "TESTPROV_BASE_URL",
    "",
    error_reader=mod("nodes.providers.openai_wire").error_message,
    lasting_refusal=mod("nodes.providers.openai_wire").lasting_refusal,
)


class EchoApp(server_mod.EmulatedAPI):
    name = "echo"

    def __init__(self):
        super().__init__()
        self.routes = {
            ("POST", "/v1/things"): lambda r: server_mod.Response.json({"ok": True, "auth": r.bearer is not None}),
            ("GET", "/file.png"): lambda r: server_mod.Response(
                200, b"\x89PNG\r\n\x1a\n" + b"0" * 100, {"Content-Type": "image/png"}
            ),
            ("GET", "/big.png"): lambda r: server_mod.Response(
                200, b"\x89PNG\r\n\x1a\n" + b"0" * 200_000, {"Content-Type": "image/png"}
            ),
        }


@pytest.fixture
def echo(serve, monkeypatch):
    app = EchoApp()
    server = serve(app)
    monkeypatch.setenv("TESTPROV_KEY", KEY)
    monkeypatch.setenv("TESTPROV_BASE_URL", f"{server.url}/v1")
    return app


def call(**kw):
    return transport.Call(PROVIDER, transport.GENERATE, model="m1", **kw)


def test_success_sends_bearer_key_and_json(echo):
    reply = call().post_json("things", {"a": 1})
    assert reply.json() == {"ok": True, "auth": True}
    request = echo.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {"a": 1}


def test_429_waits_retry_after_then_succeeds(echo):
    echo.inject(status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    assert call().post_json("things", {}).json()["ok"]
    assert 0.9 <= time.monotonic() - started < 5
    assert len(echo.requests) == 2


def test_429_persisting_gives_up_after_the_allowed_retries(echo):
    echo.inject(status=429, headers={"Retry-After": "0"}, times=10)
    with pytest.raises(errors.RemoteImageError) as caught:
        call().post_json("things", {})
    assert len(echo.requests) == 4  # one call and three waits: no retry storm
    assert caught.value.status == 429 and "rate limited by TestProvider" in str(caught.value)


def test_429_asking_for_too_long_a_wait_fails_at_once_saying_when(echo, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_MAX_RETRY_WAIT", "5")
    echo.inject(status=429, headers={"Retry-After": "120"})
    with pytest.raises(errors.RemoteImageError, match="try again in 120s"):
        call().post_json("things", {})
    assert len(echo.requests) == 1


def test_gateway_errors_are_retried_twice(echo):
    echo.inject(status=503, times=2)
    assert call().post_json("things", {}).json()["ok"]
    assert len(echo.requests) == 3
    echo.reset()
    echo.inject(status=502, times=5)
    with pytest.raises(errors.RemoteImageError, match="HTTP 502"):
        call().post_json("things", {})
    assert len(echo.requests) == 3


def test_500_is_not_retried_and_names_everything(echo):
    echo.inject(status=500, message="kaboom inside", headers={"x-trace-id": "trace-123"})
    with pytest.raises(errors.RemoteImageError) as caught:
        call().post_json("things", {})
    text = str(caught.value)
    assert len(echo.requests) == 1
    for part in ("TestProvider", "image generation", "model m1", "HTTP 500", "kaboom inside", "trace-123", "Hint:"):
        assert part in text


def test_connection_refused_is_retried_then_explained(monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    monkeypatch.setenv("TESTPROV_KEY", KEY)
    monkeypatch.setenv("TESTPROV_BASE_URL", f"http://127.0.0.1:{port}/v1")
    probe = call()
    with pytest.raises(errors.RemoteImageError, match="could not connect to 127.0.0.1:.* after 3 attempt"):
        probe.post_json("things", {})
    assert probe.attempts == 3


def test_read_timeout_is_not_retried_and_warns_about_billing(echo, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", "0.5")
    echo.inject(delay=2)
    with pytest.raises(errors.RemoteImageError, match="may have run and billed it; it was not retried"):
        call().post_json("things", {})
    assert len(echo.requests) == 1


@pytest.mark.parametrize("fault", [{"drop": True}, {"drop_mid_body": True}, {"truncate": True}])
def test_dropped_connection_is_not_retried(echo, fault):
    echo.inject(**fault)
    with pytest.raises(errors.RemoteImageError) as caught:
        call().post_json("things", {}).json()
    assert len(echo.requests) == 1
    assert "dropped" in str(caught.value) or "not JSON" in str(caught.value)


def test_interrupt_stops_a_long_request_quickly_and_hangs_up(echo):
    echo.inject(delay=5)
    threading.Timer(0.3, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        call().post_json("things", {})
    # the node gave up the connection while the provider was still working (how fast: nodes/cli/bench.py)
    assert hang_ups(echo, 1) == ["/v1/things"], "the connection to the provider was not dropped"


def test_interrupt_while_the_body_trickles_in_stops_quickly(echo):
    """The body has begun: the worker thread is inside a read that only the socket can end."""
    echo.inject(endless=True)
    threading.Timer(0.3, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        call().post_json("things", {})
    assert hang_ups(echo, 1) == ["/v1/things"], "the node kept reading the endless body"


def test_a_body_still_arriving_after_the_read_timeout_is_abandoned(echo, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", "0.3")
    echo.inject(endless=True)
    started = time.monotonic()
    with pytest.raises(errors.RemoteImageError, match="still arriving 0.3s after it began"):
        call().post_json("things", {})
    assert time.monotonic() - started < 1.0 and len(echo.requests) == 1


def test_a_status_line_and_headers_trickling_in_are_abandoned_after_the_read_timeout(echo, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_READ_TIMEOUT", "0.5")
    echo.inject(slow_headers=20)  # a byte every few dozen milliseconds: no single read ever times out
    started = time.monotonic()
    with pytest.raises(errors.RemoteImageError) as caught:
        call().post_json("things", {})
    assert time.monotonic() - started < 0.5 + exchange.HEAD_GRACE_SECONDS + 0.5
    assert "status line and headers of the reply" in str(
        caught.value
    ) and "still arriving 0.5s after the request was sent" in str(caught.value)
    assert "may have been billed" in str(caught.value) and len(echo.requests) == 1


def test_a_slow_head_within_the_read_timeout_is_fine(echo):
    echo.inject(slow_headers=0.5)
    assert call().post_json("things", {}).json()["ok"]


def test_interrupt_during_a_rate_limit_wait(echo):
    echo.inject(status=429, headers={"Retry-After": "30"})
    threading.Timer(0.3, comfy.request_interrupt).start()
    started = time.monotonic()
    with pytest.raises(comfy.InterruptProcessingException):
        call().post_json("things", {})
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "reader,body,expected",
    [
        (
            "ionos",
            b'{"httpStatus":400,"messages":[{"errorCode":"paas-1","message":"size is wrong"}]}',
            "size is wrong (paas-1)",
        ),
        (
            "openai_wire",
            b'{"error":{"message":"Invalid size","type":"invalid_request_error","code":"bad_size"}}',
            "Invalid size (bad_size)",
        ),
        ("aigne", b'{"error":"\\"n\\" must be less than or equal to 10"}', '"n" must be less than or equal to 10'),
        ("agnic", b'{"error":"invalid_token","error_description":"Token expired"}', "invalid_token: Token expired"),
        (
            "openai_wire",
            b"<html><head><title>502</title></head><body><h1>Bad request</h1></body></html>",
            "502 Bad request",
        ),
    ],
)
def test_error_envelopes_become_the_providers_words(echo, reader, body, expected):
    """Each provider's descriptor reads its own envelope (its ``error_reader``)."""
    echo.inject(status=400, body=body, content_type="text/html" if body.startswith(b"<") else "application/json")
    provider = dataclasses.replace(PROVIDER, error_reader=mod(f"nodes.providers.{reader}").error_message)
    with pytest.raises(errors.RemoteImageError) as caught:
        transport.Call(provider, transport.GENERATE, model="m1").post_json("things", {})
    assert expected in str(caught.value)


def test_key_is_redacted_from_errors_and_logs(echo, pack_logs):
    echo.inject(status=400, body=f'{{"error":{{"message":"bad key {KEY} given, Bearer {KEY}"}}}}'.encode())
    with pytest.raises(errors.RemoteImageError) as caught:
        call().post_json("things", {})
    assert_no_secret(str(caught.value), [KEY])
    assert "***" in str(caught.value)
    transport.log.warning("echo %s", KEY)
    assert_no_secret(pack_logs.text, [KEY])


def test_missing_key_fails_before_sending_and_names_the_variable(echo, monkeypatch):
    monkeypatch.delenv("TESTPROV_KEY")
    with pytest.raises(errors.RemoteImageError, match="TESTPROV_KEY"):
        call().post_json("things", {})
    assert echo.requests == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/v1", "http://example.com/v1", "http://10.0.0.8/v1", "file:///etc/passwd"]
)
def test_insecure_or_odd_base_urls_are_refused_before_sending(monkeypatch, url):
    monkeypatch.setenv("TESTPROV_KEY", KEY)
    monkeypatch.setenv("TESTPROV_BASE_URL", url)
    with pytest.raises(errors.InputError, match="https://"):
        call().post_json("things", {})


def test_download_never_carries_the_key_and_is_capped(echo):
    data = call().download(f"{echo.base_url}/file.png")
    assert data.startswith(b"\x89PNG")
    assert "authorization" not in echo.requests[-1].headers
    with pytest.raises(errors.RemoteImageError, match="larger than 100,000 bytes"):
        call().download(f"{echo.base_url}/big.png", max_bytes=100_000)
    with pytest.raises(errors.RemoteImageError, match="expire"):
        call().download(f"{echo.base_url}/gone.png")
    with pytest.raises(errors.RemoteImageError, match="scheme 'ftp'"):
        call().download("ftp://example.com/x.png")


def test_redirect_to_another_host_name_is_followed_without_the_key(echo):
    """The endpoint's own server under another name: another host for the key, the same address."""
    port = echo.base_url.rsplit(":", 1)[1]
    echo.routes[("POST", "/v1/things")] = lambda r: server_mod.Response(
        307, b"", {"Location": f"http://localhost:{port}/v1/moved"}
    )
    echo.routes[("POST", "/v1/moved")] = lambda r: server_mod.Response.json({"ok": True, "auth": r.bearer is not None})
    assert call().post_json("things", {}).json() == {"ok": True, "auth": False}
    assert echo.requests[0].bearer == KEY and echo.requests[1].bearer is None


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:99999/v1/moved", "http://[::1/v1/moved", "https://user:pw@example.com/"]
)
def test_a_redirect_to_a_malformed_url_is_a_clear_error(echo, location):
    echo.routes[("POST", "/v1/things")] = lambda r: server_mod.Response(307, b"", {"Location": location})
    with pytest.raises(errors.RemoteImageError, match="which is not an http\\(s\\) URL that can be followed") as caught:
        call().post_json("things", {})
    assert not isinstance(caught.value, errors.InputError) and len(echo.requests) == 1


def test_a_pooled_connection_is_checked_again_for_each_call(echo, serve, monkeypatch):
    """A connection kept open for one provider's link is not a way around the next call's check."""
    link = echo.base_url.replace("127.0.0.1", "localhost") + "/file.png"
    assert call().download(link).startswith(b"\x89PNG")  # the endpoint's own server: allowed, and pooled
    other = serve(EchoApp())
    monkeypatch.setenv("TESTPROV_BASE_URL", f"{other.url}/v1")
    with pytest.raises(
        errors.RemoteImageError,
        match="the result link leads to .* loopback address that is not the provider's endpoint",
    ):
        call().download(link)
    assert len(echo.requests) == 1


def test_credentials_file_is_used_and_reported_when_readable_by_others(echo, monkeypatch, tmp_path):
    monkeypatch.delenv("TESTPROV_KEY")
    path = tmp_path / "credentials.ini"
    path.write_text(f"[testprov]\napi_key = {KEY}\n")
    os.chmod(path, 0o644)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(path))
    assert call().post_json("things", {}).json()["auth"] is True
    status = credentials.key_status(PROVIDER)
    assert status["configured"] and status["source"].startswith("credentials file")
    assert "readable by other users" in status["warning"]
    assert_no_secret(repr(status), [KEY])
    os.chmod(path, 0o600)
    assert "warning" not in credentials.key_status(PROVIDER)


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"RateLimit-Reset": "12"}, 12.0),
        ({"X-RateLimit-Reset": str(int((1_000_000_000 + 30) * 1000))}, 30.0),
        ({"Retry-After": "Sun, 09 Sep 2001 01:47:00 GMT"}, 20.0),
        ({"X-RateLimit-Reset-Requests": "12ms"}, 0.012),  # OpenAI: Go durations
        ({"X-RateLimit-Reset-Tokens": "6m0s"}, 360.0),
        ({"X-RateLimit-Reset-Requests": "1h2m3.5s"}, 3723.5),
        ({"x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "6m0s"}, 360.0),  # the longer one
        ({"X-RateLimit-Reset-Requests": "soon"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "Mon, 99 Foo 2001"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers, expected):
    got = payloads.retry_after_seconds(
        __import__("requests").structures.CaseInsensitiveDict(headers), now=1_000_000_000
    )
    assert got == (pytest.approx(expected) if expected is not None else None)


# --- retries by meaning: what waiting cannot fix fails at once, saying what is wrong ----------------------

QUOTA_429 = (
    b'{"error": {"message": "You exceeded your current quota, please check your plan and billing details. For more '
    b'information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", '
    b'"type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}'
)
NO_ROUTE_503 = b'{"error": {"message": "No allowed providers are available for the selected model.", "code": 503}}'


@pytest.mark.parametrize(
    "status,body,words",
    [
        (429, QUOTA_429, ("You exceeded your current quota", "billing", "not retried")),
        (503, NO_ROUTE_503, ("No allowed providers", "routing", "not retried")),
    ],
    ids=["openai-insufficient-quota", "openrouter-no-allowed-providers"],
)
def test_a_refusal_waiting_cannot_fix_fails_at_once(echo, status, body, words):
    echo.inject(status=status, body=body, headers={"Retry-After": "1", "x-ratelimit-reset-requests": "12ms"}, times=5)
    started = time.monotonic()
    with pytest.raises(errors.RemoteImageError) as caught:
        call().post_json("things", {})
    assert len(echo.requests) == 1 and time.monotonic() - started < 0.5
    text = str(caught.value)
    for word in words:
        assert word in text
    assert "try again in" not in text and caught.value.status == status and caught.value.retry_after is None


def test_an_ordinary_429_with_a_go_duration_reset_waits_that_long(echo):
    echo.inject(
        status=429,
        body=(
            b'{"error": {"message": "Rate limit reached for requests", "type": "requests", '
            b'"code": "rate_limit_exceeded"}}'
        ),
        headers={"x-ratelimit-reset-requests": "120ms"},
    )
    started = time.monotonic()
    assert call().post_json("things", {}).json()["ok"]
    assert 0.12 <= time.monotonic() - started < 1.0 and len(echo.requests) == 2


def test_an_ordinary_429_whose_reset_is_minutes_away_fails_at_once_saying_when(echo):
    echo.inject(
        status=429,
        body=(
            b'{"error": {"message": "Rate limit reached for tokens", "type": "tokens", "code": "rate_limit_exceeded"}}'
        ),
        headers={"x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "6m0s"},
    )
    with pytest.raises(errors.RemoteImageError, match="try again in 360s"):
        call().post_json("things", {})
    assert len(echo.requests) == 1

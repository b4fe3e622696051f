"""Keys, for every provider: never in an error, a log record, progress text or a STRING output;
a credentials file others can read is reported; result downloads never carry a key; redirects are
limited and never take the key to another host.

(Saved workflows, PNG metadata and /history are checked by the real-ComfyUI integration test.)
"""

from __future__ import annotations

import os

import pytest

from conftest import assert_no_secret, mod
from provider_table import (  # noqa: F401 -- slot_server and mount are fixtures
    ALL,
    BY_NAME,
    TARGETS,
    WITH_LINKS,
    api_calls,
    by_node,
    downloads,
    ionos_generate,
    key,
    mount,
    outcome,
    run_minimal,
    slot_server,
    target_of,
    with_string_output,
)

server_mod = mod("nodes.emulator.server")
credentials = mod("nodes.core.credentials")
errors = mod("nodes.core.errors")
synth = mod("nodes.emulator.synth")


def strings(result) -> list[str]:
    return [str(result)] if isinstance(result, Exception) else [o for o in result if isinstance(o, str)]


# --- STRING outputs and progress text ----------------------------------------------------------------


# Every node with a STRING output, from RETURN_TYPES (a new provider's joins without a list to edit).
STRING_NODES = by_node(with_string_output())


@pytest.mark.parametrize("node_id", STRING_NODES)
def test_a_key_echoed_in_a_successful_reply_stays_out_of_the_string_output(node_id, mount, pack_logs):
    target = target_of(node_id)
    app = mount(target)
    secret = key(target)

    def echo(reply):
        reply["usage"] = {"debug": f"Authorization: Bearer {secret}", "raw": secret}
        for choice in reply.get("choices", []):  # a chat model quoting the key back
            choice["message"]["content"] = f"Here is your image. Your key is {secret}."
        return reply

    app.inject(rewrite=echo, method="POST")  # the node's image call (a model list is a GET)
    texts = strings(run_minimal(node_id))
    assert texts and any("***" in text for text in texts)
    for text in texts:
        assert_no_secret(text)
    assert_no_secret(pack_logs.text)


@pytest.mark.parametrize("target", ALL)
def test_progress_text_names_the_call_and_never_the_key(target, mount, progress):
    app = mount(target)
    app.inject(status=429, path=target.api_path)  # a wait (the backoff) the node reports
    result = target.run(unique_id="42")
    assert result[0].shape[0] == 1  # the image came
    texts = [text for node, text in progress if node == "42"]
    assert any("rate limited, retrying" in text for text in texts), texts
    assert all(target.label in text for text in texts)
    for text in texts:
        assert_no_secret(text)


# --- the credentials file ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ALL)
def test_a_credentials_file_readable_by_others_is_reported_and_still_used(
    target, mount, monkeypatch, tmp_path, pack_logs
):
    app = mount(target)
    provider = mod(f"nodes.providers.{target.name}").PROVIDER
    path = tmp_path / "credentials.ini"
    path.write_text(f"[{provider.id}]\napi_key = {key(target)}\n")
    os.chmod(path, 0o644)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(path))
    monkeypatch.delenv(target.key_env)

    status = credentials.key_status(provider)
    assert status["configured"] and "readable by other users" in status["warning"] and "chmod 600" in status["warning"]
    result = target.run()
    assert result[0].shape[0] == 1  # the image came
    assert api_calls(app, target)[0].bearer == key(target)  # the key came from the file
    assert "readable by other users" in pack_logs.text
    assert_no_secret(repr(status))
    assert_no_secret(pack_logs.text)
    os.chmod(path, 0o600)
    assert "warning" not in credentials.key_status(provider)


# --- downloads and redirects ---------------------------------------------------------------------------


class Redirector(server_mod.EmulatedAPI):
    """Answers every request with a 307 to the same path under ``to``."""

    def __init__(self, to: str):
        super().__init__()
        self.to = to

    def handle(self, request):
        return server_mod.Response(307, b"", {"Location": self.to + request.path})


class Files(server_mod.EmulatedAPI):
    """Another host serving one picture, as a CDN a result link redirects to."""

    def __init__(self):
        super().__init__()
        self.routes = {
            ("GET", "/moved.png"): lambda r: server_mod.Response(
                200, synth.generate("moved", 64, 64), {"Content-Type": "image/png"}
            )
        }


@pytest.fixture(scope="module")
def other_host():
    """A second loopback server: another host and port than the provider's endpoint."""
    server = server_mod.EmulatorServer({"": server_mod.EmulatedAPI()}).start()
    yield server
    server.stop()


def _elsewhere(server) -> str:
    """A server's URL under another host name (the same address): another host for a key."""
    return server.url.replace("127.0.0.1", "localhost")


@pytest.mark.parametrize("target", WITH_LINKS)
def test_a_result_link_redirecting_to_another_host_is_fetched_without_any_key(target, mount, slot_server):
    app = mount(target)
    cdn = Files()
    slot_server.apps = {"/cdn": cdn, "": app}  # the endpoint's own address and port, under another name
    app.inject(status=302, headers={"Location": f"{_elsewhere(slot_server)}/cdn/moved.png"}, path="/files/")
    result = target.run_with_links()
    assert result[0].shape[0] == 1  # the image came
    assert len(downloads(app)) == 1 and len(cdn.requests) == 1
    assert all("authorization" not in r.headers for r in [*downloads(app), *cdn.requests])


@pytest.mark.parametrize("target", WITH_LINKS)
def test_a_result_link_redirecting_to_another_loopback_port_is_refused_unquoted(target, mount, other_host):
    app = mount(target)
    secret_page = server_mod.EmulatedAPI()
    secret_page.routes = {
        ("GET", "/admin"): lambda r: server_mod.Response(200, b"internal admin page: db password hunter2")
    }
    other_host.apps = {"": secret_page}
    app.inject(status=302, headers={"Location": f"{_elsewhere(other_host)}/admin"}, path="/files/")
    result = outcome(target.run_with_links)
    assert isinstance(result, errors.RemoteImageError)
    assert "a redirect leads to" in str(result) and "not the provider's endpoint" in str(result)
    assert secret_page.requests == [] and "hunter2" not in str(result)


@pytest.mark.parametrize("target", ALL)
def test_a_redirect_to_another_host_never_takes_the_key_along(target, slot_server, monkeypatch):
    receiver = target.make_app()
    receiver.base_url = f"{_elsewhere(slot_server)}/moved"
    origin = Redirector(receiver.base_url)
    slot_server.apps = {"/moved": receiver, "": origin}  # the same server, reached under another name
    for name, value in target.env(slot_server.url).items():
        monkeypatch.setenv(name, value)

    result = outcome(target.run)
    assert origin.requests[0].bearer == key(target)
    assert api_calls(receiver, target), "the redirect was not followed"
    assert all("authorization" not in r.headers for r in receiver.requests), "the key went to another host"
    for text in strings(result):
        assert_no_secret(text)


@pytest.mark.parametrize("target", ALL)
def test_a_redirect_to_another_loopback_port_is_refused(target, slot_server, other_host, monkeypatch):
    receiver = target.make_app()
    other_host.apps = {"": receiver}
    slot_server.apps = {"": Redirector(_elsewhere(other_host))}
    for name, value in target.env(slot_server.url).items():
        monkeypatch.setenv(name, value)
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError) and "a redirect leads to" in str(result)
    assert receiver.requests == [], "the redirect reached a loopback port other than the endpoint's"


@pytest.mark.parametrize("target", ALL)
def test_a_redirect_loop_is_cut_after_three_hops(target, slot_server, monkeypatch):
    origin = Redirector(slot_server.url)
    slot_server.apps = {"": origin}
    for name, value in target.env(slot_server.url).items():
        monkeypatch.setenv(name, value)
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError) and "too many redirects" in str(result)
    assert target.label in str(result)
    assert len(api_calls(origin, target)) == 4  # the image call and three redirects followed


@pytest.mark.parametrize("target", ALL)
def test_a_redirect_to_a_file_url_is_refused_clearly(target, slot_server, monkeypatch):
    origin = Redirector("file://")
    slot_server.apps = {"": origin}
    for name, value in target.env(slot_server.url).items():
        monkeypatch.setenv(name, value)
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError)
    assert "redirected to file:///" in str(result) and "not an http(s) URL" in str(result)
    assert len(api_calls(origin, target)) == 1

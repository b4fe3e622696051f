"""The security review's findings (keys, links, redirects, provider text), each reproduced over
real HTTP against the local servers: a key goes only to a host chosen outside the workflow, a
workflow names only allowed key sources, result links and redirects stay away from private
addresses, and whatever a provider says is shown redacted, without terminal controls, bounded.
"""

from __future__ import annotations

import json
import os
import types

import pytest
import torch

from conftest import assert_no_secret, mod, run_node
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
    map_links,
    mount,
    outcome,
    picture,
    run_minimal,
    slot_server,
    target_of,
    with_string_output,
)

errors = mod("nodes.core.errors")
credentials = mod("nodes.core.credentials")
comfy = mod("nodes.core.comfy")
server_mod = mod("nodes.emulator.server")

OPENAI = BY_NAME["openai_compat"]


def _openai_list(**inputs):
    return run_node(mod("nodes.openai_compat").OpenAICompatListModels, **inputs)


# Every node with a base_url input, and the provider whose key it would carry.
BASE_URL_NODES = [
    pytest.param(BY_NAME["aigne"], BY_NAME["aigne"].run, id="aigne-generate"),
    pytest.param(BY_NAME["aigne"], BY_NAME["aigne"].run_edit, id="aigne-edit"),
    pytest.param(OPENAI, OPENAI.run, id="openai-generate"),
    pytest.param(OPENAI, OPENAI.run_edit, id="openai-edit"),
    pytest.param(OPENAI, _openai_list, id="openai-list"),
]


# --- 1. a key goes only to the host configured outside the workflow --------------------------------


@pytest.mark.parametrize("target,run", BASE_URL_NODES)
def test_a_base_url_input_cannot_send_the_key_to_a_new_host(target, run, mount):
    app = mount(target)  # the configured endpoint (environment) is the local server
    result = outcome(run, base_url="https://collector.invalid/app")
    assert isinstance(result, errors.InputError), repr(result)
    text = str(result)
    assert "collector.invalid, which is not a trusted host" in text and "HOSTED_IMAGES_TRUSTED_HOSTS" in text
    assert target.label in text and "nothing was sent" in text
    assert app.requests == []
    assert_no_secret(text)


@pytest.mark.parametrize("target,run", BASE_URL_NODES)
def test_a_base_url_input_naming_the_configured_server_keeps_working(target, run, mount, slot_server):
    app = mount(target)
    base = target.env(slot_server.url)[target.base_url_env]
    result = run(base_url=base + "/")  # the configured server, written another way: allowed
    assert len(result[0]) > 0  # its first output: the images, or the list of models
    assert app.requests and app.requests[0].bearer == key(target)


@pytest.mark.parametrize("target,run", BASE_URL_NODES)
def test_a_base_url_input_naming_another_loopback_port_gets_no_key(target, run, mount, slot_server, serve):
    """Any local process may listen on another port: a shared workflow's base_url pointing there
    must not collect the key -- unless the user trusted that port outside the workflow."""
    mount(target)
    collector = serve(mod("nodes.emulator.server").EmulatedAPI())
    elsewhere = target.env(slot_server.url)[target.base_url_env].replace(slot_server.url, collector.url)
    with pytest.raises(errors.InputError, match=r"would go to 127\.0\.0\.1:\d+, which is not a trusted host"):
        run(base_url=elsewhere)
    assert collector.apps[""].requests == []


def test_the_key_destination_rule(monkeypatch):
    provider = credentials.Provider("hub", "Hub", "HUB_KEY", "HUB_BASE_URL", "https://default.example/v1")
    allowed = ["https://default.example/other", "https://default.example:8443/v2"]
    for url in allowed:
        credentials.check_key_destination(provider, url)
    refused = [
        "https://evil.example/v1",
        "https://images.localhost/v1",
        "https://default.example.evil.example/v1",
        "https://10.0.0.8/v1",
        "http://127.0.0.1:9/v1",  # loopback is not trusted as such: any local process may listen there
        "http://[::1]:8/v1",
        "http://localhost/v1",
    ]
    for url in refused:
        with pytest.raises(errors.InputError, match="not a trusted host"):
            credentials.check_key_destination(provider, url)
    monkeypatch.setenv("HUB_BASE_URL", "http://127.0.0.1:8080/v1")  # a local server, configured: its port only
    credentials.check_key_destination(provider, "http://127.0.0.1:8080/other")
    for url in ("http://127.0.0.1:8081/v1", "https://default.example/v1"):
        with pytest.raises(errors.InputError, match="not a trusted host"):
            credentials.check_key_destination(provider, url)
    monkeypatch.setenv(
        "HOSTED_IMAGES_TRUSTED_HOSTS", "images.example.org, Other.Example:443, 127.0.0.1:9000, *.example.net"
    )
    for url in ("https://images.example.org/v1", "https://images.example.org:444/v1", "https://other.example/v1"):
        credentials.check_key_destination(provider, url)
    credentials.check_key_destination(provider, "http://127.0.0.1:9000/v1")
    for url in ("https://other.example:8443/v1", "http://127.0.0.1:9001/v1", "https://a.example.net/v1"):
        with pytest.raises(errors.InputError, match="not a trusted host"):  # the port given; no wildcards
            credentials.check_key_destination(provider, url)
    assert credentials.ignored_trusted_hosts() == ["*.example.net"]


# --- 2. api_key_env names only allowed key sources ----------------------------------------------------


def test_api_key_env_cannot_name_an_arbitrary_variable(mount, monkeypatch):
    app = mount(OPENAI)
    secret = "fake-aws-secret-0123456789abcdef"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    for base_url in ("", app.base_url + "/v1"):  # the configured server, and a loopback one the workflow names
        result = outcome(OPENAI.run, api_key_env="AWS_SECRET_ACCESS_KEY", base_url=base_url)
        assert isinstance(result, errors.InputError), repr(result)
        text = str(result)
        assert "api_key_env names AWS_SECRET_ACCESS_KEY" in text and "HOSTED_IMAGES_KEY_VARIABLES" in text
        assert secret not in text
    assert app.requests == []


def test_api_key_env_may_name_a_listed_variable(mount, monkeypatch):
    app = mount(OPENAI)
    monkeypatch.setenv("TEAM_IMAGES_KEY", key(OPENAI))
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "OTHER_KEY, TEAM_IMAGES_KEY")
    (image, _, _) = OPENAI.run(api_key_env="TEAM_IMAGES_KEY")
    assert image.shape[0] == 1
    assert api_calls(app, OPENAI)[0].bearer == key(OPENAI)


def test_api_key_env_may_name_a_credentials_section_whose_key_goes_to_its_own_base_url(
    mount, slot_server, monkeypatch, tmp_path
):
    app = mount(OPENAI)
    monkeypatch.delenv("OPENAI_BASE_URL")
    path = tmp_path / "credentials.ini"
    path.write_text(f"[team]\napi_key = {key(OPENAI)}\nbase_url = {slot_server.url}/v1\n")
    path.chmod(0o600)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(path))
    (image, _, _) = OPENAI.run(api_key_env="team")
    assert image.shape[0] == 1
    assert api_calls(app, OPENAI)[0].bearer == key(OPENAI)
    sent = len(app.requests)  # the image call, and the model list read after it
    result = outcome(OPENAI.run, api_key_env="team", base_url="https://collector.invalid/v1")
    assert isinstance(result, errors.InputError) and "not a trusted host" in str(result)
    assert len(app.requests) == sent


# --- 4. result links and redirects never reach private addresses -----------------------------------------


@pytest.fixture
def private_service(serve):
    """A service on another loopback port, as an internal admin page or a cloud metadata endpoint."""
    app = server_mod.EmulatedAPI()
    app.routes = {("GET", "/admin"): lambda r: server_mod.Response(200, b"internal admin page: db password hunter2")}
    return app, serve(app)


@pytest.mark.parametrize("target", WITH_LINKS)
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_result_link_to_another_loopback_service_is_refused(target, host, mount, private_service):
    app = mount(target)
    service, server = private_service
    link = server.url.replace("127.0.0.1", host) + "/admin"
    app.inject(rewrite=lambda reply: map_links(reply, lambda _: link), path=target.api_path)
    result = outcome(target.run_with_links)
    assert isinstance(result, errors.RemoteImageError)
    assert "the result link leads to" in str(result) and "not the provider's endpoint" in str(result)
    assert service.requests == [] and "hunter2" not in str(result)


@pytest.mark.parametrize("target", WITH_LINKS)
def test_a_result_link_to_a_metadata_address_is_refused_before_connecting(target, mount):
    app = mount(target)
    app.inject(
        rewrite=lambda reply: map_links(reply, lambda _: "http://169.254.169.254/latest/meta-data/"),
        path=target.api_path,
    )
    result = outcome(target.run_with_links)
    assert isinstance(result, errors.RemoteImageError) and "link-local address" in str(result)


@pytest.mark.parametrize("target", WITH_LINKS)
def test_a_result_link_answering_with_text_is_never_quoted(target, mount, slot_server):
    app = mount(target)
    page = server_mod.EmulatedAPI()
    page.routes = {
        ("GET", "/page"): lambda r: server_mod.Response(
            200, b"<html>secret intranet text</html>", {"Content-Type": "text/html"}
        )
    }
    slot_server.apps = {"/site": page, "": app}  # the endpoint's own host and port: fetched, but not quoted
    app.inject(rewrite=lambda reply: map_links(reply, lambda _: f"{slot_server.url}/site/page"), path=target.api_path)
    result = outcome(target.run_with_links)
    assert isinstance(result, errors.RemoteImageError) and len(page.requests) == 1
    assert "not an image" in str(result) and "secret intranet" not in str(result)


# --- 5. and 9. provider text: redacted before it is cut, no terminal controls, bounded --------------------


@pytest.mark.parametrize("target", ALL)
def test_a_key_echoed_in_a_trace_id_header_is_redacted(target, mount):
    app = mount(target)
    app.inject(
        status=400,
        message="bad request",
        headers={"x-request-id": f"req_{key(target)}", "x-trace-id": key(target)},
        path=target.api_path,
    )
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError) and "trace id: " in str(result)
    assert_no_secret(str(result))


LONG_KEY = "fake-openai-key-0123456789abcdefghijklmnopqrstuvwxyz"


def _pieces(secret: str, length: int = 8) -> list[str]:  # DESIGN: no piece of 8 characters or more
    return [secret[:n] for n in range(length, len(secret) + 1)]


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("x" * 290 + " " + LONG_KEY + " end", "text/plain"),  # a quoted body is cut at 300 characters
        (
            json.dumps({"error": {"message": "y" * 3990 + LONG_KEY + " end"}}),
            "application/json",
        ),  # an envelope's at 4000
    ],
    ids=["quoted-body", "envelope-message"],
)
def test_a_key_at_the_cut_of_a_long_message_leaves_no_piece(body, content_type, mount, monkeypatch, pack_logs):
    app = mount(OPENAI)
    monkeypatch.setenv("OPENAI_API_KEY", LONG_KEY)
    app.inject(status=400, body=body.encode(), content_type=content_type, path=OPENAI.api_path)
    result = outcome(OPENAI.run)
    assert isinstance(result, errors.RemoteImageError) and "***" in result.message
    for text in (str(result), pack_logs.text):
        assert not any(piece in text for piece in _pieces(LONG_KEY)), text[-200:]


ESCAPES = "\x1b[2J\x1b[31mred\x1b[0m\x1b]0;pwned\x07\r\x08\x9b"


@pytest.mark.parametrize("target", ALL)
def test_terminal_controls_from_a_provider_never_reach_messages_or_logs(target, mount, pack_logs):
    app = mount(target)
    app.inject(
        status=400,
        message=f"bad {ESCAPES} request",
        headers={"x-request-id": "req\x1b[31m-1\x1b]0;pwned\x07"},
        path=target.api_path,
    )
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError) and "bad" in str(result) and "request" in str(result)
    mod("nodes.core.transport").log.warning("provider said: %s", result)
    for text in (str(result), pack_logs.text):
        assert not any(char in text for char in "\x1b\x07\r\x08\x9b"), repr(text)


# Every node with an info output, from RETURN_TYPES.
INFO_NODES = by_node(with_string_output())


@pytest.mark.parametrize("node_id", INFO_NODES)
def test_a_huge_reply_field_does_not_reach_the_info_output(node_id, mount):
    app = mount(target_of(node_id))

    def bloat(reply):
        reply["usage"] = {"debug": "z" * (10 * 1024 * 1024), "many": list(range(50_000))}
        for choice in reply.get("choices", []):  # a chat reply's info is its text
            choice["message"]["content"] = "z" * (10 * 1024 * 1024)
        return reply

    app.inject(rewrite=bloat, method="POST")  # the node's image call (a model list is a GET)
    info = [o for o in run_minimal(node_id) if isinstance(o, str)][-1]
    assert "zzzz" in info  # the field reached info, cut short
    assert len(info) <= mod("nodes.core.payloads").INFO_LIMIT + 1


# --- 9. smaller findings: clear errors before anything is sent ----------------------------------------------


@pytest.mark.parametrize("target", ALL)
@pytest.mark.parametrize(
    "url,words",
    [
        ("http://127.0.0.1:99999/v1", ("is not a valid URL", "Port out of range")),
        ("http://[::1/v1", ("is not a valid URL",)),
        ("http://images.localhost:8080/v1", ("plain http to a non-loopback host",)),
        ("https://exa mple.com/v1", ("contains spaces",)),
    ],
    ids=["port-99999", "malformed", "dot-localhost", "space"],
)
def test_bad_base_urls_are_input_errors_naming_the_problem(target, url, words, mount, monkeypatch):
    app = mount(target)
    monkeypatch.setenv(target.base_url_env, url)
    result = outcome(target.run)
    assert isinstance(result, errors.InputError), repr(result)
    for word in words:
        assert word in str(result)
    assert "redirect" not in str(result) and app.requests == []


@pytest.mark.parametrize("target", ALL)
def test_a_key_with_a_line_break_fails_before_sending_naming_the_variable(target, mount, monkeypatch):
    app = mount(target)
    broken = "fake-first-half\nfake-second-half"
    monkeypatch.setenv(target.key_env, broken)
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError), repr(result)
    text = str(result)
    assert target.key_env in text and "line break" in text and "nothing was sent" in text
    assert "billed" not in text and "fake-first" not in text and "fake-second" not in text
    assert app.requests == []


@pytest.mark.parametrize("target", ALL)
def test_a_lone_surrogate_in_the_prompt_is_a_clear_input_error(target, mount):
    app = mount(target)
    result = outcome(target.run, prompt="a fox \ud83d in the snow")
    assert isinstance(result, errors.InputError), repr(result)
    assert "prompt contains an unpaired surrogate (U+D83D) at character 7" in str(result)
    assert app.requests == []


@pytest.mark.parametrize("target", [BY_NAME["ionos"], OPENAI], ids=["ionos", "openai_compat"])
def test_a_mask_with_a_channel_axis_is_one_mask(target, mount):
    app = mount(target)
    mask = torch.zeros(64, 64, 1)
    mask[:32] = 1.0  # the top half
    result = target.run_edit(image=picture(), mask=mask)
    assert result[0].shape[0] == 1  # one edited image
    assert len([r for r in app.requests if r.method == "POST"]) == 1  # one edit call (a model list may follow it)


@pytest.fixture
def comfyui_folders(monkeypatch, tmp_path):
    """ComfyUI's served folders, as folder_paths reports them."""
    folders = {name: tmp_path / "ComfyUI" / name for name in ("user", "input", "output", "temp")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    fake = types.SimpleNamespace(**{f"get_{name}_directory": (lambda f=f: str(f)) for name, f in folders.items()})
    monkeypatch.setattr(comfy, "_folder_paths", fake)
    return folders


@pytest.mark.parametrize("placement", ["inside", "symlink-inside-to-outside", "symlink-outside-to-inside"])
def test_a_credentials_file_in_a_folder_comfyui_serves_is_refused(
    placement, comfyui_folders, mount, monkeypatch, tmp_path
):
    target = BY_NAME["ionos"]
    app = mount(target)
    monkeypatch.delenv(target.key_env)
    inside = comfyui_folders["user"] / "default" / "credentials.ini"
    inside.parent.mkdir()
    outside = tmp_path / "outside.ini"
    real, named = {
        "inside": (inside, inside),
        "symlink-inside-to-outside": (outside, inside),
        "symlink-outside-to-inside": (inside, outside),
    }[placement]
    real.write_text(f"[ionos]\napi_key = {key(target)}\n")
    real.chmod(0o600)
    if named != real:
        os.symlink(real, named)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(named))
    result = outcome(target.run)
    assert isinstance(result, errors.RemoteImageError), repr(result)
    assert "inside a folder ComfyUI serves" in str(result) and "nothing was sent" in str(result)
    assert app.requests == []
    assert "error" in credentials.key_status(mod("nodes.providers.ionos").PROVIDER)

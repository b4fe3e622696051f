"""The server routes' logic: live model lists (cached, rate-limited, key on the server, per
operation, per node connection), key status without paths, and the cross-site check."""

from __future__ import annotations

import datetime
import json
import os
import threading

import pytest

from conftest import FAKE_KEYS, assert_no_secret, mod, set_today
from provider_table import BY_PROVIDER, catalogue_of, mount, slot_server  # noqa: F401 -- fixtures

routes = mod("nodes.routes")
nodes = mod("nodes")
LOCAL_KEY = "fake-local-server-key"


@pytest.fixture(autouse=True)
def fresh_routes(monkeypatch):
    """Each test starts with no cached list and no recent fetch."""
    monkeypatch.setattr(routes, "_cache", {})
    monkeypatch.setattr(routes, "_last_fetch", {})


@pytest.fixture
def local_server(serve, monkeypatch):
    """A second OpenAI-compatible server (models of its own, its own key), the one a node names."""
    app = mod("nodes.emulator.openai_compat").OpenAIAPI(token=LOCAL_KEY, extra_models=("flux-dev", "sdxl-turbo"))
    server = serve(app)
    monkeypatch.setenv("LOCAL_SERVER_KEY", LOCAL_KEY)
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "LOCAL_SERVER_KEY")  # variables a node may name
    monkeypatch.setenv("HOSTED_IMAGES_TRUSTED_HOSTS", server.url.split("//", 1)[1])  # its loopback port, trusted
    return app, f"{server.url}/v1"


@pytest.fixture
def openai(serve, monkeypatch):
    """The environment's OpenAI server (OPENAI_BASE_URL, OPENAI_API_KEY)."""
    app = mod("nodes.emulator.openai_compat").OpenAIAPI(token=FAKE_KEYS["OPENAI_API_KEY"])
    server = serve(app)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEYS["OPENAI_API_KEY"])
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    return app


# --- model lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(nodes.MODEL_LISTS))
def test_every_model_list_route_offers_the_models_that_can_do_each_operation(provider, mount):
    """What the refresh button loads, for every provider whose node module offers a MODEL_LIST."""
    mount(BY_PROVIDER[provider])
    catalogue = catalogue_of(provider)
    for operation in ("generate", "edit"):
        status, body = routes.model_list(provider, nodes.MODEL_LISTS, operation=operation, refresh=True)
        assert status == 200, body
        assert body["label"] == mod("nodes.core.provider").registered_provider(provider).label
        if any(model.can(operation) for model in catalogue.models):
            assert body["models"], f"{provider} offers no model to {operation}"
        for model in body["models"]:
            entry = catalogue.find(model)
            assert entry is None or entry.can(operation), f"{provider} offers {model} to {operation}"


def test_live_model_list_keeps_image_models_and_is_cached(ionos, monkeypatch):
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 200 and body["cached"] is False and body["label"] == "IONOS"
    assert "black-forest-labs/FLUX.2-klein-4B" in body["models"] and "BAAI/bge-m3" not in body["models"]
    status, again = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert again["cached"] is True and again["models"] == body["models"]
    assert len(ionos.calls("/v1/models")) == 1
    monkeypatch.setattr(routes, "REFRESH_INTERVAL_SECONDS", 0.0)  # the interval has passed
    status, refreshed = routes.model_list("ionos", nodes.MODEL_LISTS, refresh=True)
    assert status == 200 and refreshed["cached"] is False
    assert len(ionos.calls("/v1/models")) == 2


def test_refresh_asks_a_provider_at_most_once_in_the_interval(ionos):
    """Fifty refreshes at once (a page hammering the route) make one provider call."""
    replies = []

    def refresh():
        replies.append(routes.model_list("ionos", nodes.MODEL_LISTS, refresh=True))

    threads = [threading.Thread(target=refresh) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ionos.calls("/v1/models")) == 1
    assert {status for status, _ in replies} == {200}
    assert sum(not body["cached"] for _, body in replies) == 1
    assert len({tuple(body["models"]) for _, body in replies}) == 1


def test_another_list_of_the_same_provider_waits_for_the_interval(openai, local_server):
    app, url = local_server
    status, _ = routes.model_list("openai", nodes.MODEL_LISTS)
    assert status == 200
    status, body = routes.model_list(
        "openai", nodes.MODEL_LISTS, connection={"base_url": url, "api_key_env": "LOCAL_SERVER_KEY"}
    )
    assert status == 429 and 0 < body["retry_after"] <= routes.REFRESH_INTERVAL_SECONDS
    assert "OpenAI-compatible" in body["error"] and "try again" in body["error"]
    assert app.calls("/v1/models") == []


def test_a_failed_fetch_counts_towards_the_interval(ionos):
    ionos.inject(status=500, message="maintenance", times=1)
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS, refresh=True)
    assert status == 502 and "maintenance" in body["error"]
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS, refresh=True)
    assert status == 429
    assert len(ionos.calls("/v1/models")) == 1


def test_edit_lists_leave_out_models_that_only_generate(ionos):
    _, generate = routes.model_list("ionos", nodes.MODEL_LISTS, operation="generate")
    _, edit = routes.model_list("ionos", nodes.MODEL_LISTS, operation="edit")
    assert "black-forest-labs/FLUX.1-schnell" in generate["models"]
    assert "black-forest-labs/FLUX.1-schnell" not in edit["models"]
    assert "black-forest-labs/FLUX.2-klein-4B" in edit["models"]
    assert len(ionos.calls("/v1/models")) == 1  # one live list, filtered per operation
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS, operation="upscale")
    assert status == 400 and "generate, edit" in body["error"]


def test_openai_lists_hold_what_can_do_the_operation_by_the_catalogue(openai, monkeypatch):
    set_today(monkeypatch, datetime.date(2026, 11, 30))  # chatgpt-image-latest, which only edits, was served then
    _, generate = routes.model_list("openai", nodes.MODEL_LISTS, operation="generate")
    _, edit = routes.model_list("openai", nodes.MODEL_LISTS, operation="edit")
    assert "chatgpt-image-latest" in edit["models"] and "chatgpt-image-latest" not in generate["models"]  # edits only
    assert "gpt-image-2" in generate["models"] and "gpt-image-2" in edit["models"]


def test_live_lists_drop_retired_models_and_keep_ids_the_catalogue_does_not_know():
    catalogue = mod("nodes.providers.openai_models").CATALOGUE
    ids = ["dall-e-3", "flux-dev", "gpt-image-2", "chatgpt-image-latest"]
    assert catalogue.able(ids, "edit") == ["flux-dev", "gpt-image-2", "chatgpt-image-latest"]
    assert catalogue.able(ids, "generate") == ["flux-dev", "gpt-image-2"]


def test_openai_list_comes_from_the_nodes_own_server_with_its_own_key(openai, local_server):
    app, url = local_server
    status, body = routes.model_list(
        "openai", nodes.MODEL_LISTS, connection={"base_url": url, "api_key_env": "LOCAL_SERVER_KEY"}
    )
    assert status == 200, body
    assert {"flux-dev", "sdxl-turbo"} <= set(body["models"])
    assert [call.bearer for call in app.calls("/v1/models")] == [LOCAL_KEY]
    assert openai.calls("/v1/models") == []  # not the environment's server


def test_openai_list_applies_the_key_destination_rule(openai):
    """A base_url the node names gets no key unless its host is loopback, configured or trusted."""
    status, body = routes.model_list(
        "openai",
        nodes.MODEL_LISTS,
        connection={"base_url": "https://images.example.net/v1", "api_key_env": "OPENAI_API_KEY"},
    )
    assert status == 400 and "images.example.net" in body["error"] and "HOSTED_IMAGES_TRUSTED_HOSTS" in body["error"]
    assert openai.calls() == []


def test_connection_inputs_are_passed_only_where_the_provider_has_them(ionos):
    status, _ = routes.model_list("ionos", nodes.MODEL_LISTS, connection={"base_url": "https://elsewhere.example/v1"})
    assert status == 200 and len(ionos.calls("/v1/models")) == 1  # IONOS has no base_url input: ignored


def test_model_list_errors_are_json_messages_without_paths(ionos, monkeypatch, tmp_path):
    monkeypatch.delenv("IONOS_API_TOKEN")
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 400 and "IONOS_API_TOKEN" in body["error"]
    assert str(tmp_path) not in body["error"] and "HOSTED_IMAGES_CREDENTIALS" in body["error"]
    monkeypatch.setattr(routes, "_last_fetch", {})
    monkeypatch.setenv("IONOS_API_TOKEN", "fake-bad-token")
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 502 and "HTTP 401" in body["error"]
    assert_no_secret(json.dumps(body), ["fake-bad-token"])
    status, body = routes.model_list("nope", nodes.MODEL_LISTS)
    assert status == 404 and "ionos" in body["error"]


def test_every_model_input_names_a_live_list(pack):
    for node_id, cls in pack.NODE_CLASS_MAPPINGS.items():
        spec = cls.INPUT_TYPES()["required"].get("model")
        if spec is not None and isinstance(spec[0], list):
            provider = spec[1].get("hosted_images_provider")
            assert provider is None or provider in nodes.MODEL_LISTS, f"{node_id}: unknown refresh source"
            if provider is None:
                assert "refresh" not in spec[1]["tooltip"], f"{node_id}: the tooltip promises a refresh button it lacks"


def test_model_list_ignores_an_interrupt_left_from_the_last_prompt(ionos):
    """ComfyUI keeps its interrupt flag set until the next prompt; the route is not a prompt."""
    comfy = mod("nodes.core.comfy")
    comfy.request_interrupt()
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 200 and body["models"]


# --- key status -----------------------------------------------------------------------------------


def test_key_status_says_where_never_what(monkeypatch):
    monkeypatch.setenv("IONOS_API_TOKEN", FAKE_KEYS["IONOS_API_TOKEN"])
    statuses = routes.key_statuses(nodes.PROVIDERS)
    assert statuses["ionos"]["configured"] is True
    assert statuses["ionos"]["source"] == "environment variable IONOS_API_TOKEN"
    assert_no_secret(json.dumps(statuses))
    monkeypatch.delenv("IONOS_API_TOKEN")
    assert routes.key_statuses(nodes.PROVIDERS)["ionos"]["configured"] is False


def test_key_status_names_the_credentials_file_section_never_its_path(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials.ini"
    credentials.write_text("[agnic]\napi_key = fake-agnic-from-file\n")
    credentials.chmod(0o644)  # readable by others: the status warns, still without the path
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(credentials))
    statuses = routes.key_statuses(nodes.PROVIDERS)
    assert statuses["agnic"]["configured"] is True
    assert statuses["agnic"]["source"] == "credentials file, section [agnic]"
    assert "chmod 600" in statuses["agnic"]["warning"]
    text = json.dumps(statuses)
    assert str(tmp_path) not in text and os.path.expanduser("~") + os.sep not in text
    assert_no_secret(text, ["fake-agnic-from-file"])


def test_paths_under_home_are_shown_from_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(tmp_path / ".config" / "keys.ini"))
    assert routes.without_paths(f"add api_key to {tmp_path}/.config/keys.ini") == "add api_key to ~/.config/keys.ini"


def test_key_status_shows_each_providers_endpoint_host(ionos, monkeypatch):
    monkeypatch.setenv("AIGNE_HUB_BASE_URL", "https://hub.example.com/app/")
    statuses = routes.key_statuses(nodes.PROVIDERS)
    assert statuses["ionos"]["endpoint"]["host"].startswith("http://127.0.0.1:")
    assert statuses["ionos"]["endpoint"]["local"] is True
    assert statuses["aigne"]["endpoint"] == {"host": "https://hub.example.com", "local": False}
    assert statuses["openai"]["endpoint"]["host"] == "https://api.openai.com"
    monkeypatch.delenv("AIGNE_HUB_BASE_URL")
    assert "AIGNE_HUB_BASE_URL" in routes.key_statuses(nodes.PROVIDERS)["aigne"]["endpoint"]["error"]


# --- who may call the routes ------------------------------------------------------------------------

NAMES = {"localhost", "gpu-box"}
OWN = "127.0.0.1:8188"


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": OWN},  # curl, the headless runner, scripts
        {"Host": OWN, "Sec-Fetch-Site": "same-origin", "Referer": f"http://{OWN}/"},  # ComfyUI's page
        {"Host": OWN, "Origin": f"http://{OWN}", "Sec-Fetch-Site": "same-origin"},
        {"Host": "localhost:8188", "Referer": "http://localhost:8188/?workflow=x"},
        {"Host": "[::1]:8188", "Origin": "http://[::1]:8188"},
        {"Host": "192.168.1.20:8188", "Sec-Fetch-Site": "none"},  # typed into the address bar
        {"Host": "gpu-box:8188", "Referer": "http://gpu-box:8188/"},  # this machine's name
        {"Host": "comfy.example.org", "Origin": "https://comfy.example.org"},  # HOSTED_IMAGES_SERVER_NAMES
    ],
)
def test_the_servers_own_page_and_plain_clients_are_answered(headers):
    assert routes.cross_site_refusal(headers, NAMES | {"comfy.example.org"}) == ""


@pytest.mark.parametrize(
    "headers,reason",
    [
        ({}, "no Host"),
        ({"Host": ""}, "no Host"),
        ({"Host": "evil.example:8188"}, "not a name of this server"),  # DNS rebinding, no Origin on a GET
        (
            {"Host": "evil.example:8188", "Sec-Fetch-Site": "same-origin", "Referer": "http://evil.example:8188/"},
            "not a name",
        ),
        ({"Host": OWN, "Sec-Fetch-Site": "cross-site"}, "cross-site"),  # <img src>, no-cors fetch
        (
            {"Host": OWN, "Sec-Fetch-Site": "same-site", "Referer": "http://127.0.0.1:9999/"},
            "same-site",
        ),  # another port
        ({"Host": OWN, "Origin": "https://evil.example"}, "Origin"),
        ({"Host": OWN, "Origin": "null"}, "Origin"),  # sandboxed frames, file:// pages
        ({"Host": OWN, "Origin": "http://127.0.0.1:9999"}, "Origin"),
        ({"Host": OWN, "Referer": "https://evil.example/page"}, "Referer"),  # old browsers: no Sec-Fetch-*
        ({"Host": "127.0.0.1:notaport"}, "malformed"),
    ],
)
def test_cross_site_requests_are_refused(headers, reason):
    assert reason in routes.cross_site_refusal(headers, NAMES)


def test_the_server_knows_its_names(monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_SERVER_NAMES", "Comfy.Example.org, studio")
    assert {"localhost", "comfy.example.org", "studio"} <= routes.server_names()


def test_search_aliases_of_every_node(pack):
    aliases = routes.search_aliases(pack.NODE_CLASS_MAPPINGS)
    assert set(aliases) == set(pack.NODE_CLASS_MAPPINGS)
    assert "dall-e" in aliases["HostedImages_OpenAICompatImageGenerate"]

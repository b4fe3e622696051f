"""The server routes' logic: live model lists (cached, key on the server) and key status."""

from __future__ import annotations

import json

from conftest import FAKE_KEYS, assert_no_secret, mod

routes = mod("nodes.routes")
nodes = mod("nodes")


def test_live_model_list_keeps_image_models_and_is_cached(ionos):
    routes._cache.clear()
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 200 and body["cached"] is False
    assert "black-forest-labs/FLUX.2-klein-4B" in body["models"] and "BAAI/bge-m3" not in body["models"]
    status, again = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert again["cached"] is True and again["models"] == body["models"]
    assert len(ionos.calls("/v1/models")) == 1
    routes.model_list("ionos", nodes.MODEL_LISTS, refresh=True)
    assert len(ionos.calls("/v1/models")) == 2


def test_model_list_errors_are_json_messages(ionos, monkeypatch):
    routes._cache.clear()
    monkeypatch.delenv("IONOS_API_TOKEN")
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 400 and "IONOS_API_TOKEN" in body["error"]
    monkeypatch.setenv("IONOS_API_TOKEN", "fake-bad-token")
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 502 and "HTTP 401" in body["error"]
    assert_no_secret(json.dumps(body), ["fake-bad-token"])
    status, body = routes.model_list("nope", nodes.MODEL_LISTS)
    assert status == 404 and "ionos" in body["error"]


def test_key_status_says_where_never_what(monkeypatch):
    monkeypatch.setenv("IONOS_API_TOKEN", FAKE_KEYS["IONOS_API_TOKEN"])
    statuses = routes.key_statuses(nodes.PROVIDERS)
    assert statuses["ionos"]["configured"] is True
    assert statuses["ionos"]["source"] == "environment variable IONOS_API_TOKEN"
    assert_no_secret(json.dumps(statuses))
    monkeypatch.delenv("IONOS_API_TOKEN")
    assert routes.key_statuses(nodes.PROVIDERS)["ionos"]["configured"] is False


def test_every_model_input_names_a_live_list(pack):
    for node_id, cls in pack.NODE_CLASS_MAPPINGS.items():
        spec = cls.INPUT_TYPES()["required"].get("model")
        if spec is not None and isinstance(spec[0], list):
            provider = spec[1].get("hosted_images_provider")
            assert provider is None or provider in nodes.MODEL_LISTS, f"{node_id}: unknown refresh source"


def test_model_list_ignores_an_interrupt_left_from_the_last_prompt(ionos):
    """ComfyUI keeps its interrupt flag set until the next prompt; the route is not a prompt."""
    routes._cache.clear()
    comfy = mod("nodes.core.comfy")
    comfy.request_interrupt()
    status, body = routes.model_list("ionos", nodes.MODEL_LISTS)
    assert status == 200 and body["models"]

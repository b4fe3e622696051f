"""Agnic requests and the local gateway's replies checked against OpenRouter's published OpenAPI
document (``ChatRequest`` and friends), with a real OpenAPI 3.1 validator and every $ref resolved."""

from __future__ import annotations

import json

import pytest
import torch

import openrouter_spec
from conftest import FAKE_KEYS, mod
from test_agnic import FLUX, GEMINI, app, edit, generate, sent  # noqa: F401 -- app is a fixture

agnic = mod("nodes.providers.agnic")
Request = mod("nodes.emulator.server").Request


@pytest.fixture(autouse=True)
def spec():
    openrouter_spec.require_spec()


def test_the_validator_resolves_refs_and_rejects_wrong_bodies():
    good = agnic.chat_body(
        model=GEMINI,
        prompt="a fox",
        aspect_ratio="16:9",
        image_size="2K",
        seed=1,
        image_urls=["data:image/png;base64,iVBORw0KGgo="],
    )
    assert openrouter_spec.errors("ChatRequest", good) == []
    wrong = [
        {**good, "modalities": ["picture"]},  # enum inside the request schema
        {**good, "messages": []},  # minItems
        {**good, "messages": [{"role": "user", "content": [{"type": "img", "url": "x"}]}]},  # ChatContentItems via $ref
        {**good, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "data:,"}]}]},
        {**good, "image_config": {"aspect_ratio": {"w": 16}}},  # ImageConfig via $ref
        {**good, "seed": "1"},
    ]
    for body in wrong:
        assert openrouter_spec.errors("ChatRequest", body), body


def test_every_kind_of_body_the_nodes_send_matches_chat_request(app):
    for ratio in agnic.ASPECT_RATIOS:
        generate(aspect_ratio=ratio)
    generate(model="google/gemini-3-pro-image", image_size="4K", aspect_ratio="21:9")
    generate(model=FLUX, modalities="image", count=2, seed=2**63)
    picture = torch.rand(2, 24, 40, 3)
    edit(picture)
    edit(
        picture[:1],
        image_2=torch.rand(1, 16, 16, 3),
        image_3=torch.rand(1, 30, 10, 3),
        aspect_ratio="2:3",
        image_size="1K",
    )
    edit(picture[:1], model=FLUX, modalities="image", aspect_ratio="1:1", count=2)
    bodies = sent(app)
    assert len(bodies) == len(agnic.ASPECT_RATIOS) + 1 + 2 + 1 + 1 + 2
    assert {type(b["messages"][0]["content"]).__name__ for b in bodies} == {"str", "list"}
    for body in bodies:
        assert openrouter_spec.errors("ChatRequest", body) == [], json.dumps(body)[:300]


def _ask(app, body: dict):
    request = Request(
        "POST",
        "/v1/chat/completions",
        {},
        {"authorization": f"Bearer {FAKE_KEYS['AGNIC_API_KEY']}", "content-type": "application/json"},
        json.dumps(body).encode(),
    )
    return app.handle(request)


def test_the_local_gateway_answers_in_openrouters_shapes(app):
    image_reply = _ask(app, agnic.chat_body(model=GEMINI, prompt="a fox"))
    assert image_reply.status == 200 and json.loads(image_reply.body)["choices"][0]["message"]["images"]
    app.refuse()
    words_reply = _ask(app, agnic.chat_body(model=GEMINI, prompt="a fox"))
    assert "images" not in json.loads(words_reply.body)["choices"][0]["message"]
    for reply in (image_reply, words_reply):
        assert openrouter_spec.errors("ChatResult", json.loads(reply.body)) == []

    models = app.models(None)
    assert openrouter_spec.errors("ModelsListResponse", json.loads(models.body)) == []

    app.credits = 0.0
    errors = {
        "BadRequestResponse": _ask(app, {**agnic.chat_body(model=GEMINI, prompt="x"), "model": "acme/none"}),
        "PaymentRequiredResponse": _ask(app, agnic.chat_body(model=GEMINI, prompt="x")),
        "ForbiddenResponse": _ask(app, agnic.chat_body(model=GEMINI, prompt="forbidden-topic")),
        "NotFoundResponse": _ask(app, agnic.chat_body(model=FLUX, prompt="x")),
        "TooManyRequestsResponse": app.error(429, "Rate limit exceeded"),
    }
    for schema, reply in errors.items():
        body = json.loads(reply.body)
        assert reply.status == body["error"]["code"], schema
        assert openrouter_spec.errors(schema, body) == [], schema

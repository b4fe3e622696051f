"""The doctor (`python -m nodes.cli.doctor`, the sidebar's "Check providers"): what went stale,
told with free calls only and never a key."""

from __future__ import annotations

import datetime
import json

import pytest

from conftest import FAKE_KEYS, TODAY, assert_no_secret, load_pack, mod, set_today
from provider_table import closed_port_url

doctor = mod("nodes.doctor")
cli = mod("nodes.cli.doctor")
nodes = load_pack()
PACK = mod("nodes")


@pytest.fixture(scope="module")
def emulators():
    server, emulated = mod("nodes.emulator").start_all()
    yield server, emulated
    server.stop()


@pytest.fixture
def pointed(emulators, monkeypatch):
    """Every provider's variables pointing at the emulators; -> {provider id: app}."""
    server, emulated = emulators
    for item in emulated.values():
        item.reset()
        for name, value in item.environment(server.url).items():
            monkeypatch.setenv(name, value)
    return {prefix.strip("/"): item for prefix, item in emulated.items()}


def report(**kwargs) -> dict:
    return doctor.check(PACK.PROVIDERS, PACK.MODEL_LISTS, PACK.NODE_CLASS_MAPPINGS, **kwargs)


def findings(result: dict, provider: str, topic: str | None = None) -> list[tuple[str, str]]:
    (entry,) = [p for p in result["providers"] if p["id"] == provider]
    return [(f["level"], f["text"]) for f in entry["findings"] if topic in (None, f["topic"])]


def test_against_the_emulators_everything_a_workflow_relies_on_works(pointed, capsys):
    assert cli.main([]) == 0
    text = capsys.readouterr().out
    assert "Nothing a workflow relies on is broken." in text
    for needle in (
        "image generation: auto -> gpt-image-2 (of the models it lists)",
        "image edits: auto -> google/gemini-nano-banana-2.1 (of the models it lists)",  # the hub's Google model
        "openai_compat_generate.json: auto -> gpt-image-2.6-sunburst",  # the example asks for transparency
        "OVH AI Endpoints has no model list",
        "AIGNE Hub",
        f"checked {TODAY.isoformat()} (0 days ago)",
        # each provider's price source and date, or that none is published
        "prices: OpenAI's public prices at api.openai.com (another server's prices are its own): "
        "https://yingtu.ai/en/blog/gpt-image-2-cost-per-image (checked 2026-12-06)",
        "prices: no public price: IONOS publishes no per-image price",
        "prices: no public price: the hub bills in its own credits",
    ):
        assert needle in text, needle
    assert_no_secret(text)
    for app in pointed.values():  # free calls only: model lists, never an image call
        assert all(r.method == "GET" for r in app.requests), [r.path for r in app.requests]


def test_a_key_the_endpoint_refuses_is_a_problem(pointed, monkeypatch, capsys):
    monkeypatch.setenv("IONOS_API_TOKEN", "fake-wrong-ionos-token")
    assert cli.main([]) == 1
    text = capsys.readouterr().out
    assert "[XX] key: refused (HTTP 401)" in text and "1 problem(s)" in text
    assert_no_secret(text, ["fake-wrong-ionos-token", *FAKE_KEYS.values()])


def test_an_endpoint_that_does_not_answer_is_a_problem(pointed, monkeypatch):
    monkeypatch.setenv("AGNIC_BASE_URL", closed_port_url() + "/v1")
    result = report()
    assert any(
        level == "problem" and "does not answer" in text for level, text in findings(result, "agnic", "endpoint")
    )
    # auto still says what it would become, from the catalogue
    assert ("ok", "image generation: auto -> google/gemini-nano-banana-2.1 (from the catalogue (no list at hand))") in (
        findings(result, "agnic", "auto")
    )


def test_a_provider_without_a_key_is_skipped_not_failed(pointed, monkeypatch):
    monkeypatch.delenv("AGNIC_API_KEY")
    result = report()
    assert findings(result, "agnic") == [("note", "no key (AGNIC_API_KEY): not checked, and its nodes cannot run")]
    assert result["problems"] == 0


def test_an_example_naming_a_model_the_endpoint_no_longer_serves(pointed, tmp_path):
    example = {"1": {"class_type": "HostedImages_OpenAICompatImageGenerate", "inputs": {"model": "dall-e-3"}}}
    (tmp_path / "stale.json").write_text(json.dumps(example))
    result = report(examples_folder=tmp_path)
    assert findings(result, "openai", "example") == [
        (
            "problem",
            "stale.json: dall-e-3 is not among the models the endpoint lists now "
            "(dall-e-3 was retired upstream on 2026-05-12; use gpt-image-2.6-sunburst)",
        )
    ]
    assert result["problems"] == 1


def test_at_openais_host_a_retired_example_model_is_a_problem(monkeypatch, tmp_path):
    """Judged from the catalogue alone: OpenAI's own API refuses it, whatever a list says."""
    example = {"1": {"class_type": "HostedImages_OpenAICompatImageGenerate", "inputs": {"model": "gpt-image-1.5"}}}
    (tmp_path / "stale.json").write_text(json.dumps(example))
    catalogue = mod("nodes.providers.openai_models").CATALOGUE
    found = doctor._example_model(
        catalogue, doctor.example_models(PACK.NODE_CLASS_MAPPINGS, tmp_path)[0], None, "api.openai.com"
    )
    assert found == ("problem", "gpt-image-1.5 was retired on 2026-12-01; use gpt-image-2.6-sunburst")
    set_today(monkeypatch, datetime.date(2026, 11, 20))
    found = doctor._example_model(
        catalogue, doctor.example_models(PACK.NODE_CLASS_MAPPINGS, tmp_path)[0], None, "api.openai.com"
    )
    assert found == ("warning", "gpt-image-1.5 shuts down on 2026-12-01 (in 11 days); use gpt-image-2.6-sunburst")


def test_a_year_on_the_catalogues_are_old_and_auto_still_resolves(pointed, capsys):
    assert cli.main(["--on", (TODAY + datetime.timedelta(days=400)).isoformat()]) == 0
    text = capsys.readouterr().out
    assert "(400 days ago); re-check it (docs/keeping-up.md)" in text and "auto -> gpt-image-2" in text


def test_the_emulator_flag_needs_no_keys(capsys, monkeypatch):
    assert cli.main(["--emulator", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["problems"] == 0 and {p["id"] for p in result["providers"]} == set(PACK.PROVIDERS)


def test_a_bad_date_is_refused(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--on", "soon"])
    assert caught.value.code == 2 and "is not a date" in capsys.readouterr().err

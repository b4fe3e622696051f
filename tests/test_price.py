"""Money before and after a run: the catalogue's public prices (each with its source and date), the
estimate in the progress text before the request goes out, and the estimate and what the provider
reported in ``info`` and the journal, each marked as estimated or reported."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from conftest import TODAY, journal_calls, mod
from provider_table import (  # noqa: F401 -- slot_server and mount are fixtures
    BY_NAME,
    catalogue_of,
    ionos_generate,
    mount,
    registered_ids,
    slot_server,
)

rules = mod("nodes.providers.rules")
limits = mod("nodes.core.limits")
AGNIC, OPENAI, IONOS = BY_NAME["agnic"], BY_NAME["openai_compat"], BY_NAME["ionos"]
NANO_BANANA = "google/gemini-nano-banana-2.1"
PRO = "google/gemini-3-pro-image"


@pytest.mark.parametrize("provider", registered_ids())
def test_every_price_has_a_source_and_a_date_and_every_catalogue_says_where_prices_come_from(provider):
    data = catalogue_of(provider)
    assert data.prices.strip(), f"{provider}: say where prices come from, or why there are none"
    for model in data.models:
        if model.price is None:
            continue
        assert model.price.source.startswith("https://") and isinstance(model.price.checked, datetime.date)
        assert model.price.checked <= TODAY
        figures = [*model.price.per_image.values(), *model.price.per_million_tokens.values()]
        assert figures and all(isinstance(f, float) and f > 0 for f in figures), model.id


def test_providers_without_a_public_price_say_so_and_never_guess():
    for provider in ("ionos", "ovh", "aigne"):
        data = catalogue_of(provider)
        assert data.prices.startswith("no public price")
        assert all(model.price is None for model in data.models)
        estimate = data.estimate(data.models[0].id, 2)
        assert estimate.usd is None and estimate.text == "no public price"


def test_openais_list_price_applies_only_at_openais_host():
    openai = catalogue_of("openai")
    at_openai = openai.estimate("gpt-image-2", 4, size="1536x1024", quality="high", host="api.openai.com")
    assert at_openai.usd == pytest.approx(4 * 0.165) and at_openai.text == "~$0.660 for 4 images at 1536x1024, high"
    elsewhere = openai.estimate("gpt-image-2", 4, size="1536x1024", quality="high", host="images.example.com")
    assert elsewhere.usd is None and "images.example.com" in elsewhere.text
    tokens_only = openai.estimate("gpt-image-2.6-sunburst", 1, size="1024x1024", quality="high", host="api.openai.com")
    assert tokens_only.usd is None and "$30 per million output tokens" in tokens_only.text
    usage = {"input_text_tokens": 1000, "input_image_tokens": 2000, "output_tokens": 10_000}
    assert tokens_only.tokens_usd(usage) == pytest.approx((1000 * 5 + 2000 * 8 + 10_000 * 30) / 1e6)


def test_a_quality_or_size_without_a_row_gets_no_figure():
    auto = catalogue_of("openai").estimate("gpt-image-2", 1, size="auto", quality="auto", host="api.openai.com")
    assert auto.usd is None and "cost shows once the reply reports its usage" in auto.text


def test_the_estimate_is_on_the_node_before_the_request_goes_out(mount, progress, monkeypatch):
    app = mount(AGNIC)
    seen = []  # (text, requests the gateway had seen when the text was shown)
    server = __import__("sys").modules["server"].PromptServer.instance
    monkeypatch.setattr(
        server, "send_progress_text", lambda text, node, sid=None: seen.append((text, len(app.requests)))
    )
    AGNIC.run(model=NANO_BANANA, image_size="1K", count=2, unique_id="3")
    quoted = [(text, sent) for text, sent in seen if "~$0.067 for 2 images at 1K" in text]
    assert quoted, seen
    assert quoted[0][1] == 0, "the estimate must show before the gateway sees a request"
    assert any(sent > 0 for _, sent in seen)


def test_the_journal_and_info_carry_the_estimate_and_the_reported_cost(mount):
    app = mount(AGNIC)
    app.inject(
        rewrite=lambda reply: {**reply, "usage": {**reply["usage"], "cost": 0.031}}, path=AGNIC.api_path, times=2
    )
    AGNIC.run(model=NANO_BANANA, image_size="1K", count=2)
    lines = journal_calls("agnic")
    assert [line["estimate_usd"] for line in lines] == [0.0336, 0.0336]  # each call prices its own image
    assert [line["usage"]["cost"] for line in lines] == [0.031, 0.031]  # what the gateway reported
    assert all("tokens_usd" in line for line in lines)  # its reported tokens at Google's list prices


def test_info_says_what_was_estimated_and_what_was_reported(mount):
    mount(OPENAI)
    info = json.loads(OPENAI.run(prompt="a fox", quality="high", size="1024x1024")[-1])
    assert info["price"].startswith("no public price known for 127.0.0.1")  # another server's prices are its own
    mount(IONOS)
    _, info = ionos_generate()
    assert json.loads(info)["price"] == "no public price"


# --- daily budgets in money ------------------------------------------------------------------------


def test_a_budget_below_the_estimate_refuses_before_anything_is_sent(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_BUDGET_USD", "0.10")
    app = mount(AGNIC)
    with pytest.raises(limits.DailyBudgetRefusal) as caught:
        AGNIC.run(model=NANO_BANANA, image_size="1K", count=5)  # 5 x $0.0336 = $0.168
    text = str(caught.value)
    for part in ("HOSTED_IMAGES_DAILY_BUDGET_USD is $0.10", "$0.00 was spent today", "estimated at $0.17", "nothing"):
        assert part in text, text
    assert app.requests == [], "a refused run must not reach the provider"
    assert limits.today_counts().spent("agnic") == 0  # the refused reservation holds nothing


def test_todays_spend_counts_reported_cost_else_the_estimate_and_refusals_do_not_count(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_BUDGET_USD_AGNIC", "0.10")
    app = mount(AGNIC)
    app.inject(status=400, message="bad request", path=AGNIC.api_path)  # refused by the provider: not billed
    with pytest.raises(mod("nodes.core.errors").RemoteImageError):
        AGNIC.run(model=NANO_BANANA, image_size="1K", count=1)
    assert limits.today_counts().spent("agnic") == 0
    app.inject(rewrite=lambda reply: {**reply, "usage": {**reply["usage"], "cost": 0.05}}, path=AGNIC.api_path)
    AGNIC.run(model=NANO_BANANA, image_size="1K", count=1)  # reported $0.05 (its estimate was $0.0336)
    AGNIC.run(model=NANO_BANANA, image_size="1K", count=1)  # no cost reported: its tokens at list prices
    spent = limits.today_counts().spent("agnic")
    (_, unreported) = journal_calls("agnic")[-2:]
    assert spent == pytest.approx(0.05 + unreported["tokens_usd"])
    sent = len(app.requests)
    with pytest.raises(limits.DailyBudgetRefusal, match="HOSTED_IMAGES_DAILY_BUDGET_USD_AGNIC is \\$0.10"):
        AGNIC.run(model=NANO_BANANA, image_size="1K", count=1)
    assert len(app.requests) == sent


def test_a_run_without_a_price_is_refused_under_a_budget_unless_allowed(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_BUDGET_USD", "5")
    app = mount(IONOS)
    with pytest.raises(limits.DailyBudgetRefusal) as caught:
        ionos_generate()
    assert "no price to check against it (no public price)" in str(caught.value)
    assert "HOSTED_IMAGES_ALLOW_UNPRICED=1" in caught.value.hint
    assert not [r for r in app.requests if r.method == "POST"]
    monkeypatch.setenv("HOSTED_IMAGES_ALLOW_UNPRICED", "1")
    assert ionos_generate()[0].shape[0] == 1


def test_a_budget_that_is_not_an_amount_is_refused_by_name(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_BUDGET_USD_AGNIC", "ten dollars")
    app = mount(AGNIC)
    with pytest.raises(limits.DailyBudgetRefusal, match="HOSTED_IMAGES_DAILY_BUDGET_USD_AGNIC is 'ten dollars'"):
        AGNIC.run(model=NANO_BANANA, image_size="1K")
    assert app.requests == []


RACE = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import defaults, mod, run_node
while not __import__("os").path.exists({go!r}):
    time.sleep(0.01)
node = mod("nodes").NODE_CLASS_MAPPINGS["HostedImages_AgnicImageGenerate"]
try:
    run_node(node, **defaults(node, prompt="a fox", model={model!r}, image_size="1K", count=2))
    print("sent")
except mod("nodes.core.limits").DailyBudgetRefusal:
    print("refused")
"""


def test_several_processes_sharing_the_journal_keep_to_the_budget(mount, monkeypatch, tmp_path):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_BUDGET_USD", "0.10")  # one run of two images ($0.067) fits, not two
    app = mount(AGNIC)
    app.inject(delay=1.0, path=AGNIC.api_path, times=6)  # each run is still going while the others check
    go = tmp_path / "go"
    code = RACE.format(tests=str(Path(__file__).parent), go=str(go), model=NANO_BANANA)
    children = [
        subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    time.sleep(2.0)  # all three are waiting at the line
    go.touch()
    said = sorted(child.communicate(timeout=120)[0].strip().splitlines()[-1] for child in children)
    assert said == ["refused", "refused", "sent"]
    assert len([r for r in app.requests if AGNIC.api_path in r.path]) == 2  # the one run's two calls


# --- time ------------------------------------------------------------------------------------------


class TimeBar:
    """comfy.utils.ProgressBar as ComfyUI hooks it: each absolute update recorded."""

    values: list = []

    def __init__(self, total, node_id=None):
        self.total = total

    def update_absolute(self, value, total=None, preview=None):
        TimeBar.values.append((value, total))

    def update(self, steps):
        pass


def past_calls(provider: str, model: str, host: str, seconds: list[float], images: int = 1) -> None:
    """Journal lines of earlier answered calls, as the journal writes them."""
    path = Path(os.environ["HOSTED_IMAGES_JOURNAL"])
    stamp = "2026-12-06T08:00:00.000Z"
    with path.open("a") as handle:
        for duration in seconds:
            line = {"time": stamp, "event": "call", "provider": provider, "operation": "image generation"}
            line.update(model=model, host=host, status=200, outcome="ok", images_asked=images)
            line.update(images_returned=images, attempts=1, duration_s=duration)
            handle.write(json.dumps(line) + "\n")


def test_with_history_the_node_says_how_long_is_left_and_its_bar_moves_with_the_time(mount, progress, monkeypatch):
    app = mount(IONOS)
    host = app.base_url.split("://")[1]
    past_calls("ionos", "black-forest-labs/FLUX.1-schnell", host, [30.0, 4.0, 5.0])  # median 5 s
    TimeBar.values = []
    monkeypatch.setattr(mod("nodes.core.comfy"), "_comfy_utils", types.SimpleNamespace(ProgressBar=TimeBar))
    app.inject(delay=2.5, path="/images/generations")
    ionos_generate(unique_id="8")
    texts = [text for node, text in progress if node == "8"]
    left = [
        int(seconds) for text in texts for seconds in re.findall(r"\d+s \(~(\d+)s left\) · .*waiting for the", text)
    ]
    assert left and all(0 < seconds <= 5 for seconds in left) and left == sorted(left, reverse=True), texts
    values = [value for value, total in TimeBar.values if total == 100]
    assert values and values == sorted(values) and 0 < values[-1] < 100, TimeBar.values  # moving, never full


def test_without_history_the_node_says_elapsed_time_only(mount, progress):
    app = mount(IONOS)
    app.inject(delay=1.2, path="/images/generations")
    ionos_generate(unique_id="8")
    texts = [text for node, text in progress if node == "8"]
    assert any(text.endswith("waiting for the provider") for text in texts) and not any("left" in t for t in texts)


def test_a_call_slower_than_usual_says_so(mount, progress):
    app = mount(IONOS)
    past_calls("ionos", "black-forest-labs/FLUX.1-schnell", app.base_url.split("://")[1], [0.5, 0.5])
    app.inject(delay=2.2, path="/images/generations")
    ionos_generate(unique_id="8")
    assert any(re.search(r"\d+s \(longer than the usual [01]s\) · .*waiting", text) for _, text in progress)


def test_the_summary_command_sums_money_per_day_provider_and_model(mount, capsys):
    app = mount(AGNIC)
    app.inject(rewrite=lambda reply: {**reply, "usage": {**reply["usage"], "cost": 0.04}}, path=AGNIC.api_path)
    AGNIC.run(model=NANO_BANANA, image_size="1K", count=1)  # reported $0.04
    AGNIC.run(model=PRO, image_size="2K", count=1)  # nothing reported: its tokens at Google's list prices
    (estimated,) = [line for line in journal_calls("agnic") if line["model"] == PRO]
    command = mod("nodes.cli.journal")
    assert command.main(["--days", "1", "--by-model", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (day,) = report["days"].values()
    assert day[f"agnic {NANO_BANANA}"]["cost"] == 0.04 and "usd_estimated" not in day[f"agnic {NANO_BANANA}"]
    assert day[f"agnic {PRO}"]["usd_estimated"] == pytest.approx(estimated["tokens_usd"])
    assert report["total"][f"agnic {PRO}"]["usd"] == pytest.approx(estimated["tokens_usd"])
    assert command.main(["--days", "1"]) == 0
    table = capsys.readouterr().out
    assert "$ reported" in table and "$ estim." in table and "US dollars, reported or estimated" in table


@pytest.mark.parametrize("node_id", [n for n in mod("nodes").NODE_CLASS_MAPPINGS if "ListModels" not in n])
def test_each_help_page_gives_the_prices_of_its_models_with_their_date(node_id):
    """The node's help page says each priced model's figures and the day they were checked, or
    that its provider publishes no price."""
    page = (Path(__file__).parents[1] / "web" / "docs" / f"{node_id}.md").read_text(encoding="utf-8")
    prices = page[page.index("**Prices**") :].split("\n\n")[0].replace("\n", " ")
    data = mod("nodes").NODE_CLASS_MAPPINGS[node_id].PROVIDER.catalogue
    priced = [model for model in data.models if model.price is not None and not model.shutdown]
    if not priced:
        assert "no public price" in prices and f"checked {TODAY.isoformat()}" in prices
    for model in priced:
        assert f"`{model.id}`" in prices and f"checked {model.price.checked.isoformat()}" in prices, model.id
        for usd in model.price.per_image.values():
            assert f"${usd:g}" in prices, (model.id, usd)
        for usd in model.price.per_million_tokens.values():
            assert f"${usd:g} per million" in prices, (model.id, usd)


def test_a_streamed_call_keeps_its_own_bar_not_the_time_bar(mount, monkeypatch):
    app = mount(OPENAI)
    past_calls("openai", "gpt-image-2", app.base_url.split("://")[1], [6.0, 6.0])
    TimeBar.values = []
    monkeypatch.setattr(mod("nodes.core.comfy"), "_comfy_utils", types.SimpleNamespace(ProgressBar=TimeBar))
    app.inject(delay=1.5, path="/images/generations")
    OPENAI.run(prompt="a fox", model="gpt-image-2", partial_images=1)
    assert TimeBar.values and all(total != 100 for _, total in TimeBar.values), TimeBar.values


def test_an_agnic_run_at_the_default_image_size_is_priced_as_1k(mount, progress):
    mount(AGNIC)
    AGNIC.run(model=NANO_BANANA, count=1, unique_id="6")
    assert any("~$0.034 for 1 image at 1K" in text for node, text in progress if node == "6")

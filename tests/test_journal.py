"""The spend journal and the daily image limits, over real HTTP against the local servers.

One line per provider call (retries are its attempts), written whole even from many threads and
processes; damaged lines skipped; never a key or a prompt; a limit refuses a node before it sends
anything; the route's report and the summary command.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FAKE_KEYS, journal_calls, journal_lines, mod
from provider_table import (  # noqa: F401 -- slot_server and mount are fixtures
    ALL,
    BY_NAME,
    image_nodes,
    input_kinds,
    mount,
    node_ids,
    picture,
    provider_of,
    slot_server,
)

journal = mod("nodes.core.journal")
limits = mod("nodes.core.limits")
spend = mod("nodes.core.spend")
FIGURES = set(journal.FIGURES)
clock = mod("nodes.core.clock")
errors = mod("nodes.core.errors")
summary_command = mod("nodes.cli.journal")
nodes = mod("nodes")

TESTS = Path(__file__).resolve().parent
PROMPT = "a lighthouse painted by a secret-prompt-marker"
IONOS, AIGNE, AGNIC, OVH, OPENAI = (BY_NAME[name] for name in ("ionos", "aigne", "agnic", "ovh", "openai_compat"))


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "journal.jsonl"  # HOSTED_IMAGES_JOURNAL (conftest)


def line_at(when: datetime.datetime, provider: str = "ionos", asked: int = 1, **fields) -> dict:
    stamp = when.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "time": stamp,
        "event": "call",
        "provider": provider,
        "operation": "image generation",
        "model": "m",
        "status": 200,
        "outcome": "ok",
        "images_asked": asked,
        "images_returned": asked,
        "attempts": 1,
        "duration_s": 1.0,
        **fields,
    }


def write_lines(path: Path, lines: list[dict]) -> None:
    with path.open("a") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)


# --- what a line says ------------------------------------------------------------------------------


def test_a_successful_call_is_one_line_with_its_usage_and_request_id(mount):
    mount(OPENAI)
    OPENAI.run(prompt=PROMPT, unique_id="12")
    (line,) = journal_calls()
    assert list(line)[:2] == ["time", "event"]
    assert line["provider"] == "openai" and line["operation"] == "image generation" and line["model"] == "gpt-image-2"
    assert (line["status"], line["outcome"], line["images_asked"], line["images_returned"]) == (200, "ok", 1, 1)
    assert line["usage"]["output_tokens"] == 272 and line["usage"]["total_tokens"] > 272
    assert line["request_id"].startswith("req_") and line["attempts"] == 1 and line["node"] == "12"
    assert line["host"].startswith("127.0.0.1:") and 0 < line["duration_s"] < 30
    stamp = datetime.datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
    assert abs((clock.now() - stamp).total_seconds()) < 30
    # the model list read after the call for its shutdown dates is a call too, asking for no images
    others = [
        (x["operation"], x["images_asked"], x["images_returned"]) for x in journal_lines() if not x["images_asked"]
    ]
    assert others == [("model list", 0, 0)]


@pytest.mark.parametrize("target", ALL)
def test_every_providers_image_call_is_counted_as_its_wire_asked_and_brought(target, mount):
    """The journal knows no provider's fields: each descriptor says how its requests ask for images
    and what its replies bring. A provider that read them wrong would be counted wrong against
    the daily limits, silently -- here it fails."""
    mount(target)
    kinds = input_kinds(next(n for n in node_ids() if provider_of(n) == target.provider_id and n in image_nodes()))
    two = {name: 2 for name in ("n", "count") if kinds.get(name) == "INT"}  # so a misread count shows
    made = target.run(unique_id="7", **two)[0].shape[0]
    lines = journal_calls(target.provider_id)
    assert made == 2 or not two
    assert sum(line["images_asked"] for line in lines) == sum(line["images_returned"] for line in lines) == made
    for line in lines:
        assert (line["outcome"], line["status"], line["node"], line["attempts"]) == ("ok", 200, "7", 1)
        assert "emulator" not in line and set(line.get("usage", {})) <= FIGURES  # it plays the provider
    assert limits.today_totals()[target.provider_id].images == made


def test_each_providers_reported_usage_is_kept(mount):
    mount(AIGNE)
    AIGNE.run(n=2)  # gpt-image-2 on the hub: one call of two images
    AIGNE.run(model="google/gemini-3-pro-image", size="auto")  # one call per image for Google's models
    aigne = journal_calls("aigne")
    assert len(aigne) == 2 and all(line["usage"]["credits"] > 0 and set(line["usage"]) <= FIGURES for line in aigne)

    app = mount(AGNIC)
    app.inject(
        rewrite=lambda reply: {**reply, "usage": {**reply["usage"], "cost": 0.039, "note": "text is dropped"}},
        path=AGNIC.api_path,
    )
    AGNIC.run()
    (agnic,) = journal_calls("agnic")
    assert agnic["usage"]["cost"] == 0.039 and agnic["usage"]["output_tokens"] > 0 and "note" not in agnic["usage"]
    assert agnic["request_id"].startswith("gen-")  # OpenRouter's generation id, from the body

    totals = limits.today_totals()
    assert totals["aigne"].credits == sum(line["usage"]["credits"] for line in aigne) and totals["aigne"].images == 3
    assert totals["agnic"].cost == 0.039 and totals["agnic"].output_tokens == agnic["usage"]["output_tokens"]


def test_ovh_image_replies_and_ionos_edits_of_a_batch(mount):
    mount(OVH)
    OVH.run(count=3)
    assert [(line["images_asked"], line["images_returned"], line["outcome"]) for line in journal_calls("ovh")] == [
        (1, 1, "ok")
    ] * 3
    mount(IONOS)
    IONOS.run(image=picture(batch=2), n=2)  # one call of n=2 per input image
    ionos = journal_calls("ionos")
    assert [(line["images_asked"], line["images_returned"]) for line in ionos] == [(2, 2), (2, 2)]
    assert all(line["request_id"] for line in ionos)  # IONOS's x-trace-id


def test_retries_are_attempts_of_one_line(mount):
    app = mount(IONOS)
    app.inject(status=503, message="overloaded", path=IONOS.api_path, times=2)
    IONOS.run()
    (line,) = journal_calls()
    assert (line["attempts"], line["status"], line["outcome"]) == (3, 200, "ok")


def test_a_path_the_hub_does_not_serve_is_a_refused_call_that_does_not_count(mount, monkeypatch):
    mount(AIGNE)
    AIGNE.run(path="/api/images/generations")  # a saved workflow's old path: 404, then the hub's own
    probe, call = journal_calls("aigne")
    assert (probe["status"], probe["failure"], probe["images_returned"]) == (404, "refused", 0)
    assert (call["status"], call["outcome"], call["images_returned"]) == (200, "ok", 1)
    assert limits.today_totals()["aigne"].images == 1  # the probe was not billed


def test_an_answer_the_node_cannot_use_is_an_answered_call_and_the_node_fails(mount):
    app = mount(OPENAI)
    app.inject(rewrite=lambda reply: {**reply, "data": []}, path=OPENAI.api_path)
    with pytest.raises(errors.RemoteImageError, match="no image came back"):
        OPENAI.run()
    (line,) = journal_calls()
    assert (line["status"], line["outcome"], line["images_returned"], line["usage"]["output_tokens"]) == (
        200,
        "ok",
        0,
        272,
    )


def test_a_failed_call_after_sending_has_its_line_and_a_call_refused_before_has_none(mount):
    app = mount(OPENAI)
    app.inject(status=400, message="bad size", path=OPENAI.api_path)
    with pytest.raises(errors.RemoteImageError):
        OPENAI.run()
    (line,) = journal_calls()
    assert (line["status"], line["outcome"], line["failure"], line["images_returned"]) == (400, "failed", "refused", 0)
    assert line["request_id"].startswith("req_")  # from the error reply's header
    Path(os.environ["HOSTED_IMAGES_JOURNAL"]).unlink()
    app.reset()
    with pytest.raises(errors.InputError):
        OPENAI.run(prompt="")  # refused before sending
    with pytest.raises(errors.InputError):
        OPENAI.run(n=11)
    assert journal_lines() == [] and app.requests == []


def test_a_partial_batch_failure_names_the_saved_folder(mount):
    app = mount(OVH)
    app.inject(status=500, message="boom", path=OVH.api_path)
    with pytest.raises(errors.RemoteImageError) as caught:
        OVH.run(count=2)
    lines = journal_lines()
    assert sorted(line["outcome"] for line in lines if line["event"] == "call") == ["failed", "ok"]
    (saved,) = [line for line in lines if line["event"] == "saved"]
    assert saved["files"] == 1 and saved["folder"].startswith("unsaved/")  # beside the journal: shown relative to it
    assert str(caught.value).rstrip().endswith(saved["folder"].split("/", 1)[1])


def test_cancel_after_sending_is_journaled_as_cancelled(mount):
    comfy = mod("nodes.core.comfy")
    app = mount(AGNIC)
    app.inject(delay=10, path=AGNIC.api_path)
    threading.Timer(0.4, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        AGNIC.run()
    (line,) = journal_calls()
    assert (line["outcome"], line["failure"], line["status"], line["attempts"]) == ("cancelled", "cancelled", None, 1)


def test_no_key_and_no_prompt_in_the_journal_even_when_echoed_or_typed(mount):
    app = mount(OPENAI)
    key = FAKE_KEYS["OPENAI_API_KEY"]
    app.inject(status=400, message=f"the key {key} is wrong for {PROMPT}", path=OPENAI.api_path)
    with pytest.raises(errors.RemoteImageError):
        OPENAI.run(prompt=PROMPT)
    app.inject(status=404, message="no such model", path=OPENAI.api_path)
    with pytest.raises(errors.RemoteImageError):
        OPENAI.run(prompt=PROMPT, model=f"gpt-{key}")  # a key pasted into the model input
    OPENAI.run(prompt=PROMPT)
    text = Path(os.environ["HOSTED_IMAGES_JOURNAL"]).read_text()
    assert key not in text and "secret-prompt-marker" not in text and "gpt-***" in text
    assert len(journal_calls()) == 3


# --- appends ------------------------------------------------------------------------------------------


def _append_many(count: int, marker: str) -> None:
    for index in range(count):
        journal.append(line_at(clock.now(), marker=marker, index=index, padding="x" * (index % 7 * 900)))


def test_concurrent_appends_from_threads_are_whole_lines(path):
    threads = [threading.Thread(target=_append_many, args=(200, f"t{n}")) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 1601
    parsed = [json.loads(line) for line in lines[:-1]]
    assert sorted((line["marker"], line["index"]) for line in parsed) == sorted(
        (f"t{n}", i) for n in range(8) for i in range(200)
    )


def test_concurrent_appends_from_two_processes_are_whole_lines(path):
    code = (
        "import sys, threading; sys.path.insert(0, '.'); from test_journal import _append_many; "
        "threads = [threading.Thread(target=_append_many, args=(150, sys.argv[1] + str(n))) for n in range(3)]; "
        "[t.start() for t in threads]; [t.join() for t in threads]"
    )
    children = [subprocess.Popen([sys.executable, "-c", code, name], cwd=TESTS, env=os.environ) for name in ("a", "b")]
    _append_many(300, "main")
    assert [child.wait(120) for child in children] == [0, 0]
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    parsed = [json.loads(line) for line in raw.split(b"\n")[:-1]]
    assert len(parsed) == 300 + 2 * 3 * 150
    assert {(line["marker"], line["index"]) for line in parsed} == {
        *(("main", i) for i in range(300)),
        *((f"{p}{n}", i) for p in "ab" for n in range(3) for i in range(150)),
    }


def test_damaged_lines_are_skipped_and_an_unfinished_one_does_not_swallow_the_next(path, mount):
    now = clock.now()
    write_lines(path, [line_at(now)])
    with path.open("ab") as handle:
        handle.write(b'not json at all\n\x00\xff{broken\n[1, 2]\n{"time": 5}\n')
        handle.write(json.dumps(line_at(now))[:40].encode())  # a writer died mid-line: no newline
    assert limits.today_totals()["ionos"].calls == 1
    mount(IONOS)
    IONOS.run()
    text = path.read_bytes()
    assert text.endswith(b"\n")
    good = [journal.parse_line(raw) for raw in text.split(b"\n")]
    assert sum(1 for line in good if line and line.get("event") == "call") == 3  # the model list auto read too
    assert limits.today_totals()["ionos"].calls == 2
    # a line glued to an unfinished one before it (written by a writer that did not mend it) is recovered
    glued = b'{"time":"2026-11-29T01:00:00Z","event":"ca' + json.dumps(line_at(now)).encode()
    assert journal.parse_line(glued)["provider"] == "ionos"


def test_a_journal_that_cannot_be_written_never_fails_a_node(tmp_path, monkeypatch, mount, pack_logs):
    monkeypatch.setenv("HOSTED_IMAGES_JOURNAL", str(tmp_path))  # a folder: no file can be opened there
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_IONOS", "2")
    app = mount(IONOS)
    IONOS.run()
    IONOS.run()
    warnings = [r for r in pack_logs.records if r.levelno == logging.WARNING and "cannot be written" in r.getMessage()]
    assert len(warnings) == 1 and "calls go on without it" in warnings[0].getMessage()
    with pytest.raises(limits.DailyLimitRefusal):  # the calls that could not be written still count
        IONOS.run()
    assert len(app.calls("/v1/images/edits")) == 2


def test_a_journal_hook_that_breaks_never_fails_a_node(mount, monkeypatch, pack_logs):
    def broken(*args):
        raise RuntimeError("a bug in the journal")

    monkeypatch.setattr(journal, "call_line", broken)
    mount(OVH)
    assert OVH.run()[0].shape[0] == 1
    assert "the spend journal could not describe a call; it is counted as asked" in pack_logs.text
    assert limits.today_totals()["ovh"].images == 1  # still counted towards the limits


# --- daily limits ---------------------------------------------------------------------------------------


def test_a_provider_limit_refuses_the_node_that_would_pass_it_before_sending(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH", "3")
    app = mount(OVH)
    OVH.run(count=2)
    sent = len(app.requests)
    with pytest.raises(limits.DailyLimitRefusal) as caught:
        OVH.run(count=2)  # 2 today + 2 > 3: the whole node's ask is checked up front
    assert len(app.requests) == sent
    text = str(caught.value)
    assert text.startswith("OVH AI Endpoints: refused by the daily image limit (nothing was sent): ")
    assert "HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH allows 3 images a day" in text and "2 were asked for today" in text
    assert "asks for 2 more" in text and "local calendar day" in text
    OVH.run(count=1)  # exactly up to the limit
    with pytest.raises(limits.DailyLimitRefusal):
        OVH.run(count=1)
    assert len(journal_calls("ovh")) == 3


def test_the_global_limit_counts_every_provider(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT", "3")
    mount(OPENAI)
    OPENAI.run(n=2)
    app = mount(IONOS)
    with pytest.raises(limits.DailyLimitRefusal) as caught:
        IONOS.run(image=picture(batch=2))  # n=1 for each of 2 images: 2 more, 4 in all
    assert app.requests == []
    assert "HOSTED_IMAGES_DAILY_IMAGE_LIMIT allows 3 images a day for all providers together; 2 were asked" in str(
        caught.value
    )
    IONOS.run()
    assert limits.today_totals()["ionos"].images == 1


def test_refused_and_unreached_calls_do_not_count_but_failures_that_may_be_billed_do(path, mount, monkeypatch):
    now = clock.now()
    write_lines(
        path,
        [
            line_at(now, status=402, outcome="failed", failure="refused", images_returned=0),
            line_at(now, status=None, outcome="failed", failure="connect_failed", images_returned=0),
            line_at(now, status=None, outcome="failed", failure="read_timeout", images_returned=0),  # may have run
            line_at(now, status=504, outcome="failed", failure="refused", images_returned=0),  # a gateway gave up
            line_at(now, asked=1, images_returned=3),  # a server that ignored n: the extra ones are not counted
            line_at(now - datetime.timedelta(days=1)),  # yesterday's
        ],
    )
    totals = limits.today_totals()["ionos"]
    assert (totals.calls, totals.failed, totals.images, totals.returned) == (5, 4, 3, 1)
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_IONOS", "3")
    app = mount(IONOS)
    with pytest.raises(limits.DailyLimitRefusal, match="3 were asked for today"):
        IONOS.run()
    assert app.requests == []


def test_a_node_naming_another_key_is_journaled_and_limited_as_its_provider(mount, slot_server, monkeypatch, tmp_path):
    app = mount(OPENAI)
    monkeypatch.setenv("TEAM_IMAGES_KEY", FAKE_KEYS["OPENAI_API_KEY"])
    monkeypatch.setenv("HOSTED_IMAGES_KEY_VARIABLES", "TEAM_IMAGES_KEY")
    credentials = tmp_path / "credentials.ini"
    credentials.write_text(f"[team]\napi_key = {FAKE_KEYS['OPENAI_API_KEY']}\nbase_url = {slot_server.url}/v1\n")
    credentials.chmod(0o600)
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(credentials))
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OPENAI", "2")
    OPENAI.run(api_key_env="TEAM_IMAGES_KEY")  # a listed variable; the model list read for auto first
    OPENAI.run(api_key_env="team")  # a credentials-file section
    calls = [line for line in journal_lines() if line["event"] == "call"]
    assert [(line["provider"], line["images_asked"]) for line in calls] == [("openai", 0), ("openai", 1)] * 2
    sent = len(app.requests)
    with pytest.raises(limits.DailyLimitRefusal, match="HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OPENAI"):
        OPENAI.run(api_key_env="team")
    assert len(app.requests) == sent


def test_a_limit_that_is_not_a_number_is_refused_clearly(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_AGNIC", "ten")
    app = mount(AGNIC)
    with pytest.raises(
        limits.DailyLimitRefusal, match="HOSTED_IMAGES_DAILY_IMAGE_LIMIT_AGNIC is 'ten', not a whole number"
    ):
        AGNIC.run()
    assert app.requests == []
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_AGNIC", "0")
    with pytest.raises(limits.DailyLimitRefusal, match="allows 0 images a day"):
        AGNIC.run()
    mod("nodes.agnic").AgnicListModels().list_models()  # asks for no image: never limited
    assert [r.path for r in app.requests] == ["/v1/models"]


def test_nodes_running_at_once_count_each_others_images(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH", "3")
    app = mount(OVH)
    app.inject(delay=1.0, path=OVH.api_path, times=2)
    first = threading.Thread(target=OVH.run, kwargs={"count": 2})
    first.start()
    time.sleep(0.3)  # the first node is waiting for its two images
    with pytest.raises(limits.DailyLimitRefusal, match="2 were asked for today"):
        OVH.run(count=2)
    first.join()
    OVH.run(count=1)
    assert len(app.requests) == 3


def test_counting_today_reads_only_the_end_of_a_long_journal(path):
    now = clock.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = 100
    lines = [
        line_at(midnight - datetime.timedelta(days=days - day) + datetime.timedelta(minutes=index), asked=1)
        for day in range(days)
        for index in range(1000)
    ]
    lines[-500:] = [line_at(midnight + datetime.timedelta(seconds=index), asked=2) for index in range(500)]  # today's
    write_lines(path, lines)
    started = time.perf_counter()
    assert limits.today_totals()["ionos"].images == 1000
    first = time.perf_counter() - started
    journal.append(line_at(now, asked=3))
    started = time.perf_counter()
    assert limits.today_totals()["ionos"].images == 1003
    again = time.perf_counter() - started
    size = path.stat().st_size / 1e6
    print(
        f"\n100,000 lines ({size:.1f} MB): first count {first * 1000:.1f} ms, after one more line {again * 1000:.2f} ms"
    )
    assert first < 0.5 and again < 0.05


# --- the report, the route's logic and the command ----------------------------------------------------


def test_todays_spend_per_provider_without_keys_or_prompts(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OPENAI", "50")
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT", "80")
    mount(OPENAI)
    OPENAI.run(prompt=PROMPT, n=2)
    mount(AIGNE)
    AIGNE.run(prompt=PROMPT)
    report = spend.spend_today(nodes.PROVIDERS)
    assert report["date"] == clock.today().isoformat()
    assert list(report["providers"]) == list(nodes.PROVIDERS)
    openai = report["providers"]["openai"]
    assert (openai["label"], openai["calls"], openai["images"], openai["failed"]) == ("OpenAI-compatible", 1, 2, 0)
    assert openai["output_tokens"] == 544 and openai["limits"] == [
        {"variable": "HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OPENAI", "images": 50},
        {"variable": "HOSTED_IMAGES_DAILY_IMAGE_LIMIT", "images": 80},
    ]
    assert report["providers"]["aigne"]["credits"] > 0 and report["providers"]["ionos"]["calls"] == 0
    text = json.dumps(report)
    assert "secret-prompt-marker" not in text and all(key not in text for key in FAKE_KEYS.values())
    assert str(Path.home()) not in text and "/tmp" not in text


def test_summary_command_per_day_and_provider(path, capsys):
    now = clock.now()
    write_lines(
        path,
        [
            line_at(now, "aigne", usage={"aigneHubCredits": 6.5}),
            line_at(
                now,
                "aigne",
                usage={"aigneHubCredits": 6},
                status=500,
                outcome="failed",
                failure="refused",
                images_returned=0,
            ),
            line_at(now, "agnic", usage={"prompt_tokens": 12, "completion_tokens": 1290, "cost": 0.039}),
            line_at(now - datetime.timedelta(days=2), "ionos", asked=4),
            line_at(now - datetime.timedelta(days=9), "ionos", asked=7),  # outside --days 7
        ],
    )
    with path.open("ab") as handle:
        handle.write(b"{damaged\n")
    assert summary_command.main(["--path", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    today, two_days_ago = (str(clock.today() - datetime.timedelta(days=back)) for back in (0, 2))
    assert list(report["days"]) == [two_days_ago, today]
    assert report["days"][today]["aigne"] == {
        "calls": 2,
        "failed": 1,
        "images": 2,
        "returned": 1,
        "other_calls": 0,
        "credits": 12.5,
    }
    assert report["days"][today]["agnic"]["cost"] == 0.039 and report["days"][today]["agnic"]["output_tokens"] == 1290
    assert report["total"]["ionos"]["images"] == 4
    assert summary_command.main(["--path", str(path), "--days", "1"]) == 0
    table = capsys.readouterr().out
    assert today in table and two_days_ago not in table and "credits" in table
    assert [row.split() for row in table.splitlines() if row.strip().startswith("aigne")][0] == [
        "aigne",
        "2",
        "1",
        "2",
        "1",
        "12.5",
        "-",
        "-",
        "-",
        "-",
    ]  # credits, then $ reported, $ estimated, tokens in and out


def test_summary_command_runs_as_a_module_and_says_when_there_is_no_journal(path):
    ran = subprocess.run(
        [sys.executable, "-m", "nodes.cli.journal", "--path", str(path)],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1 and "no journal at" in ran.stderr
    write_lines(path, [line_at(clock.now(), "ovh")])
    ran = subprocess.run(
        [sys.executable, "-m", "nodes.cli.journal", "--path", str(path), "--json"],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0 and json.loads(ran.stdout)["total"]["ovh"]["calls"] == 1

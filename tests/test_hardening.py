"""What a hostile server, a shared machine or a second process does to the surfaces added last
round -- streams, the spend journal, the daily limits, the model lists -- and what the pack does
instead (issue 21). Every server here is on loopback."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from conftest import FAKE_KEYS, defaults, journal_lines, mod, run_node
from provider_table import BY_NAME, mount, slot_server  # noqa: F401 -- fixtures

TESTS = Path(__file__).resolve().parent
server_mod = mod("nodes.emulator.server")
synth = mod("nodes.emulator.synth")
errors = mod("nodes.core.errors")
comfy = mod("nodes.core.comfy")
journal = mod("nodes.core.journal")
limits = mod("nodes.core.limits")
routes = mod("nodes.routes")
PACK = mod("nodes")
NODES = PACK.NODE_CLASS_MAPPINGS
GENERATE = NODES["HostedImages_OpenAICompatImageGenerate"]
KEY = FAKE_KEYS["OPENAI_API_KEY"]
IONOS, AGNIC, OVH, OPENAI = (BY_NAME[name] for name in ("ionos", "agnic", "ovh", "openai_compat"))


class Hostile(server_mod.EmulatedAPI):
    """An OpenAI-compatible server that answers what the test tells it to."""

    name = "openai"

    def __init__(self):
        super().__init__()
        self.announces = False  # it poses as a real provider
        self.models_body = json.dumps({"object": "list", "data": [{"id": "gpt-image-2"}]}).encode()
        self.image_reply = None  # a Response, or a callable giving one
        self.routes = {
            ("GET", "/v1/models"): lambda request: server_mod.Response(
                200, self.models_body, {"Content-Type": "application/json"}
            ),
            ("POST", "/v1/images/generations"): self._images,
        }

    def _images(self, request):
        reply = self.image_reply
        return reply(request) if callable(reply) else reply


@pytest.fixture
def hostile(serve, monkeypatch):
    app = Hostile()
    server = serve(app)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    return app


def png(size: int = 64, seed: int = 0) -> bytes:
    return synth.generate(f"picture {seed}", size, size)


def event(kind: str, blob: bytes, **more) -> bytes:
    return server_mod.sse_event(kind, {"type": kind, "b64_json": base64.b64encode(blob).decode(), **more})


def generate(**inputs):
    return run_node(GENERATE, **defaults(GENERATE, **{"prompt": "a fox", "model": "gpt-image-2", **inputs}))


# --- 1. what a reply may cost after parsing ---------------------------------------------------------

MEASURE = """
import json, sys
sys.path.insert(0, {tests!r})
from conftest import defaults, mod, run_node
errors = mod("nodes.core.errors")
node = mod("nodes").NODE_CLASS_MAPPINGS[{node!r}]
def rss(field):
    return int(dict(line.split(":", 1) for line in open("/proc/self/status"))[field].split()[0]) / 1024
before = rss("VmRSS")
try:
    run_node(node, **defaults(node, **{inputs}))
    outcome = "ran"
except errors.RemoteImageError as exc:
    outcome = str(exc)
print(json.dumps({{"outcome": outcome, "growth_mb": rss("VmHWM") - before}}))
"""
LAUNCH = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', sys.argv[1]]).returncode)"


def measured(node: str, inputs: dict, tmp_path) -> dict:
    """Run a node in a fresh process (a launcher between, so its peak is its own); -> outcome, growth."""
    code = MEASURE.format(tests=str(TESTS), node=node, inputs=repr(inputs))
    child = subprocess.run(
        [sys.executable, "-c", LAUNCH, code], env=dict(os.environ), capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


AMPLIFIER = b'{"data":[' + b"{}," * 66_000_000 + b"{}]}"  # 198 MB; as parsed objects, about 5 GB


@pytest.fixture(scope="module")
def amplifier_server():
    app = Hostile()
    server = server_mod.EmulatorServer({"": app}).start()
    yield server, app
    server.stop()


@pytest.mark.parametrize("where", ["image reply", "model list"])
def test_a_reply_of_millions_of_empty_objects_is_refused_in_little_memory(
    where, amplifier_server, monkeypatch, tmp_path
):
    server, app = amplifier_server
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    if where == "image reply":
        app.image_reply = server_mod.Response(200, AMPLIFIER, {"Content-Type": "application/json"})
        result = measured(
            "HostedImages_OpenAICompatImageGenerate", {"prompt": "a fox", "model": "gpt-image-2"}, tmp_path
        )
        assert "JSON values, more than the 100,000 such a reply may hold" in result["outcome"]
    else:  # the list auto reads before a generate, and List Models
        app.models_body = AMPLIFIER
        result = measured("HostedImages_OpenAICompatListModels", {}, tmp_path)
        assert "the reply was larger than 16 MB and was refused" in result["outcome"]
    print(f"{where}: grew {result['growth_mb']:.0f} MB; {result['outcome'][:160]}")
    assert result["growth_mb"] < 1536


def test_a_stream_event_of_millions_of_empty_objects_is_refused(hostile, tmp_path):
    bloated = b"event: image_generation.completed\ndata: " + b"[" + b"{}," * 20_000_000 + b"{}]\n\n"  # 60 MB
    hostile.image_reply = server_mod.Response.stream([bloated])
    result = measured(
        "HostedImages_OpenAICompatImageGenerate",
        {"prompt": "a fox", "model": "gpt-image-2", "partial_images": 1},
        tmp_path,
    )
    print(f"stream event: grew {result['growth_mb']:.0f} MB")
    assert "JSON values" in result["outcome"] and result["growth_mb"] < 1536


# --- 2.-4. streams ---------------------------------------------------------------------------------------


def endless(first: list[bytes], then: bytes, gap: float = 0.01):
    def events():
        yield from first
        while True:
            time.sleep(gap)
            yield then

    return events()


def test_a_stream_is_left_once_every_image_asked_for_came(hostile):
    """One ignored event after another would otherwise hold the node -- and ComfyUI's queue -- forever."""
    hostile.image_reply = lambda request: server_mod.Response.stream(
        endless([event("image_generation.completed", png())], server_mod.sse_event("noise", {"type": "noise"}))
    )
    started = time.monotonic()
    image, _, _ = generate(partial_images=1)
    assert image.shape[0] == 1 and time.monotonic() - started < 5


def test_a_stream_without_its_images_ends_at_its_deadline(hostile, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_STREAM_DEADLINE", "1.5")
    hostile.image_reply = lambda request: server_mod.Response.stream(
        endless([], server_mod.sse_event("noise", {"type": "noise"}), gap=0.05)
    )
    started = time.monotonic()
    with pytest.raises(errors.RemoteImageError, match=r"still going after 1\.5s .* so it was abandoned"):
        generate(partial_images=1)
    assert time.monotonic() - started < 5


def test_a_flood_of_huge_partial_images_is_skipped_and_cancel_comes_first(hostile, monkeypatch):
    big = synth.generate("huge partial", 4096, 4096)  # each about 17 MP; decoding one takes a while
    partials = [event("image_generation.partial_image", big, partial_image_index=i) for i in range(100)]
    hostile.image_reply = lambda request: server_mod.Response.stream(endless(partials, b": waiting\n\n", gap=1))
    cancelled_at, decoded = [], []
    batch_module = mod("nodes.core.batch")
    real_preview = batch_module.preview_picture
    monkeypatch.setattr(
        batch_module, "preview_picture", lambda blob, size: decoded.append(1) or real_preview(blob, size)
    )

    def cancel():
        cancelled_at.append(time.monotonic())
        comfy.request_interrupt()

    threading.Timer(1.0, cancel).start()
    with pytest.raises(comfy.InterruptProcessingException):
        generate(partial_images=1, unique_id="3")
    stopped = time.monotonic() - cancelled_at[0]
    print(f"stopped {stopped:.2f}s after Cancel")
    assert stopped < 0.5
    assert len(decoded) == 1  # one partial image asked for: the other 99 were never decoded


def test_more_completed_images_than_asked_are_ignored_and_never_counted(hostile, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OPENAI", "2")
    completed = [event("image_generation.completed", png(seed=i)) for i in range(185)]
    hostile.image_reply = lambda request: server_mod.Response.stream(completed)
    image, _, _ = generate(partial_images=1)
    assert image.shape[0] == 1
    (line,) = [line for line in journal_lines() if line["event"] == "call" and line["images_asked"]]
    assert (line["images_asked"], line["images_returned"]) == (1, 1)
    assert limits.today_totals()["openai"].images == 1
    generate(partial_images=1)  # the second of two allowed


# --- 5.-10. the journal and the limits ------------------------------------------------------------------------


@pytest.fixture
def comfyui_folders(monkeypatch, tmp_path):
    """ComfyUI's folders as its folder_paths names them, and a home folder of the test's own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    base = tmp_path / "comfyui"
    folders = {name: base / name for name in ("output", "input", "temp", "user")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    fake = type(
        "FolderPaths",
        (),
        {f"get_{name}_directory": staticmethod(lambda f=folder: str(f)) for name, folder in folders.items()},
    )
    monkeypatch.setattr(comfy, "_folder_paths", fake)
    journal._move_old_journal.cache_clear()
    yield folders, home
    journal._move_old_journal.cache_clear()


def test_the_journal_lives_outside_every_folder_comfyui_serves(comfyui_folders, monkeypatch, mount):
    folders, home = comfyui_folders
    old = folders["output"] / "hosted_images" / "journal.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text('{"time":"2026-12-06T09:00:00Z","event":"call","provider":"ovh","images_asked":1,"outcome":"ok"}\n')
    monkeypatch.delenv("HOSTED_IMAGES_JOURNAL")
    mount(OVH)
    OVH.run()
    path = home / ".local" / "share" / "comfyui-hosted-image-apis" / "journal.jsonl"
    assert not old.exists() and path.is_file()  # moved out, where /view and /upload cannot reach it
    assert [line["provider"] for line in map(json.loads, path.read_text().splitlines()) if line["event"] == "call"] == [
        "ovh",
        "ovh",
    ]
    monkeypatch.setenv("HOSTED_IMAGES_JOURNAL", str(folders["output"] / "journal.jsonl"))  # a served folder
    assert journal.journal_path() == path


def test_todays_count_never_goes_down_whatever_happens_to_the_file(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH", "2")
    app = mount(OVH)
    OVH.run(count=2)
    Path(os.environ["HOSTED_IMAGES_JOURNAL"]).write_text("")  # rewritten through /upload, say
    with pytest.raises(limits.DailyLimitRefusal, match="2 were asked for today"):
        OVH.run()
    Path(os.environ["HOSTED_IMAGES_JOURNAL"]).unlink()
    with pytest.raises(limits.DailyLimitRefusal):
        OVH.run()
    assert len([r for r in app.requests if OVH.api_path in r.path]) == 2


RACE = """
import json, sys, time
sys.path.insert(0, {tests!r})
from conftest import defaults, mod, run_node
while not __import__("os").path.exists({go!r}):
    time.sleep(0.01)
node = mod("nodes").NODE_CLASS_MAPPINGS["HostedImages_OvhSdxlTextToImage"]
try:
    run_node(node, **defaults(node, prompt="a hippo"))
    print("sent")
except mod("nodes.core.limits").DailyLimitRefusal:
    print("refused")
"""


def test_several_processes_sharing_the_journal_keep_to_the_limit(mount, monkeypatch, tmp_path):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH", "1")
    app = mount(OVH)
    app.inject(delay=1.0, path=OVH.api_path, times=3)  # each call is still running while the others check
    go = tmp_path / "go"
    code = RACE.format(tests=str(TESTS), go=str(go))
    children = [
        subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    time.sleep(2.0)  # all three are waiting at the line
    go.touch()
    said = sorted(child.communicate(timeout=120)[0].strip() for child in children)
    assert said == ["refused", "refused", "sent"]
    assert len([r for r in app.requests if OVH.api_path in r.path]) == 1


def test_a_lone_surrogate_in_an_id_is_written_and_counted(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_AGNIC", "1")
    app = mount(AGNIC)
    app.inject(rewrite=lambda reply: {**reply, "id": "\ud800"}, path=AGNIC.api_path)
    run_node(
        NODES["HostedImages_AgnicImageGenerate"],
        **defaults(NODES["HostedImages_AgnicImageGenerate"], prompt="x", unique_id="\ud800"),
    )
    (line,) = [line for line in journal_lines() if line["event"] == "call" and line["images_asked"]]
    assert line["request_id"] == "\ud800" and line["node"] == "\ud800"
    raw = Path(os.environ["HOSTED_IMAGES_JOURNAL"]).read_bytes()
    assert raw.isascii() and b"\\ud800" in raw
    with pytest.raises(limits.DailyLimitRefusal):
        AGNIC.run()


def test_a_key_as_a_usage_name_never_reaches_the_journal(mount):
    app = mount(AGNIC)
    secret = "sk-proj-abcdefghijklmnopqrstuvwx"
    app.inject(rewrite=lambda reply: {**reply, "usage": {secret: 5, "prompt_tokens": 3}}, path=AGNIC.api_path)
    AGNIC.run()
    text = Path(os.environ["HOSTED_IMAGES_JOURNAL"]).read_text()
    assert secret not in text and "sk-" not in text
    (line,) = [line for line in journal_lines() if line["event"] == "call" and line["images_asked"]]
    assert line["usage"] == {"input_tokens": 3}


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_symlinked_journal_is_not_followed_and_the_call_still_counts(where, mount, monkeypatch, tmp_path):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH", "1")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "journal.jsonl").write_text("")
    if where == "file":
        link = tmp_path / "journal.jsonl"
        link.symlink_to(target / "journal.jsonl")
    else:
        (tmp_path / "linked").symlink_to(target, target_is_directory=True)
        link = tmp_path / "linked" / "journal.jsonl"
    monkeypatch.setenv("HOSTED_IMAGES_JOURNAL", str(link))
    app = mount(OVH)
    OVH.run()
    assert (target / "journal.jsonl").read_text() == ""  # nothing written through the link
    with pytest.raises(limits.DailyLimitRefusal):  # counted in this process all the same
        OVH.run()
    assert len([r for r in app.requests if OVH.api_path in r.path]) == 1


def test_calls_to_the_bundled_emulator_never_count(mount, monkeypatch):
    monkeypatch.setenv("HOSTED_IMAGES_DAILY_IMAGE_LIMIT_OVH", "1")
    app = mount(OVH)
    app.announces = True  # the bundled emulator, as `make demo` runs it
    for _ in range(3):
        OVH.run()
    lines = [line for line in journal_lines() if line["event"] == "call"]
    assert len(lines) == 3 and all(line["emulator"] is True for line in lines)
    assert limits.today_totals() == {}


# --- 11., 12. nothing paid for is lost from sight ----------------------------------------------------------


def test_a_stream_that_ends_after_billed_partials_keeps_the_last_and_is_journaled_failed(hostile, tmp_path):
    partials = [event("image_generation.partial_image", png(seed=i), partial_image_index=i) for i in range(2)]
    hostile.image_reply = lambda request: server_mod.Response.stream(partials)  # then a clean end
    with pytest.raises(errors.RemoteImageError, match="the last partial image of image 1 was saved to") as caught:
        generate(partial_images=2)
    (folder,) = (tmp_path / "unsaved").iterdir()
    assert [p.name for p in folder.iterdir()] == ["partial_001.png"]
    assert str(folder) in str(caught.value)
    (line,) = [line for line in journal_lines() if line["event"] == "call" and line["images_asked"]]
    assert (line["outcome"], line["failure"], line["images_returned"]) == ("failed", "stream_incomplete", 0)


def test_cancel_keeps_the_saved_folder_on_the_last_line_for_the_client_that_queued(hostile, monkeypatch, tmp_path):
    sent = []
    instance = type("Server", (), {})()
    instance.client_id = "me"
    instance.send_progress_text = lambda text, node, sid=None: sent.append((node, text, sid))
    monkeypatch.setitem(sys.modules, "server", type("M", (), {"PromptServer": type("P", (), {"instance": instance})}))
    first = event("image_generation.completed", png())
    hostile.image_reply = lambda request: server_mod.Response.stream(endless([first], b": waiting\n\n", gap=0.2))
    threading.Timer(0.8, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        generate(n=2, partial_images=1, unique_id="5")
    (folder,) = (tmp_path / "unsaved").iterdir()
    node, last, sid = sent[-1]
    assert node == "5" and last.startswith("OpenAI-compatible · cancelled · ") and folder.name in last
    assert sid == "me"  # a line naming a folder goes only to the client that queued the prompt
    assert all(sid == "me" for _, text, sid in sent if folder.name in text)
    instance.client_id = None  # a prompt queued without a client id: such a line is broadcast to no one
    comfy.progress_text("5", "saved to somewhere", private=True)
    assert sent[-1][1] != "saved to somewhere"
    listed = mod("nodes.common").recent_unsaved()
    assert listed[0]["name"] == folder.name and listed[0]["files"] == ["result_001.png"]


# --- 14. a result already paid for is not paid again ------------------------------------------------------------


def test_an_identical_request_within_the_time_reuses_the_images(mount, monkeypatch, progress):
    monkeypatch.setenv("HOSTED_IMAGES_REUSE_MINUTES", "60")
    app = mount(IONOS)
    first = IONOS.run(unique_id="9")
    again = IONOS.run(unique_id="9")  # ComfyUI dropped the cached output and ran the node again
    assert torch.equal(first[0], again[0])
    assert len([r for r in app.requests if IONOS.api_path in r.path]) == 1
    assert "reused, not paid again" in progress[-1][1]
    assert [line["event"] for line in journal_lines()][-1] == "reused"
    IONOS.run(unique_id="9", seed=1)  # a changed seed always sends
    IONOS.run(unique_id="9", prompt="another")  # so does any other input
    IONOS.run(unique_id="10")  # and another node: two identical nodes make two images
    assert len([r for r in app.requests if IONOS.api_path in r.path]) == 4
    monkeypatch.setenv("HOSTED_IMAGES_REUSE_MINUTES", "0")  # switched off
    IONOS.run(unique_id="9")
    assert len([r for r in app.requests if IONOS.api_path in r.path]) == 5


# --- 16. model ids from a server -----------------------------------------------------------------------------


def test_model_ids_reach_the_page_only_as_plain_ids_and_bounded(hostile):
    ids = [
        "gpt-image-2",
        "gpt-image-<img src=x onerror=alert(1)>",
        "gpt-image-" + "x" * 100_000,
        *(f"gpt-image-m-{i}" for i in range(100_000)),
    ]
    hostile.models_body = json.dumps({"object": "list", "data": [{"id": i} for i in ids]}).encode()
    status, body = routes.model_list("openai", PACK.MODEL_LISTS, operation="generate", refresh=True)
    assert status == 200
    assert len(body["models"]) <= 2000 and body["dropped"] >= 98_000
    assert "gpt-image-2" in body["models"] and not any("<" in m or len(m) > 256 for m in body["models"])

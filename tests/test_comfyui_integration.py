"""Opt-in: the pack inside a real ComfyUI, against the local emulator.

Set COMFYUI_DIR (the folder with ComfyUI's main.py) and COMFYUI_PYTHON (a Python with ComfyUI's
requirements). ComfyUI runs with a temporary --base-directory whose custom_nodes/ links to this
pack, so the ComfyUI folder is not changed. The browser checks also need Chromium
(CHROMIUM, default /usr/bin/chromium) and are skipped without it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from PIL import Image

from conftest import FAKE_KEYS, ROOT, mod

COMFYUI_DIR = os.environ.get("COMFYUI_DIR", "")
COMFYUI_PYTHON = os.environ.get("COMFYUI_PYTHON", "")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PACK_FOLDER = "comfyui-hosted-image-apis"

pytestmark = [
    pytest.mark.comfyui,
    pytest.mark.skipif(
        not (COMFYUI_DIR and COMFYUI_PYTHON and Path(COMFYUI_DIR, "main.py").is_file()),
        reason="set COMFYUI_DIR (folder with main.py) and COMFYUI_PYTHON to run the real-ComfyUI tests",
    ),
]

API_EXAMPLES = sorted((ROOT / "example_workflows" / "api").glob("*.json"))
UI_EXAMPLES = sorted((ROOT / "example_workflows").glob("*.json"))
# (width, height) of what each example saves; examples that save nothing list no size
EXPECTED_SIZES = {
    "ionos_generate": (1536, 1536),
    "ionos_edit_masked": (768, 512),
    "aigne_generate": (1536, 1024),
    "aigne_edit": (1536, 1024),  # size auto: the wide input gives a wide result
    "agnic_generate": (1344, 768),  # 16:9
    "openai_compat_generate": (1024, 1024),
    "openai_compat_edit_masked": (1536, 1024),
    "ovh_sdxl_upscale": None,
    "ionos_list_models": None,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ComfyUI:
    def __init__(self, base: Path, environment: dict):
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (base / "custom_nodes").mkdir(parents=True)
        os.symlink(ROOT, base / "custom_nodes" / PACK_FOLDER)
        self.log_path = base / "comfyui.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [COMFYUI_PYTHON, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
             "--base-directory", str(base), "--disable-auto-launch"],
            cwd=COMFYUI_DIR, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/object_info", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.5)
        raise RuntimeError("ComfyUI did not start within 180 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(ComfyUI, emulated apps): the emulator in this process, ComfyUI pointed at it."""
    emulator = mod("nodes.emulator")
    server, emulated = emulator.start_all()
    environment = dict(os.environ)
    for item in emulated.values():
        environment.update(item.environment(server.url))
    environment["HOSTED_IMAGES_CREDENTIALS"] = str(tmp_path_factory.mktemp("creds") / "none.ini")
    environment["NO_PROXY"] = "127.0.0.1,localhost"
    comfy = ComfyUI(tmp_path_factory.mktemp("comfyui"), environment)
    yield comfy, {prefix.strip("/"): item.app for prefix, item in emulated.items()}
    comfy.stop()
    server.stop()


def run_workflow(comfy: ComfyUI, path: Path, out: Path, overrides=()):
    headless = mod("nodes.cli.headless")
    prompt = json.loads(path.read_text())
    headless.apply_overrides(prompt, list(overrides))
    headless.upload_inputs(comfy.url, prompt, ROOT / "example_workflows" / "inputs")
    return headless.run(comfy.url, prompt, out, timeout=300, quiet=True)


def test_object_info_lists_every_node(stack, pack):
    comfy, _ = stack
    info = requests.get(f"{comfy.url}/object_info", timeout=30).json()
    missing = set(pack.NODE_CLASS_MAPPINGS) - set(info)
    assert not missing, f"ComfyUI did not load: {missing}\n{comfy.log_path.read_text()[-3000:]}"
    for node_id in pack.NODE_CLASS_MAPPINGS:
        assert info[node_id]["category"].startswith("Hosted Images")
        assert not info[node_id].get("api_node")


def test_templates_are_served_under_the_pack(stack):
    comfy, _ = stack
    templates = requests.get(f"{comfy.url}/api/workflow_templates", timeout=30).json()
    assert sorted(templates[PACK_FOLDER]) == sorted(p.stem for p in UI_EXAMPLES)
    first = UI_EXAMPLES[0]
    served = requests.get(f"{comfy.url}/api/workflow_templates/{PACK_FOLDER}/{first.name}", timeout=30)
    assert served.ok and served.json() == json.loads(first.read_text())


def test_key_status_route_never_shows_a_key(stack):
    comfy, _ = stack
    reply = requests.get(f"{comfy.url}/api/hosted_images/keys", timeout=30)
    assert reply.ok
    status = reply.json()
    assert status["ionos"]["configured"] is True and "IONOS_API_TOKEN" in status["ionos"]["source"]
    for key in FAKE_KEYS.values():
        assert key not in reply.text


@pytest.mark.parametrize("path", API_EXAMPLES, ids=lambda p: p.stem)
def test_every_api_example_runs(stack, path, tmp_path):
    comfy, _ = stack
    code = run_workflow(comfy, path, tmp_path)
    assert code == 0, comfy.log_path.read_text()[-3000:]
    saved = sorted(tmp_path.glob("*.png"))
    expected = EXPECTED_SIZES.get(path.stem, "any")
    if "list_models" in path.stem:
        assert saved == []
        return
    assert saved, "the workflow saved no image"
    for file in saved:
        with Image.open(file) as picture:
            assert picture.width >= 64 and picture.height >= 64
            if expected not in ("any", None):
                assert picture.size == expected, file.name
            for key in FAKE_KEYS.values():
                assert key not in json.dumps(picture.info, default=str), "a key is in the PNG metadata"


def test_an_api_workflow_may_name_any_size_and_model(stack, tmp_path):
    """VALIDATE_INPUTS lets a WIDTHxHEIGHT outside the size combo through; the node checks it."""
    comfy, _ = stack
    overrides = ["1.model=gpt-image-2-2026-04-21", "1.size=1536x864", "1.background=auto", "1.seed=994"]
    code = run_workflow(comfy, ROOT / "example_workflows" / "api" / "openai_compat_generate.json", tmp_path, overrides)
    assert code == 0, comfy.log_path.read_text()[-3000:]
    (saved,) = tmp_path.glob("*.png")
    with Image.open(saved) as picture:
        assert picture.size == (1536, 864)


def test_history_and_log_hold_no_key(stack):
    comfy, _ = stack
    history = requests.get(f"{comfy.url}/history", timeout=30).text
    assert history.count("prompt") > 0
    log = comfy.log_path.read_text(errors="replace")
    for key in FAKE_KEYS.values():
        assert key not in history, "a key is in /history"
        assert key not in log, "a key is in the server log"


def test_a_node_error_reaches_the_runner_with_the_nodes_message(stack, tmp_path, capsys):
    comfy, apps = stack
    apps["ionos"].inject(status=500, message="maintenance window", times=1)
    code = run_workflow(comfy, ROOT / "example_workflows" / "api" / "ionos_generate.json", tmp_path, ["1.seed=991"])
    err = capsys.readouterr().err
    assert code == 1 and "IONOS image generation failed" in err and "maintenance window" in err
    for key in FAKE_KEYS.values():
        assert key not in err and key not in comfy.log_path.read_text(errors="replace")


@pytest.mark.parametrize(
    "app,workflow,overrides",
    [
        ("ionos", "ionos_generate.json", ["1.seed=992"]),
        # several concurrent calls: every one of them must see the interrupt, not just the first
        ("ovh", "ovh_sdxl_upscale.json", ["1.seed=993", "1.count=4"]),
    ],
)
def test_interrupting_a_slow_call(stack, tmp_path, app, workflow, overrides):
    comfy, apps = stack
    apps[app].inject(delay=20, times=4)
    result = {}
    runner = threading.Thread(
        target=lambda: result.setdefault("code", run_workflow(comfy, ROOT / "example_workflows" / "api" / workflow, tmp_path, overrides))
    )
    runner.start()
    time.sleep(2.0)
    started = time.monotonic()
    requests.post(f"{comfy.url}/interrupt", timeout=30)
    runner.join(15)
    assert not runner.is_alive()
    assert result["code"] == 130  # execution_interrupted
    assert time.monotonic() - started < 5
    apps[app].reset()


# --- the UI in headless Chromium ---------------------------------------------------------------


class Browser:
    """Headless Chromium driven over the DevTools protocol (no extra packages)."""

    def __init__(self, profile: Path):
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1400,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("Chromium did not start")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self.ws = mod("nodes.cli.headless").WebSocket(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def command(self, method: str, **params):
        self.next_id += 1
        self.ws._send(0x1, json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            _, payload = self.ws.receive()
            message = json.loads(payload)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.command("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:1500])
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return
            except RuntimeError:
                pass
            time.sleep(0.5)
        raise TimeoutError(expression)

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def browser(stack, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    comfy, _ = stack
    chrome = Browser(tmp_path_factory.mktemp("chromium"))
    chrome.command("Page.navigate", url=comfy.url)
    chrome.wait_for("!!(window.app && window.app.graph && window.LiteGraph)")
    yield chrome
    chrome.close()


@pytest.mark.parametrize("path", UI_EXAMPLES, ids=lambda p: p.stem)
def test_ui_example_opens_without_missing_nodes(browser, path):
    workflow = path.read_text()
    missing = browser.evaluate(
        f"""(async () => {{
            const wf = {workflow};
            await window.app.loadGraphData(wf);
            await new Promise(r => setTimeout(r, 300));
            const unknown = wf.nodes.map(n => n.type).filter(t => !window.LiteGraph.registered_node_types[t]);
            const loaded = window.app.graph._nodes.length;
            const dialog = /missing/i.test(document.body.innerText) ? document.body.innerText.match(/.{{0,80}}missing.{{0,80}}/i)[0] : "";
            return {{unknown, loaded, dialog}};
        }})()"""
    )
    assert missing["unknown"] == [] and missing["dialog"] == ""
    assert missing["loaded"] == len(json.loads(workflow)["nodes"])


def test_refresh_button_loads_the_live_model_list(browser):
    workflow = (ROOT / "example_workflows" / "ionos_generate.json").read_text()
    result = browser.evaluate(
        f"""(async () => {{
            await window.app.loadGraphData({workflow});
            const node = window.app.graph._nodes.find(n => n.type === "HostedImages_IonosImageGenerate");
            const model = node.widgets.find(w => w.name === "model");
            const button = node.widgets.find(w => w.type === "button");
            const before = [...model.options.values];
            const value = model.value;
            await button.callback();
            await new Promise(r => setTimeout(r, 1000));
            return {{before, after: [...model.options.values], value, kept: model.value}};
        }})()"""
    )
    assert result["kept"] == result["value"]
    added = set(result["after"]) - set(result["before"])
    assert "stabilityai/stable-diffusion-3.5-large" in added, result

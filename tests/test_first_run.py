"""A new user's first steps: the emulator in one terminal and ComfyUI in another, messages that
show the home folder as ~."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from conftest import ROOT, mod

redaction = mod("nodes.core.redaction")


def emulator(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nodes.emulator", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_busy_port_is_one_line_that_suggests_port_0():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        child = emulator("--port", str(port))
        out, err = child.communicate(timeout=60)
    assert child.returncode == 2
    assert err.strip() == (
        f"emulator: port {port} is in use (another emulator or ComfyUI?); pass --port 0 to pick a free one"
    )


def test_the_emulator_writes_its_environment_for_a_second_terminal(tmp_path):
    env_file = tmp_path / "emulator.env"
    child = emulator("--port", "0", "--env-file", str(env_file))
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = env_file.read_text().splitlines()
        assert lines and all(line.startswith("export ") for line in lines)
        names = {line.split("=", 1)[0][len("export ") :] for line in lines}
        assert {"IONOS_API_TOKEN", "IONOS_BASE_URL", "OPENAI_API_KEY", "AGNIC_BASE_URL"} <= names
        # what `source` gives a shell: the variables, pointing at the running emulator
        shell = subprocess.run(
            ["bash", "-c", f"source {env_file} && python3 -c 'import os; print(os.environ[\"IONOS_BASE_URL\"])'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shell.stdout.strip().startswith("http://127.0.0.1:")
    finally:
        child.terminate()
        out, _ = child.communicate(timeout=30)
    assert f"source {env_file}" in out


def test_messages_show_the_home_folder_as_a_tilde(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert redaction.shown_path(tmp_path / ".config" / "x.ini") == os.path.join("~", ".config", "x.ini")
    assert redaction.shown_path("/etc/passwd") == "/etc/passwd"
    credentials = mod("nodes.core.credentials")
    monkeypatch.setenv("HOSTED_IMAGES_CREDENTIALS", str(tmp_path / "creds.ini"))
    provider = mod("nodes.core.provider").registered_provider("ionos")
    monkeypatch.delenv("IONOS_API_TOKEN", raising=False)
    try:
        credentials.require_key(provider)
    except mod("nodes.core.errors").RemoteImageError as exc:
        assert "~/creds.ini" in str(exc) and str(tmp_path) not in str(exc)
    else:
        raise AssertionError("no key: refused")

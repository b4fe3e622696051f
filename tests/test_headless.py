"""The headless runner treats a workflow and a server's /history as data from anyone (the
security review's finding 3): it uploads only pictures inside the workflow's inputs folder or
files given on the command line, and writes only plain file names inside --out. Over real HTTP,
against a small stand-in for ComfyUI's /upload/image and /view."""

from __future__ import annotations

import os
import sys

import pytest

from conftest import mod

server_mod = mod("nodes.emulator.server")
headless = mod("nodes.cli.headless")

PNG = b"\x89PNG\r\n\x1a\n" + b"picture"


class FakeComfyUI(server_mod.EmulatedAPI):
    """Records uploads; serves any output file name it is asked for."""

    def __init__(self):
        super().__init__()
        self.routes = {
            ("POST", "/upload/image"): lambda r: server_mod.Response.json({"name": r.files("image")[0].filename}),
            ("GET", "/view"): lambda r: server_mod.Response(200, PNG, {"Content-Type": "image/png"}),
        }

    def uploaded(self) -> list[tuple[str, bytes]]:
        return [(r.files("image")[0].filename, r.files("image")[0].data) for r in self.calls("/upload/image")]


@pytest.fixture
def comfyui(serve):
    app = FakeComfyUI()
    return app, serve(app).url


@pytest.fixture
def layout(tmp_path):
    """A workflow's inputs folder with one picture, and a private file elsewhere on the machine."""
    inputs = tmp_path / "workflows" / "inputs"
    inputs.mkdir(parents=True)
    (inputs / "mine.png").write_bytes(PNG + b" mine")
    private = tmp_path / "home" / "secret.png"
    private.parent.mkdir()
    private.write_bytes(PNG + b" private")
    os.symlink(private, inputs / "link.png")
    return inputs, private


def load_image(name) -> dict:
    return {"class_type": "LoadImage", "inputs": {"image": name}}


def test_only_pictures_inside_the_inputs_folder_are_uploaded(comfyui, layout, capsys):
    app, url = comfyui
    inputs, private = layout
    prompt = {
        "1": load_image("mine.png"),
        "2": load_image(str(private)),  # an absolute path
        "3": load_image("../home/secret.png"),  # out of the folder
        "4": load_image("link.png"),  # a link in the folder to a file outside it
        "5": load_image("not-here.png"),  # ComfyUI may have it already
    }
    headless.upload_inputs(url, prompt, inputs)
    assert app.uploaded() == [("mine.png", PNG + b" mine")]
    err = capsys.readouterr().err
    for node in ("2", "3", "4"):
        assert f"not uploaded: LoadImage node {node}" in err
    assert "--upload" in err


def test_a_file_passed_on_the_command_line_is_uploaded(comfyui, layout):
    app, url = comfyui
    inputs, private = layout
    headless.upload_inputs(url, {"1": load_image("secret.png")}, inputs, [private])
    assert app.uploaded() == [("secret.png", PNG + b" private")]


@pytest.mark.parametrize(
    "name", ["../../escaped.png", "/tmp/absolute.png", "sub/dir.png", "..", "", "a\\b.png", "C:x.png", None]
)
def test_only_plain_output_names_are_written_and_only_inside_out(name, comfyui, tmp_path):
    app, url = comfyui
    out = tmp_path / "deep" / "out"
    history = {
        "outputs": {
            "9": {
                "images": [
                    {"filename": name, "subfolder": "", "type": "output"},
                    {"filename": "ok.png", "type": "output"},
                ]
            }
        }
    }
    before = set(tmp_path.rglob("*"))
    assert headless.save_outputs(url, history, out) == (1, 1)
    assert set(tmp_path.rglob("*")) - before == {out.parent, out, out / "ok.png"}
    assert (out / "ok.png").read_bytes() == PNG


def test_the_default_inputs_folder_is_beside_the_workflow_or_its_folder(tmp_path):
    api = tmp_path / "example_workflows" / "api"
    api.mkdir(parents=True)
    assert headless.default_inputs_folder(api / "w.json") == tmp_path / "example_workflows" / "inputs"
    (api / "inputs").mkdir()
    assert headless.default_inputs_folder(api / "w.json") == api / "inputs"


def test_without_websocket_client_the_runner_says_what_to_install_before_uploading(
    comfyui, layout, monkeypatch, tmp_path, capsys
):
    app, url = comfyui
    inputs, _ = layout
    workflow = inputs.parent / "w.json"
    workflow.write_text('{"1": {"class_type": "LoadImage", "inputs": {"image": "mine.png"}}}')
    monkeypatch.setitem(sys.modules, "websocket", None)  # as if it were not installed
    code = headless.main([str(workflow), "--server", url, "--out", str(tmp_path / "out")])
    said = capsys.readouterr().err.strip()
    assert code == headless.EXIT_NO_WEBSOCKET == 4
    assert said == f"headless: {headless.WEBSOCKET_MISSING}" and "pip install websocket-client" in said  # one line
    assert app.uploaded() == []


def test_nothing_answering_at_the_server_is_one_line_saying_what_to_do(layout, capsys, tmp_path):
    from provider_table import closed_port_url

    inputs, _ = layout
    workflow = inputs.parent / "w.json"
    workflow.write_text('{"1": {"class_type": "LoadImage", "inputs": {"image": "mine.png"}}}')
    server = closed_port_url()
    code = headless.main([str(workflow), "--server", server, "--out", str(tmp_path / "out")])
    said = capsys.readouterr().err.strip()
    assert code == headless.EXIT_UNREACHABLE == 3 and "\n" not in said
    assert said.startswith(f"headless: nothing answers at {server}") and "start ComfyUI" in said

"""Run an API-format workflow on a running ComfyUI and download what it saves.

    python -m nodes.cli.headless example_workflows/api/ionos_generate.json \\
        --server http://127.0.0.1:8188 --set 1.prompt="a red fox" --out out/headless

Uses only ComfyUI's public API: POST /upload/image for LoadImage inputs, POST /prompt, the /ws
websocket for progress, GET /history and GET /view. Needs requests and websocket-client (both in
the pack's requirements.txt).

Exit codes: 0 every node ran and its images were saved; 1 a node failed (its own message is
printed), no result came within --timeout, or a saved file's name was refused; 2 ComfyUI refused
the workflow, or the arguments or the workflow file are wrong; 3 nothing answers at --server;
4 websocket-client is not installed; 130 the run was interrupted (Cancel, or Ctrl-C here).

A workflow is data from anyone: it may name only pictures inside its inputs folder (``inputs/``
beside the workflow or beside its folder, or --inputs) or files given with --upload, never any
other file on this machine; and files are written only into --out, under plain file names.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import requests

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_NO_WEBSOCKET, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


WEBSOCKET_MISSING = (
    "the headless runner needs the websocket-client package (it follows ComfyUI's progress over its "
    "websocket): pip install websocket-client -- with the Python that runs this command"
)


class CannotRun(Exception):
    """What stops the runner before the workflow runs, in one line, and its exit code."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def websocket_client():
    """The websocket-client module, or CannotRun saying how to install it."""
    try:
        import websocket
    except ImportError:
        raise CannotRun(WEBSOCKET_MISSING, EXIT_NO_WEBSOCKET) from None
    return websocket


def unreachable(server: str, exc: BaseException) -> CannotRun:
    reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0][:120]
    return CannotRun(
        f"nothing answers at {server} ({reason}): start ComfyUI (python main.py) or pass --server with "
        "its address, e.g. --server http://127.0.0.1:8188",
        EXIT_UNREACHABLE,
    )


# --- the runner -----------------------------------------------------------------------------------


def parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_overrides(prompt: dict, overrides: list[str]) -> None:
    """--set NODE.INPUT=VALUE; NODE is a node id or a node's title; VALUE is JSON or text."""
    for item in overrides:
        target, sep, value = item.partition("=")
        node_ref, dot, input_name = target.partition(".")
        if not sep or not dot or not input_name:
            raise SystemExit(f'--set {item!r}: use NODE.INPUT=VALUE, e.g. --set 1.prompt="a red fox"')
        matches = [
            nid for nid, node in prompt.items() if nid == node_ref or node.get("_meta", {}).get("title") == node_ref
        ]
        if len(matches) != 1:
            known = ", ".join(f"{nid} ({node['class_type']})" for nid, node in prompt.items())
            raise SystemExit(f"--set {item!r}: no single node {node_ref!r}; nodes: {known}")
        prompt[matches[0]]["inputs"][input_name] = parse_value(value)


def _inside(path: Path, folder: Path) -> bool:
    folder = folder.resolve()
    return path.resolve() == folder or folder in path.resolve().parents


def upload_inputs(server: str, prompt: dict, folder: Path, extra_files: list[Path] = ()) -> None:
    """Upload the pictures LoadImage nodes name: files inside ``folder``, or ``extra_files`` the
    user passed on the command line (matched by file name). Nothing else is ever read."""
    explicit = {path.name: path for path in map(Path, extra_files)}
    for node_id, node in prompt.items():
        if node.get("class_type") != "LoadImage":
            continue
        name = node.get("inputs", {}).get("image")
        if not isinstance(name, str) or not name:
            continue
        path = explicit.get(name)
        subfolder = ""
        if path is None:
            candidate = folder / name
            if Path(name).is_absolute() or not _inside(candidate, folder):
                print(
                    f"not uploaded: LoadImage node {node_id} names {name!r}, which is outside {folder}; "
                    "pass the file with --upload if you mean to send it",
                    file=sys.stderr,
                )
                continue
            if not candidate.is_file():
                continue  # ComfyUI may already have it in its input folder
            path, subfolder = candidate, Path(name).parent.as_posix().strip(".")
        with path.open("rb") as handle:
            reply = requests.post(
                f"{server}/upload/image",
                files={"image": (path.name, handle, "image/png")},
                data={"overwrite": "true", "subfolder": subfolder},
                timeout=60,
            )
        reply.raise_for_status()
        print(f"uploaded {path.name}")


def plain_file_name(name) -> bool:
    """A name that stays inside the folder it is joined to: no separators, no '..', not absolute."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(char in name for char in "/\\\0:")
        and Path(name).name == name
    )


def save_outputs(server: str, history: dict, out: Path) -> tuple[int, int]:
    """Download the output images a run's history lists into ``out``: (saved, refused)."""
    saved = refused = 0
    out.mkdir(parents=True, exist_ok=True)
    for node_id, output in history.get("outputs", {}).items():
        for image in output.get("images", []):
            if image.get("type") != "output":
                continue
            name = image.get("filename")
            if not plain_file_name(name):
                print(
                    f"not saved: node {node_id} output is named {str(name)[:200]!r}, which is not a plain file name",
                    file=sys.stderr,
                )
                refused += 1
                continue
            query = urlencode({k: image.get(k, "") for k in ("filename", "subfolder", "type")})
            data = requests.get(f"{server}/view?{query}", timeout=120)
            data.raise_for_status()
            path = out / name
            path.write_bytes(data.content)
            saved += 1
            print(f"saved {path}")
    return saved, refused


def describe_refusal(body: dict) -> str:
    lines = [str(body.get("error", {}).get("message", body.get("error", "")))]
    for node_id, info in (body.get("node_errors") or {}).items():
        for error in info.get("errors", []):
            lines.append(f"  node {node_id} ({info.get('class_type')}): {error.get('message')}: {error.get('details')}")
    return "\n".join(lines)


def wait_for_history(server: str, prompt_id: str, seconds: float = 30.0) -> dict:
    """ComfyUI announces the end before it files the history entry: poll briefly for it."""
    deadline = time.monotonic() + seconds
    while True:
        entry = requests.get(f"{server}/history/{prompt_id}", timeout=60).json().get(prompt_id)
        if entry and entry.get("status", {}).get("completed", True) or time.monotonic() > deadline:
            return entry or {}
        time.sleep(0.1)


def run(server: str, prompt: dict, out: Path, timeout: float, quiet: bool = False) -> int:
    server = server.rstrip("/")
    client_id = uuid.uuid4().hex
    ws_url = server.replace("http://", "ws://").replace("https://", "wss://") + f"/ws?clientId={client_id}"
    websocket = websocket_client()
    try:
        ws = websocket.create_connection(ws_url, timeout=timeout)
    except (OSError, websocket.WebSocketException) as exc:
        raise unreachable(server, exc) from None
    try:
        reply = requests.post(f"{server}/prompt", json={"prompt": prompt, "client_id": client_id}, timeout=60)
        if reply.status_code != 200:
            try:
                print("ComfyUI refused the workflow:\n" + describe_refusal(reply.json()), file=sys.stderr)
            except ValueError:
                print(f"ComfyUI refused the workflow: HTTP {reply.status_code} {reply.text[:300]}", file=sys.stderr)
            return EXIT_REFUSED
        prompt_id = reply.json()["prompt_id"]
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                print(f"no result within {timeout:.0f}s", file=sys.stderr)
                return EXIT_FAILED
            opcode, payload = ws.recv_data()  # pings are answered inside
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                print("ComfyUI closed the websocket before the run ended", file=sys.stderr)
                return EXIT_FAILED
            if opcode == websocket.ABNF.OPCODE_BINARY:  # previews, and progress text (event type 3)
                if len(payload) > 8 and struct.unpack(">I", payload[:4])[0] == 3:
                    length = struct.unpack(">I", payload[4:8])[0]
                    node_id = payload[8 : 8 + length].decode(errors="replace")
                    if not quiet:
                        print(f"  [{node_id}] {payload[8 + length :].decode(errors='replace')}")
                continue
            message = json.loads(payload)
            kind, data = message.get("type"), message.get("data", {})
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if kind == "executing" and data.get("node") is not None and not quiet:
                node = prompt.get(str(data["node"]), {})
                print(f"running node {data['node']} ({node.get('class_type', '?')})")
            elif kind == "execution_error":
                print(
                    f"node {data.get('node_id')} ({data.get('node_type')}) failed:\n"
                    f"{data.get('exception_message', '').strip()}",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            elif kind == "execution_interrupted":
                print(f"interrupted at node {data.get('node_id')} ({data.get('node_type')})", file=sys.stderr)
                return EXIT_INTERRUPTED
            elif kind == "execution_success" or (kind == "executing" and data.get("node") is None):
                break
    finally:
        ws.close()
    history = wait_for_history(server, prompt_id)
    saved, refused = save_outputs(server, history, out)
    print(f"done: {saved} image(s) in {out}")
    return EXIT_FAILED if refused else EXIT_OK


def default_inputs_folder(workflow: Path) -> Path:
    """inputs/ beside the workflow, else beside its folder (example_workflows/api/ -> example_workflows/inputs)."""
    here = workflow.resolve().parent / "inputs"
    return here if here.is_dir() else workflow.resolve().parent.parent / "inputs"


def main(argv=None) -> int:
    try:
        return run_main(argv)
    except CannotRun as exc:
        print(f"headless: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run_main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workflow", help="an API-format workflow JSON (e.g. example_workflows/api/*.json)")
    parser.add_argument("--server", default="http://127.0.0.1:8188", help="ComfyUI's address")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NODE.INPUT=VALUE",
        help="override an input; NODE is a node id or title, VALUE is JSON or text (repeatable)",
    )
    parser.add_argument("--out", default="out/headless", help="where to put the saved images")
    parser.add_argument(
        "--inputs",
        default=None,
        help="folder of LoadImage pictures to upload (default: inputs/ beside the workflow, else beside its folder)",
    )
    parser.add_argument(
        "--upload",
        action="append",
        default=[],
        metavar="FILE",
        help="also upload this file, for a LoadImage node naming it by its file name (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the whole run")
    parser.add_argument("--quiet", action="store_true", help="print only errors and saved files")
    args = parser.parse_args(argv)
    websocket_client()  # before anything is uploaded
    workflow = Path(args.workflow)
    prompt = json.loads(workflow.read_text())
    if "nodes" in prompt and "links" in prompt:
        raise SystemExit(
            f"{workflow} is a UI-format workflow; use its API-format copy (example_workflows/api/) "
            "or export one with 'Export (API)'"
        )
    apply_overrides(prompt, args.overrides)
    inputs = Path(args.inputs) if args.inputs else default_inputs_folder(workflow)
    server = args.server.rstrip("/")
    try:
        requests.get(f"{server}/system_stats", timeout=10)
    except requests.RequestException as exc:
        raise unreachable(server, exc) from None
    upload_inputs(server, prompt, inputs, [Path(f) for f in args.upload])
    return run(server, prompt, Path(args.out), args.timeout, args.quiet)


if __name__ == "__main__":
    sys.exit(main())

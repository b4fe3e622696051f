"""The ComfyUI glue (interrupts, progress bar, progress text), with stand-ins that behave like
ComfyUI's interrupt flag and progress hook."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from conftest import mod, run_node
from provider_table import ionos_generate

comfy = mod("nodes.core.comfy")
errors = mod("nodes.core.errors")


class FakeModelManagement:
    """comfy.model_management's flag: the hook's check clears it when it raises."""

    def __init__(self):
        self.flag = False

    def processing_interrupted(self):
        return self.flag

    def interrupt_current_processing(self, value=True):
        self.flag = value

    def throw_exception_if_processing_interrupted(self):
        if self.flag:
            self.flag = False
            raise comfy.InterruptProcessingException()


class HookedBar:
    """comfy.utils.ProgressBar whose hook is main.py's: it checks (and clears) the flag."""

    def __init__(self, mm):
        self.mm, self.steps = mm, 0

    def update(self, steps):
        self.mm.throw_exception_if_processing_interrupted()
        self.steps += steps


@pytest.fixture
def fake_comfy(monkeypatch):
    mm = FakeModelManagement()
    monkeypatch.setattr(comfy, "_mm", mm)
    return mm


def test_progress_from_a_worker_never_swallows_an_interrupt(fake_comfy):
    bar = comfy.ProgressBar(4)
    bar._bar = HookedBar(fake_comfy)
    bar.update(1)
    assert bar._bar.steps == 1
    fake_comfy.flag = True  # the user pressed cancel while other calls are still running
    bar.update(1)
    assert fake_comfy.flag is True, "the progress hook cleared the interrupt other calls must see"
    with pytest.raises(comfy.InterruptProcessingException):
        comfy.raise_if_interrupted()
    assert fake_comfy.flag is True  # raising does not clear it either: ComfyUI does at the next prompt


def test_interrupt_arriving_inside_the_hook_is_put_back(fake_comfy, monkeypatch):
    bar = comfy.ProgressBar(4)
    bar._bar = HookedBar(fake_comfy)
    checks = iter([False, True])  # not interrupted when we look, interrupted when the hook looks
    monkeypatch.setattr(comfy, "interrupted", lambda: next(checks))
    fake_comfy.flag = True
    bar.update(1)
    assert fake_comfy.flag is True


def test_outside_a_prompt_the_flag_is_ignored(fake_comfy):
    fake_comfy.flag = True
    with comfy.outside_prompt():
        assert comfy.interrupted() is False
        comfy.raise_if_interrupted()
    assert comfy.interrupted() is True


def test_the_stand_in_interrupt_is_not_an_exception():
    """Like newer ComfyUI's: ``except Exception`` must never turn a Cancel into an error."""
    assert issubclass(comfy.InterruptProcessingException, BaseException)
    assert not issubclass(comfy.InterruptProcessingException, Exception)


class RecordingBar:
    """comfy.utils.ProgressBar's interface; records the thread each update runs on."""

    def __init__(self, total, node_id=None):
        self.threads = []

    def update(self, steps):
        self.threads.append(threading.get_ident())


def test_progress_from_worker_threads_runs_on_the_nodes_event_loop(monkeypatch):
    """comfy.utils.ProgressBar and ComfyUI's progress registry are not thread-safe."""
    monkeypatch.setattr(comfy, "_comfy_utils", SimpleNamespace(ProgressBar=RecordingBar))

    def node_body():  # what a node's ``call`` does in its worker thread
        bar = comfy.ProgressBar(8)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: bar.update(1), range(8)))
        return bar

    async def node():
        comfy.remember_event_loop()
        bar = await asyncio.to_thread(node_body)
        await asyncio.sleep(0.05)  # the queued updates run
        return bar, threading.get_ident()

    bar, loop_thread = asyncio.run(node())
    assert bar._bar.threads == [loop_thread] * 8


def test_without_an_event_loop_progress_updates_are_serialised(monkeypatch):
    inside = []

    class SlowBar(RecordingBar):
        def update(self, steps):
            inside.append(1)
            assert len(inside) == 1, "two updates ran at once"
            time.sleep(0.01)
            inside.pop()
            super().update(steps)

    monkeypatch.setattr(comfy, "_comfy_utils", SimpleNamespace(ProgressBar=SlowBar))
    bar = comfy.ProgressBar(8)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: bar.update(1), range(8)))
    assert len(bar._bar.threads) == 8


# --- the node's last progress line -------------------------------------------------------------

ionos_nodes = mod("nodes.ionos")


def generate(**overrides):
    return ionos_generate(**{"n": 2, "unique_id": "7", **overrides})


IMAGES = "/v1/images/generations"


def test_success_ends_with_done_and_the_image_count(ionos, progress):
    ionos.inject(delay=1.2, path=IMAGES)  # long enough for "waiting for the provider" lines
    generate()
    assert any("waiting for the provider" in text for _, text in progress)
    node, last = progress[-1]
    # the last line repeats what the model input's auto became
    assert node == "7" and re.fullmatch(
        r"IONOS · done · 2 images · \d+s · auto -> black-forest-labs/FLUX.1-schnell", last
    )


def test_a_recovered_retry_ends_with_done(ionos, progress):
    ionos.inject(status=503, message="busy", times=1, path=IMAGES)
    generate()
    assert any("HTTP 503, retrying" in text for _, text in progress)
    assert progress[-1][1].startswith("IONOS · done · 2 images")


def test_failure_ends_with_failed_and_the_reason(ionos, progress):
    ionos.inject(status=500, message="maintenance window", path=IMAGES)
    with pytest.raises(errors.RemoteImageError):
        generate()
    last = progress[-1][1]
    assert last.startswith("IONOS · failed · ") and "maintenance window" in last and "\n" not in last


def test_refused_input_ends_with_failed(ionos, progress):
    with pytest.raises(errors.InputError):
        generate(prompt="")
    assert progress[-1][1].startswith("IONOS · failed · 0s: ")


def test_cancel_ends_with_cancelled(ionos, progress):
    ionos.inject(delay=5)
    threading.Timer(0.3, comfy.request_interrupt).start()
    with pytest.raises(comfy.InterruptProcessingException):
        generate()
    assert re.fullmatch(r"IONOS · cancelled · \d+s", progress[-1][1])


def test_list_models_ends_with_the_model_count(ionos, progress):
    (text,) = run_node(ionos_nodes.IonosListModels, filter="flux", unique_id="3")
    assert progress[-1] == ("3", f"IONOS · done · {len(text.splitlines())} models · 0s")

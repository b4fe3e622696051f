"""The ComfyUI glue, with stand-ins that behave like ComfyUI's interrupt flag and progress hook."""

from __future__ import annotations

import pytest

from conftest import mod

comfy = mod("nodes.core.comfy")


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

"""Message and step timestamps without Chainlit's blocking sleep (assistant/web/ordering.py)."""

from __future__ import annotations

import importlib
import inspect

from assistant.web import ordering


def test_stamps_strictly_increase_and_sort_as_text():
    stamps = [ordering.increasing_utc_now() for _ in range(20_000)]  # many within one microsecond
    assert len(set(stamps)) == len(stamps)
    assert sorted(stamps) == stamps
    assert all(len(s) == len("2026-12-07T13:00:00.000001Z") and s.endswith("Z") for s in stamps)


def test_installed_chainlit_builds_messages_and_steps_without_sleeping(monkeypatch):
    message, step = (importlib.import_module(name) for name in ordering.MODULES)
    # What the patch is for: if a Chainlit upgrade drops the sleep, this says the patch can go.
    for cls in (message.Message, step.Step):
        assert "time.sleep(0.001)" in inspect.getsource(cls.__init__)
    slept = []
    monkeypatch.setattr("time.sleep", slept.append)  # the real module's sleep: must not be reached
    ordering.install()
    for module in (message, step):
        assert module.utc_now is ordering.increasing_utc_now
        module.time.sleep(0.001)
        assert module.time.monotonic() > 0  # the rest of the time module is untouched
    assert slept == []

"""Message and step timestamps that keep the chat's order without stalling the server.

Chainlit 2.12 calls `time.sleep(0.001)` at the start of every `Message` and `Step` constructor, so that
two made one after the other get different `created_at` stamps (a thread's history is ordered by
them). That sleep blocks the event loop, i.e. every chat on the server: a turn makes five to ten
messages and steps, and under load (benchmarks/load_chat.py, 50 chats) the sleeps were ~13% of the
event loop's profile samples, during which nothing else ran.

`install()` takes the sleep out of those two modules and gives them a clock that never repeats or goes
back within the process instead: each stamp is at least one microsecond after the previous one, and
always written with microseconds (Chainlit's own drops them when they are zero, which sorts that stamp
after the ones of the same second).
"""

from __future__ import annotations

import importlib
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

# By module path: the package's own `chainlit.step` attribute is the `@step` decorator, not the module.
MODULES = ("chainlit.message", "chainlit.step")

_lock = threading.Lock()
_last = datetime.min


def increasing_utc_now() -> str:
    """Chainlit's `utc_now` format ("2026-12-07T13:00:00.000001Z"), strictly increasing per process."""
    global _last
    with _lock:
        now = datetime.now(UTC).replace(tzinfo=None)
        if now <= _last:
            now = _last + timedelta(microseconds=1)
        _last = now
    return now.isoformat(timespec="microseconds") + "Z"


class _TimeWithoutSleep:
    """The `time` module as those two Chainlit modules see it: everything but a blocking `sleep`."""

    @staticmethod
    def sleep(_seconds: float) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        module.time = _TimeWithoutSleep()  # type: ignore[assignment]
        module.utc_now = increasing_utc_now  # type: ignore[attr-defined]

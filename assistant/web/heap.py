"""Give the memory freed by a busy server back to the operating system (`HEAP_TRIM_INTERVAL`).

glibc's `malloc` keeps freed memory for reuse instead of returning it, unless the free space sits
at the very top of a heap. A server that files documents, renders charts and answers many chats
frees memory all over its heaps, so its resident size climbs under load although it holds no more
objects: measured under `benchmarks/load_chat.py` (50 chats, Chroma server), the resident size grew
8.3 MiB in a minute while `malloc`'s in-use bytes (`mallinfo2`) grew 0.7 MiB and Python's allocated
blocks by ~1,500. After 5 minutes one `malloc_trim(0)` gave back 82 MiB (490 -> 409 MiB): the free
space inside the heaps. With this trim every 10 s the same run grew 1.4 MiB a minute after warm-up.

`malloc_trim(0)` releases the free pages anywhere in every heap (glibc >= 2.8). `trim_periodically`
calls it every `interval` seconds in a worker thread (it takes each heap's lock in turn, so other
threads' allocations wait on it briefly; the event loop keeps running). On a C library without it
(musl, macOS) nothing is done. 0 turns it off.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections.abc import Callable

import psutil

log = logging.getLogger(__name__)


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the symbols already loaded into this process: its C library
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def trim_once(trim: Callable[[int], int]) -> dict[str, float]:
    """One trim; the resident size before and after (MB) and how long it took (ms)."""
    me = psutil.Process()
    before = me.memory_info().rss
    started = time.perf_counter()
    trim(0)
    took = time.perf_counter() - started
    after = me.memory_info().rss
    return {"rss_before_mb": round(before / 2**20, 1), "rss_after_mb": round(after / 2**20, 1),
            "released_mb": round((before - after) / 2**20, 1), "took_ms": round(took * 1000, 1)}


async def trim_periodically(interval: float) -> None:
    """Trim every `interval` seconds until cancelled (logged at debug level)."""
    trim = malloc_trim()
    if interval <= 0 or trim is None:
        log.info("heap trim off", extra={"interval_s": interval, "available": trim is not None})
        return
    while True:
        await asyncio.sleep(interval)
        try:
            figures = await asyncio.to_thread(trim_once, trim)
        except Exception:  # a failed trim costs memory, never a chat
            log.exception("heap trim failed")
            continue
        log.debug("heap trimmed", extra=figures)

"""Giving freed memory back to the OS (assistant/web/heap.py): the real glibc `malloc_trim` on this
process's heap, the periodic task, and HEAP_TRIM_INTERVAL=0."""

from __future__ import annotations

import asyncio
import logging

import pytest

from assistant.web import heap


def test_a_trim_returns_the_free_space_inside_the_heap():
    trim = heap.malloc_trim()
    assert trim is not None, "glibc's malloc_trim should be found on this Linux"
    # 4 KB blocks come from the heap (below the mmap threshold); keeping one in 64 leaves the rest as
    # holes inside it, which glibc keeps for reuse unless trimmed.
    heap.trim_once(trim)  # whatever was free before
    blocks = [bytearray(4096) for _ in range(40_000)]
    kept = blocks[::64]
    del blocks
    figures = heap.trim_once(trim)
    assert figures["released_mb"] > 50, figures  # ~156 MB allocated, ~154 MB of it freed in holes
    assert figures["rss_after_mb"] < figures["rss_before_mb"]
    del kept


async def test_the_periodic_trim_runs_until_cancelled(caplog):
    caplog.set_level(logging.DEBUG, logger="assistant.web.heap")
    task = asyncio.create_task(heap.trim_periodically(0.05))
    for _ in range(100):
        if sum(r.message == "heap trimmed" for r in caplog.records) >= 2:
            break
        await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    trims = [r for r in caplog.records if r.message == "heap trimmed"]
    assert len(trims) >= 2
    assert {"rss_before_mb", "rss_after_mb", "released_mb", "took_ms"} <= set(vars(trims[0]))


async def test_interval_zero_turns_it_off(caplog):
    caplog.set_level(logging.INFO, logger="assistant.web.heap")
    await asyncio.wait_for(heap.trim_periodically(0), timeout=1)  # returns at once
    assert [r.message for r in caplog.records] == ["heap trim off"]

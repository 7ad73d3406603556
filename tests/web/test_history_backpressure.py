"""Under load, chat history is late rather than lost (`assistant/web/history.py`, `execute_sql`).

The load benchmark (benchmarks/load_chat.py, 50 chats, no pause) showed Chainlit's background writes
taking every pooled connection, waiting past the pool's timeout and being dropped with only a log
line. Here the busy pool and the backlog are made deterministic, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid

from assistant.db import create_engine
from assistant.web.history import HistoryDataLayer
from assistant.web.storage import LocalStorage
from tests.web.conftest import query

INSERT_THREAD = 'INSERT INTO threads ("id") VALUES (:id)'


async def saved_threads(database_url: str, ids: list[str]) -> set[str]:
    rows = await query(database_url, "SELECT id FROM threads")
    return {r["id"] for r in rows} & set(ids)


async def test_a_write_waits_out_a_busy_pool_instead_of_being_dropped(database_url, tmp_path):
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    layer = HistoryDataLayer(engine, LocalStorage(tmp_path / "attachments"))
    thread_id = str(uuid.uuid4())
    try:
        async with engine.connect():  # the pool's only connection, busy for several of its timeouts
            write = asyncio.create_task(layer.execute_sql(INSERT_THREAD, {"id": thread_id}))
            await asyncio.sleep(1)
            assert not write.done(), "the write gave up while the pool was busy"
        assert await asyncio.wait_for(write, 30) == 1
        assert await saved_threads(database_url, [thread_id]) == {thread_id}
    finally:
        await engine.dispose()


class Stalled(HistoryDataLayer):
    """Statements wait at a gate, as they do behind a slow or saturated database."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()

    async def _execute(self, query: str, parameters: dict):
        await self.gate.wait()
        return await super()._execute(query, parameters)


async def test_a_turn_waits_while_history_is_behind_and_every_write_lands(database_url, tmp_path):
    engine = create_engine(database_url)
    layer = Stalled(engine, LocalStorage(tmp_path / "attachments"), writers=1, backlog=2)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    try:
        await asyncio.wait_for(layer.caught_up(), 10)  # nothing queued: a turn goes ahead at once
        writes = [asyncio.create_task(layer.execute_sql(INSERT_THREAD, {"id": i})) for i in ids]
        await asyncio.sleep(0)  # the writes queue
        turn = asyncio.create_task(layer.caught_up())
        await asyncio.sleep(0.3)
        assert not turn.done(), "a turn started with 5 statements queued and a backlog limit of 2"

        layer.gate.set()
        await asyncio.wait_for(turn, 30)
        assert await asyncio.wait_for(asyncio.gather(*writes), 30) == [1] * 5
        assert await saved_threads(database_url, ids) == set(ids)
    finally:
        await engine.dispose()

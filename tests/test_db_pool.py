"""The PostgreSQL pool checks a connection that sat idle before lending it (`db._ping_when_idle`), not
every connection every time: on the real server, with connections killed the way a restart kills them."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from assistant import db
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database


@pytest.fixture
async def engine():
    url = await create_pg_database()
    engine = db.create_engine(url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()
        await drop_pg_database(url)


async def backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT pg_backend_pid()"))


async def kill(pid: int) -> None:
    """What a database restart does to each connection: the server ends it."""
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def test_a_connection_idle_through_a_restart_is_replaced_before_it_is_lent(engine, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_S", 0.3)
    first = await backend_pid(engine)
    await kill(first)
    await asyncio.sleep(0.4)
    second = await backend_pid(engine)  # no error: the dead connection was found and replaced
    assert second != first


async def test_a_connection_lent_again_at_once_is_not_checked_and_a_dead_one_fails_once(engine, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_S", 60)
    first = await backend_pid(engine)
    assert await backend_pid(engine) == first  # lent again within the window: the same connection
    await kill(first)
    # Not checked, so the restart shows once (a turn would say the database was unreachable) ...
    with pytest.raises(DBAPIError) as failed:
        await backend_pid(engine)
    assert failed.value.connection_invalidated and db.unreachable(failed.value)
    # ... and the pool has dropped it: the next use gets a new connection.
    assert await backend_pid(engine) != first

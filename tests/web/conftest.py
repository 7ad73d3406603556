"""Helpers for the web tests: reading the server's database directly, waiting for background writes,
and one server per module for tests that can share it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import LiveServer, served

T = TypeVar("T")

USERS = {"alice": "wonderland", "bob": "builder"}  # what `start_server` seeds by default


async def query(database_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of `sql` on the server's database, read on a connection of our own."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


async def count(database_url: str, table: str) -> int:
    return (await query(database_url, f"SELECT count(*) AS n FROM {table}"))[0]["n"]


async def user_id(database_url: str, identifier: str) -> str:
    rows = await query(database_url, "SELECT id FROM users WHERE identifier = :i", i=identifier)
    assert len(rows) == 1, f"no single user {identifier!r}: {rows}"
    return rows[0]["id"]


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15, what: str = "") -> T:
    """Retry `check` until it stops raising AssertionError: Chainlit writes history in background
    tasks, after the turn's last event has been sent. Re-raises the last failure at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                if what:
                    print(f"gave up waiting for {what}")
                raise
        await asyncio.sleep(0.2)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """Like `live_server` (the real app, on SQLite and on PostgreSQL), shared by a module's tests."""
    with served(request.param, tmp_path_factory.mktemp(f"server-{request.param}")) as server:
        yield server


@pytest.fixture
async def fake_openai():
    """A fake OpenAI server on a free local port (tests/fakes), for a live app to talk to."""
    from tests.fakes.openai_server import FakeOpenAI

    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()

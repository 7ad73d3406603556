"""Our data layer against the two races Chainlit's background writes create, made deterministic.

Chainlit saves history from fire-and-forget tasks (`asyncio.create_task(data_layer.…)`), so writes
of one turn overlap. The live test (`test_history.py`) hits these races only now and then; here
the slow write is forced, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from chainlit.context import init_ws_context
from chainlit.element import File
from chainlit.session import WebsocketSession
from chainlit.user import PersistedUser

from assistant.db import create_engine, session_factory
from assistant.graph.users import ensure_user
from assistant.web.history import HistoryDataLayer
from assistant.web.storage import LocalStorage
from tests.web.conftest import query


class SlowFirstStepWrite(HistoryDataLayer):
    """The write of a step as first sent (empty output) stalls, as on a busy pool or a locked SQLite."""

    stalled = False

    async def execute_sql(self, query: str, parameters: dict):
        if "INSERT INTO steps" in query and parameters.get("output") == "" and not self.stalled:
            self.stalled = True
            await asyncio.sleep(0.5)
        return await super().execute_sql(query, parameters)


@pytest.fixture
async def alice(database_url) -> PersistedUser:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            user = await ensure_user(session, "alice")
            return PersistedUser(id=user.id, identifier="alice", createdAt=user.created_at, metadata={})
    finally:
        await engine.dispose()


@pytest.fixture
async def chat_session(alice) -> AsyncIterator[WebsocketSession]:
    """A signed-in socket session in the Chainlit context, past its first message (no queueing)."""
    session = WebsocketSession(id=str(uuid.uuid4()), socket_id=str(uuid.uuid4()), emit=lambda *a: None,
                               emit_call=lambda *a: None, user_env={}, client_type="webapp", user=alice)
    session.has_first_interaction = True
    init_ws_context(session)
    try:
        yield session
    finally:
        await session.delete()


async def make_layer(cls, database_url: str, tmp_path: Path) -> HistoryDataLayer:
    return cls(create_engine(database_url), LocalStorage(tmp_path / "attachments"))


def step(thread_id: str, step_id: str, output: str) -> dict:
    """A tool step as `Step.to_dict()` gives it: first sent with an empty output, then updated."""
    return {"id": step_id, "threadId": thread_id, "parentId": None, "name": "Filing the bill", "type": "tool",
            "streaming": False, "isError": False, "metadata": {}, "tags": None,
            "input": '{"attachment_id": "file-1"}', "output": output, "showInput": "json", "language": "json",
            "createdAt": "2026-11-21T10:00:00.000000Z", "start": None, "end": None}


async def test_a_step_update_is_not_overwritten_by_its_slower_creation(database_url, tmp_path, chat_session):
    layer = await make_layer(SlowFirstStepWrite, database_url, tmp_path)
    try:
        thread_id, step_id = chat_session.thread_id, str(uuid.uuid4())
        result = json.dumps({"filed": True})
        # exactly what `Step.send()` then `Step.update()` do
        sent = asyncio.create_task(layer.create_step(step(thread_id, step_id, "")))
        updated = asyncio.create_task(layer.update_step(step(thread_id, step_id, result)))
        await asyncio.gather(sent, updated)
        assert layer.stalled
        rows = await query(database_url, 'SELECT output FROM steps WHERE id = :id', id=step_id)
        assert rows == [{"output": result}]
        assert layer._step_locks == {}  # nothing left behind per step
    finally:
        await layer.engine.dispose()


async def test_an_attachment_saved_before_its_thread_belongs_to_its_owner(database_url, tmp_path, chat_session,
                                                                         alice):
    layer = await make_layer(HistoryDataLayer, database_url, tmp_path)
    try:
        upload = tmp_path / "bill.txt"
        upload.write_bytes(b"Pacific Power\nAmount due: $120.50\n")
        # the element task runs before any task has written the thread row
        element = File(name="bill.txt", path=str(upload), mime="text/plain", thread_id=chat_session.thread_id,
                       for_id=str(uuid.uuid4()))
        await layer.create_element(element)

        rows = await query(database_url, 'SELECT * FROM elements WHERE id = :id', id=element.id)
        assert len(rows) == 1, "the element row was not saved (its thread row did not exist yet)"
        row = rows[0]
        assert row["objectKey"] == f"{alice.id}/{element.id}/bill.txt"
        assert row["threadId"] == chat_session.thread_id
        assert (tmp_path / "attachments" / alice.id / element.id / "bill.txt").read_bytes() == upload.read_bytes()
        [thread] = await query(database_url, 'SELECT * FROM threads WHERE id = :id', id=chat_session.thread_id)
        assert thread["userId"] == alice.id and thread["userIdentifier"] == "alice"
        # and the thread, as read back, lists it for the history sidebar
        [listed] = await layer.get_all_user_threads(user_id=alice.id)
        assert [e["objectKey"] for e in listed["elements"]] == [row["objectKey"]]
    finally:
        await layer.engine.dispose()

"""Chainlit's chat history in our database, through our engine.

We reuse Chainlit's `SQLAlchemyDataLayer` SQL (it knows the shape the UI expects) but:
- it runs on our engine and pool instead of opening its own;
- parameters are adapted to the database (dicts to JSON; lists to JSON on SQLite);
- a failed write is retried on connection errors and logged as an error, not a silent warning;
- JSON columns read back as text on SQLite are decoded, so resumed threads get dicts;
- writes to one step run in the order Chainlit issued them (see `create_step`);
- an attachment's thread row exists, with its owner, before the attachment is saved (see
  `create_element`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from chainlit.context import context
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.user import PersistedUser
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from assistant.web.storage import LocalStorage

log = logging.getLogger(__name__)


class HistoryDataLayer(SQLAlchemyDataLayer):
    def __init__(self, engine: AsyncEngine, storage: LocalStorage, user_thread_limit: int = 200):
        # Deliberately not calling super().__init__: it would build a second engine and pool.
        self._conninfo = engine.url.render_as_string(hide_password=True)
        self.user_thread_limit = user_thread_limit
        self.show_logger = False
        self.engine = engine
        self.async_session = async_sessionmaker(engine, expire_on_commit=False)
        self.storage_provider = storage
        self._sqlite = engine.dialect.name == "sqlite"
        self._step_locks: dict[str, list] = {}  # step id -> [lock, users]

    def _adapt(self, value: Any) -> Any:
        if isinstance(value, dict) or (isinstance(value, list) and self._sqlite):
            return json.dumps(value)
        return value

    async def execute_sql(self, query: str, parameters: dict) -> list[dict[str, Any]] | int | None:
        params = {k: self._adapt(v) for k, v in parameters.items()}
        for attempt in range(3):
            try:
                async with self.async_session() as session, session.begin():
                    result = await session.execute(text(query), params)
                    if result.returns_rows:
                        return self.clean_result([dict(row._mapping) for row in result.fetchall()])
                    return result.rowcount
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt < 2:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                log.error("chat history query failed", extra={"error": type(exc.orig).__name__,
                                                               "statement": query.split("(")[0].strip()[:60]})
                return None
            except SQLAlchemyError as exc:
                log.error("chat history query failed", extra={"error": type(exc).__name__})
                return None
        return None

    @asynccontextmanager
    async def _in_order(self, step_id: str) -> AsyncIterator[None]:
        entry = self._step_locks.setdefault(step_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:  # an uncontended acquire does not yield: FIFO from the first call
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._step_locks[step_id]

    @queue_until_user_message()
    async def create_step(self, step_dict: dict) -> None:
        # Chainlit saves a step from fire-and-forget tasks: `Step.send()` (input, empty output) then
        # `Step.update()` (with the output) start two upserts of the same row that race; when the
        # first one lands last, the tool's output is lost from history. Run them in call order.
        # (`update_step` goes through here too.)
        async with self._in_order(str(step_dict.get("id"))):
            await super().create_step(step_dict)

    @queue_until_user_message()
    async def create_element(self, element) -> None:
        # Chainlit names the stored object `<thread owner id>/...`, reading the owner from the thread
        # row, and inserts the element row with a foreign key to the thread. Both race with the tasks
        # that write the thread (its first step, `init_thread`): the file was stored as `unknown/...`
        # (which the attachment route then refuses its owner) or the row failed its foreign key.
        # Write the thread with its owner first; the session's user is the owner of its thread.
        user = getattr(context.session, "user", None) if element.thread_id else None
        if isinstance(user, PersistedUser) and element.for_id:
            await self.update_thread(element.thread_id, user_id=user.id)
        await super().create_element(element)

    async def get_all_user_threads(self, user_id: str | None = None, thread_id: str | None = None):
        threads = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
        for thread in threads or []:
            thread["metadata"] = _decoded(thread.get("metadata"), {})
            thread["tags"] = _decoded(thread.get("tags"), None)
            for step in thread["steps"]:
                step["metadata"] = _decoded(step.get("metadata"), {})
                step["generation"] = _decoded(step.get("generation"), None)
            for element in thread["elements"]:
                element["props"] = _decoded(element.get("props"), {})
        return threads


def _decoded(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return default
    return value if value is not None else default

"""Chainlit's chat history in our database, through our engine.

We reuse Chainlit's `SQLAlchemyDataLayer` SQL (it knows the shape the UI expects) but:
- it runs on our engine and pool instead of opening its own;
- parameters are adapted to the database (dicts to JSON; lists to JSON on SQLite);
- a failed write is retried on connection errors and logged as an error, not a silent warning;
- JSON columns read back as text on SQLite are decoded, so resumed threads get dicts;
- writes to one step run in the order Chainlit issued them (see `create_step`);
- an attachment's thread row exists, with its owner, before the attachment is saved (see
  `create_element`);
- a write that names a step, element or thread of another user's chat is refused (see `_refused`);
- under load, writes wait their turn instead of being dropped, and new turns wait for history to
  catch up (see `execute_sql`, `caught_up`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from chainlit.context import ChainlitContextException, context
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.user import PersistedUser
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from assistant.web.storage import LocalStorage

log = logging.getLogger(__name__)

# The owner (user identifier) of the thread a row is in, and that thread, by the row's id.
_OWNER_OF = {
    "thread_id": 'SELECT "userIdentifier" AS owner, "id" AS thread FROM threads WHERE "id" = :thread_id',
    "step_id": 'SELECT t."userIdentifier" AS owner, t."id" AS thread FROM steps s JOIN threads t '
               'ON t."id" = s."threadId" WHERE s."id" = :step_id',
    "element_id": 'SELECT t."userIdentifier" AS owner, t."id" AS thread FROM elements e JOIN threads t '
                  'ON t."id" = e."threadId" WHERE e."id" = :element_id',
    "feedback_id": 'SELECT t."userIdentifier" AS owner, t."id" AS thread FROM feedbacks f JOIN threads t '
                   'ON t."id" = f."threadId" WHERE f."id" = :feedback_id',
}
_OWNERS_KEPT = 50_000  # threads whose owner this process remembers (then it starts over)


class HistoryDataLayer(SQLAlchemyDataLayer):
    def __init__(self, engine: AsyncEngine, storage: LocalStorage, user_thread_limit: int = 200,
                 writers: int = 5, backlog: int = 50):
        # Deliberately not calling super().__init__: it would build a second engine and pool.
        self._conninfo = engine.url.render_as_string(hide_password=True)
        self.user_thread_limit = user_thread_limit
        self.show_logger = False
        self.engine = engine
        self.async_session = async_sessionmaker(engine, expire_on_commit=False)
        self.storage_provider = storage
        self._sqlite = engine.dialect.name == "sqlite"
        self._step_locks: dict[str, list] = {}  # step id -> [lock, users]
        # A thread's owner, once written, never changes (a write naming another user's thread is refused),
        # so each process remembers the owners it has seen: the ownership check and the "does the thread
        # exist" lookup before each step cost a query once per thread, not once per step.
        self._owners: dict[str, str] = {}  # thread id -> owner identifier
        # Chainlit starts history writes as fire-and-forget tasks, ~15 statements a turn. Under load
        # (50 chats, no pause: benchmarks/load_chat.py) they came faster than they landed: they took
        # every pooled connection, waited past the pool's timeout and were dropped, and the turns' own
        # queries starved. So at most `writers` statements run at once (the rest of the pool stays the
        # turns'), a pool timeout is waited out, and a turn waits to start while more than `backlog`
        # statements are queued (`caught_up`): the chat slows down instead of losing history.
        self._writers = asyncio.Semaphore(writers)
        self.backlog = backlog
        self._queued = 0  # statements waiting for a writer or running
        self._eased = asyncio.Event()

    def _adapt(self, value: Any) -> Any:
        if isinstance(value, dict) or (isinstance(value, list) and self._sqlite):
            return json.dumps(value)
        return value

    async def execute_sql(self, query: str, parameters: dict) -> list[dict[str, Any]] | int | None:
        self._queued += 1
        try:
            async with self._writers:
                return await self._execute(query, parameters)
        finally:
            self._queued -= 1
            self._eased.set()

    async def caught_up(self, timeout: float = 60) -> None:
        """Return once no more than `backlog` history statements are queued (at once when so). The app
        calls it before each turn: a server behind on its history pushes back on the chat (the answer
        comes later) rather than letting writes pile up until they are dropped. After `timeout` s the
        turn goes ahead anyway (a write is never dropped for waiting: see `_execute`)."""
        if self._queued <= self.backlog:
            # (Not a `wait_for` that returns at once: its cancelled 60 s timer stayed in the event loop
            # until due, holding the turn's context: a minute of turns' contexts kept alive under load.)
            return

        async def eased() -> None:
            while self._queued > self.backlog:
                self._eased.clear()
                await self._eased.wait()

        try:
            await asyncio.wait_for(eased(), timeout)
        except TimeoutError:
            log.warning("chat history still behind; the turn goes ahead", extra={"queued": self._queued})

    async def _execute(self, query: str, parameters: dict) -> list[dict[str, Any]] | int | None:
        params = {k: self._adapt(v) for k, v in parameters.items()}
        attempt = 0
        while True:
            try:
                async with self.async_session() as session, session.begin():
                    result = await session.execute(text(query), params)
                    if result.returns_rows:
                        return self.clean_result([dict(row._mapping) for row in result.fetchall()])
                    return result.rowcount
            except PoolTimeout:  # every connection busy for the pool's whole timeout: late, not failed
                log.warning("chat history write waiting for a database connection")
                continue
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt < 2:
                    attempt += 1
                    await asyncio.sleep(0.2 * attempt)
                    continue
                log.error("chat history query failed", extra={"error": type(exc.orig).__name__,
                                                               "statement": query.split("(")[0].strip()[:60]})
                return None
            except (SQLAlchemyError, ConnectionError) as exc:
                # ConnectionError: a new connection to a stopped server is refused unwrapped by SQLAlchemy
                log.error("chat history query failed", extra={"error": type(exc).__name__})
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

    async def belongs_to_other(self, user: str, *, thread_id: str | None = None, step_id: str | None = None,
                               element_id: str | None = None, feedback_id: str | None = None) -> bool:
        """Whether any of the named rows exists in a thread of a user other than `user` (by identifier).
        A row that does not exist yet is nobody's; a thread whose owner is not written yet (its first
        step can land before `init_thread`) is nobody's too. A failed lookup counts as someone else's."""
        named = {name: str(value) for name, value in (("thread_id", thread_id), ("step_id", step_id),
                                                       ("element_id", element_id), ("feedback_id", feedback_id))
                 if value}
        if not named:
            return False
        known = self._owners.get(named.get("thread_id", ""))
        if known is not None:
            if known != user:
                return True
            del named["thread_id"]
            if not named:
                return False
        rows = await self.execute_sql(" UNION ALL ".join(_OWNER_OF[name] for name in named), named)
        if not isinstance(rows, list):
            return True
        for row in rows:
            if row["owner"] is not None:
                self._remember(row["thread"], row["owner"])
        return any(row["owner"] is not None and row["owner"] != user for row in rows)

    def _remember(self, thread_id: str, owner: str) -> None:
        if len(self._owners) >= _OWNERS_KEPT:
            self._owners.clear()
        self._owners[thread_id] = owner

    async def _refused(self, what: str, **ids: str | None) -> bool:
        """A write made for a signed-in chat session that names another user's row: refused, not made.

        Chainlit takes these ids from the client: a message's id (`client_message`, `edit_message`),
        an element's id, thread and message (`PUT`/`DELETE /project/element`). Its SQL upserts by id, so
        without this check a user could overwrite, move or delete another user's messages and
        attachments, or take over their thread (an element write sets the thread's owner)."""
        try:
            user = context.session.user
        except ChainlitContextException:
            return False  # not on behalf of a client: the app's own call
        if user is None or not await self.belongs_to_other(user.identifier, **ids):
            return False
        log.warning("refused a chat history write naming another user's chat", extra={"write": what})
        return True

    @queue_until_user_message()
    async def create_step(self, step_dict: dict) -> None:
        # Chainlit saves a step from fire-and-forget tasks: `Step.send()` (input, empty output) then
        # `Step.update()` (with the output) start two upserts of the same row that race; when the
        # first one lands last, the tool's output is lost from history. Run them in call order.
        # (`update_step` goes through here too.)
        async with self._in_order(str(step_dict.get("id"))):
            # Only a user's own message has an id the client chose (`client_message`, `edit_message`);
            # the app's steps get fresh ids, so for them the thread is the only thing to check.
            chosen = step_dict.get("id") if step_dict.get("type") == "user_message" else None
            if await self._refused("step", step_id=chosen, thread_id=step_dict.get("threadId")):
                return
            await super().create_step(step_dict)

    @queue_until_user_message()
    async def delete_step(self, step_id: str) -> None:
        if not await self._refused("step deletion", step_id=step_id):
            await super().delete_step(step_id)

    @queue_until_user_message()
    async def create_element(self, element) -> None:
        # Chainlit names the stored object `<thread owner id>/...`, reading the owner from the thread
        # row, and inserts the element row with a foreign key to the thread. Both race with the tasks
        # that write the thread (its first step, `init_thread`): the file was stored as `unknown/...`
        # (which the attachment route then refuses its owner) or the row failed its foreign key.
        # Write the thread with its owner first; the session's user is the owner of its thread.
        if await self._refused("element", element_id=element.id, thread_id=element.thread_id,
                               step_id=element.for_id):
            return
        user = getattr(context.session, "user", None) if element.thread_id else None
        if isinstance(user, PersistedUser) and element.for_id:
            await self.update_thread(element.thread_id, user_id=user.id)
        await super().create_element(element)

    @queue_until_user_message()
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        if not await self._refused("element deletion", element_id=element_id, thread_id=thread_id):
            await super().delete_element(element_id, thread_id)

    async def update_thread(self, thread_id: str, name: str | None = None, user_id: str | None = None,
                            metadata: dict | None = None, tags: list[str] | None = None) -> None:
        # Chainlit writes a thread with its owner once, at the chat's first message (`init_thread`);
        # after that each step upserts it bare (`create_step`). When that one write failed (the
        # database was down at the first message), a later step created the thread without an owner
        # and the chat was missing from its owner's history for good. A bare call that finds no thread
        # creates it as the session user's. (No query once this process has seen the thread's owner.)
        if user_id is None and name is None and metadata is None and tags is None:
            try:
                user = context.session.user
            except ChainlitContextException:
                user = None
            if isinstance(user, PersistedUser):
                if thread_id in self._owners:  # seen with its owner: it exists
                    return
                found = await self.execute_sql('SELECT 1 AS found FROM threads WHERE "id" = :id', {"id": thread_id})
                if found:
                    return
                if found == []:
                    user_id = user.id
        await super().update_thread(thread_id, name=name, user_id=user_id, metadata=metadata, tags=tags)

    async def delete_thread(self, thread_id: str) -> None:
        # (Chainlit's route checks the owner first.) Forgotten here, so a later step recreates the thread.
        self._owners.pop(thread_id, None)
        await super().delete_thread(thread_id)

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

"""Faults: PostgreSQL stopped in the middle of a turn, and the search index (Chroma) stopped.

PostgreSQL stopped mid-turn is a PostgreSQL-only test by nature: SQLite has no server that can go away
while the app runs. It runs on a private cluster (`tests/private_pg.py`), stopped and started again on
the same port and data directory, never on the shared server on :5432 that other tests use. The app is
the real one (`start_server`), not restarted at any point.

Two ways to be sure the turn is mid-flight when the database goes, without timing:
- a model turn: the fake OpenAI holds its answer (a call to `add_bill` on a pasted bill) until the
  test has stopped PostgreSQL, then lets it go: the tool's queries meet a dead server;
- an offline turn: the test holds a SHARE lock on `commitments`, so `add_bill`'s transaction stops at
  its INSERT INTO commitments with the vendor and the document already written (uncommitted); the test
  sees it waiting (`pg_locks`), then stops PostgreSQL under it. A second chat, opened before, sends its
  first message while the database is away.
Each test stops PostgreSQL twice, on the same app: a crash-like stop (`immediate`: backends killed,
crash recovery on the next start), then an orderly one (`fast`: open sessions ended with an error).

What a user must see: a clear message in the chat and the end of the turn; while the database is away
`/health/ready` says 503 and names it; once it is back, with no restart: ready again, nothing of the
failed turn in the database (no vendor, document or commitment without the others, no budget
reservation left "reserved"), and the next turn, in the same chat and in a new one, files the bill,
answers, and is kept in the chat history.

The search index down (SQLite and PostgreSQL): search says so, a bill is still filed, and it is indexed
and found once Chroma is back, again with no restart. (Below the app, `tests/test_agent_offline.py` checks
the same through the agent alone.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from assistant.db import create_engine, unreachable

from tests.conftest import LiveServer, chroma_running, create_pg_database, drop_pg_database, free_port, start_server
from tests.factories import bill_text
from tests.fakes import Reply
from tests.fakes.openai_server import FakeOpenAI
from tests.private_pg import PrivateCluster
from tests.web.chat_client import ChatClient, Turn
from tests.web.conftest import USERS, eventually, files_under, query, user_id

DOWN = "The database is not reachable right now, so I stopped here. Nothing was saved. Please try again in a moment."
KEY = "sk-outage-test-KEY-123456789"
DUE = date(2026, 12, 15)
WARM_UP = bill_text("Pacific Power", "120.50", DUE, invoice="PP-1")
# Each stop mode, in turn, on the same app: (the bill of the failed turn, sent again after it; another bill,
# sent in a new chat). One vendor per bill.
ROUNDS = {"immediate": (bill_text("Clearwater Utilities", "41.00", DUE, invoice="CW-7"),
                        bill_text("FastLink Broadband", "59.99", DUE, invoice="FL-3")),
          "fast": (bill_text("Metro Transit", "30.00", DUE, invoice="MT-2"),
                   bill_text("Blue Harbor Gas", "40.00", DUE, invoice="BH-5"))}
FILE_IT = Reply(tool_calls=[("add_bill", {"attachment_id": "paste-1"})])


# --- the private cluster and a database on it ---

@pytest.fixture(scope="module")
def cluster():
    pg = PrivateCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


@pytest.fixture
async def outage_db(cluster: PrivateCluster) -> str:
    if not cluster.running():  # an earlier test failed while it was stopped
        cluster.start()
    return await cluster.create_database()


async def stop(cluster: PrivateCluster, mode: str) -> None:
    await asyncio.to_thread(cluster.stop, mode)


async def start(cluster: PrivateCluster) -> None:
    await asyncio.to_thread(cluster.start)


# --- a fake OpenAI that can hold an answer ---

class HeldOpenAI(FakeOpenAI):
    """The fake OpenAI server, which can hold its next answer until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self._gate: asyncio.Event | None = None
        self.holding = asyncio.Event()  # set once the held request has arrived

    def hold_next(self) -> None:
        self._gate = asyncio.Event()
        self.holding.clear()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def record(self, request):
        body, reply = await super().record(request)
        gate = self._gate
        if gate is not None:
            self.holding.set()
            await gate.wait()
            self._gate = None
        return body, reply


@pytest.fixture
async def held_openai():
    fake = await HeldOpenAI().start()
    try:
        yield fake
    finally:
        fake.release()
        await fake.stop()


# --- what the tests check ---

async def readiness(server: LiveServer) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.get("/health/ready")
        return response.status_code, response.json()


async def assert_database_not_ready(server: LiveServer) -> None:
    status, body = await readiness(server)
    assert status == 503 and body["checks"]["database"]["ok"] is False, body
    assert body["checks"]["database"]["error"], body  # the kind of failure, e.g. ConnectionRefusedError


async def assert_ready(server: LiveServer) -> None:
    status, body = await readiness(server)
    assert status == 200 and body["checks"]["database"] == {"ok": True}, body


async def filed(db: str) -> dict[str, Any]:
    """Counts of what filing writes, and of every way it could be half-written."""
    one = 'SELECT count(*) AS n FROM {}'
    checks = {
        "vendors": one.format("vendors"), "documents": one.format("documents"),
        "commitments": one.format("commitments"),
        "commitments without their document": one.format(
            "commitments c WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = c.document_id)"),
        "documents without a commitment": one.format(
            "documents d WHERE NOT EXISTS (SELECT 1 FROM commitments c WHERE c.document_id = d.id)"),
        "vendors without a bill": one.format(
            "vendors v WHERE NOT EXISTS (SELECT 1 FROM commitments c WHERE c.vendor_id = v.id)"),
        "reservations left reserved": one.format("llm_usage WHERE status = 'reserved'"),
    }
    return {name: (await query(db, sql))[0]["n"] for name, sql in checks.items()}


def complete(vendors: int) -> dict[str, int]:
    """The counts when `vendors` bills, one per vendor, were filed whole and every model call settled."""
    return {"vendors": vendors, "documents": vendors, "commitments": vendors,
            "commitments without their document": 0, "documents without a commitment": 0,
            "vendors without a bill": 0, "reservations left reserved": 0}


def tool_result(turn: Turn) -> dict[str, Any]:
    [step] = turn.tool_steps
    assert step["name"] == "Filing the bill"
    return json.loads(step["output"])


def assert_told_the_database_is_down(turn: Turn) -> None:
    """One clear message (not a stack trace, not the generic apology), and a failed tool step."""
    assert len(turn.texts) == 1 and turn.texts[0].startswith(DOWN), turn.texts
    assert "Traceback" not in turn.text and "Something went wrong" not in turn.text
    [step] = turn.tool_steps
    assert step["isError"] and "the database is not reachable" in step["output"], step


async def assert_kept_in_history(db: str, chat: ChatClient, sent: str, turn: Turn) -> None:
    """The turn's question and answer are saved in the chat's thread, which is the user's."""
    alice = await user_id(db, "alice")

    async def saved() -> None:
        threads = await query(db, 'SELECT "userId" FROM threads WHERE id = :id', id=chat.thread_id)
        assert [t["userId"] for t in threads] == [alice]
        steps = await query(db, 'SELECT type, output FROM steps WHERE "threadId" = :id', id=chat.thread_id)
        assert {"type": "user_message", "output": sent} in steps
        assert {"type": "assistant_message", "output": turn.texts[-1]} in steps

    await eventually(saved, what="the turn in the chat history")


async def serves_again(server: LiveServer, chat: ChatClient, fake: HeldOpenAI | None, lost: str, other: str) -> None:
    """After the outage, with no restart: the same chat files the bill of the failed turn (not as a
    duplicate: nothing of it was kept), a new chat files another, and both turns are in the history."""
    db = server.database_url
    vendor = lost.splitlines()[0]
    if fake:
        fake.script(FILE_IT, Reply(text="Filed it."))
    turn = await chat.send(lost)
    result = tool_result(turn)
    assert result["filed"] is True and result["bill"]["vendor"] == vendor, result
    assert "Filed it." in turn.text if fake else f"Filed a bill from **{vendor}**" in turn.text
    await assert_kept_in_history(db, chat, lost, turn)

    async with ChatClient(server.url, "alice", USERS["alice"]) as new_chat:
        if fake:
            fake.script(FILE_IT, Reply(text="Filed it."))
        turn = await new_chat.send(other)
        assert tool_result(turn)["filed"] is True
        await assert_kept_in_history(db, new_chat, other, turn)


async def errors_counted(server: LiveServer) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        text = (await http.get("/metrics")).text
    return [line for line in text.splitlines() if line.startswith('assistant_errors_total{kind="database"}')]


# --- PostgreSQL stopped mid-turn ---

async def test_only_a_database_out_of_reach_counts_as_unreachable(tmp_path):
    """What the app tells "the database is not reachable" from: real failures, not made-up exceptions."""
    port = free_port()  # nothing listens there
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none")
    try:
        with pytest.raises(Exception) as refused:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert unreachable(refused.value)
    # a model vendor or the search index out of reach is not the database (httpx wraps an OSError)
    with pytest.raises(httpx.ConnectError) as vendor:
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/")
    assert not unreachable(vendor.value)
    # a statement refused by a live database is an ordinary error
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(IntegrityError) as refused_row:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
                await conn.execute(text("INSERT INTO t VALUES (1), (1)"))
    finally:
        await engine.dispose()
    assert not unreachable(refused_row.value)


async def test_database_stopped_while_the_model_answers(cluster, outage_db, held_openai, tmp_path):
    """The model asked for add_bill, its answer held until PostgreSQL is down: the answer's cost waits
    for the database, the tool meets the dead server, the user is told, and the app serves again."""
    fake = held_openai
    server = await asyncio.to_thread(start_server, tmp_path / "data", outage_db, extra_env={
        "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake.url}/v1", "ASSISTANT_PROVIDERS": "openai,offline",
        "PROVIDER_MAX_RETRIES": "0", "EXTRACTOR": "offline"})
    try:
        async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
            fake.script(FILE_IT, Reply(text="Filed it."))
            assert tool_result(await chat.send(WARM_UP))["filed"] is True
            for n, (mode, (lost, other)) in enumerate(ROUNDS.items()):
                before = await filed(outage_db)
                assert before == complete(1 + 2 * n)
                stored = files_under(server.data_dir / "documents")
                asked = len(fake.requests)

                fake.script(FILE_IT)
                fake.hold_next()
                sending = asyncio.create_task(chat.send(lost))
                await asyncio.wait_for(fake.holding.wait(), 60)  # the model has the question: PostgreSQL goes
                await stop(cluster, mode)
                await assert_database_not_ready(server)
                fake.release()
                turn = await sending  # returns at the turn's task_end

                assert_told_the_database_is_down(turn)
                assert len(fake.requests) == asked + 1  # the model was not asked to carry on without a database
                await assert_database_not_ready(server)
                assert files_under(server.data_dir / "documents") == stored
                assert await errors_counted(server) == [f'assistant_errors_total{{kind="database"}} {n + 1}']

                await start(cluster)
                await eventually(lambda: assert_ready(server), what="ready again")
                # nothing of the failed turn; the held call's cost waits in the app for the next model
                # call (until then its reservation counts, as a live one does)
                assert await filed(outage_db) == {**before, "reservations left reserved": 1}, mode
                await serves_again(server, chat, fake, lost, other)
                assert await filed(outage_db) == complete(3 + 2 * n), mode
        statuses = await query(outage_db, "SELECT status, count(*) AS n FROM llm_usage GROUP BY status")
        assert statuses == [{"status": "settled", "n": len(fake.requests)}]  # every model call, settled once
        assert KEY not in server.log()
    finally:
        server.stop()


async def test_database_stopped_inside_the_filing_transaction(cluster, outage_db, tmp_path):
    """The offline assistant files a pasted bill; PostgreSQL stops while add_bill's transaction has
    written the vendor and the document and waits to write the commitment: all of it is rolled back.
    A chat opened before the outage whose first message meets it keeps its later turns, as its owner's."""
    server = await asyncio.to_thread(start_server, tmp_path / "data", outage_db)
    url = make_url(outage_db).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        async with ChatClient(server.url, "alice", USERS["alice"]) as chat, \
                ChatClient(server.url, "alice", USERS["alice"]) as fresh:
            assert tool_result(await chat.send(WARM_UP))["filed"] is True
            told = 0  # turns that met the outage
            for n, (mode, (lost, other)) in enumerate(ROUNDS.items()):
                before = await filed(outage_db)
                assert before == complete(1 + 2 * n)
                stored = files_under(server.data_dir / "documents")

                locker = await asyncpg.connect(url)
                await locker.execute("BEGIN; LOCK TABLE commitments IN SHARE MODE")
                sending = asyncio.create_task(chat.send(lost))

                async def filing_waits() -> None:
                    # pg_locks (pg_stat_activity is a snapshot inside a transaction): add_bill's connection
                    # waits to insert the commitment, having inserted the new vendor and the document
                    waiting = await locker.fetch("SELECT pid FROM pg_locks WHERE relation = 'commitments'::regclass "
                                                 "AND mode = 'RowExclusiveLock' AND NOT granted")
                    assert len(waiting) == 1, waiting
                    written = await locker.fetch("SELECT relation::regclass::text AS t FROM pg_locks "
                                                 "WHERE pid = $1 AND mode = 'RowExclusiveLock' AND granted",
                                                 waiting[0]["pid"])
                    assert {"vendors", "documents"} <= {r["t"] for r in written}, written

                await eventually(filing_waits, timeout=60, what="add_bill waiting to insert the commitment")
                await stop(cluster, mode)
                with contextlib.suppress(Exception):
                    await locker.close(timeout=5)
                turn = await sending

                assert_told_the_database_is_down(turn)
                await assert_database_not_ready(server)
                assert files_under(server.data_dir / "documents") == stored
                told += 1
                if mode == "immediate":  # the first message of a chat, while the database is away
                    turn = await fresh.send("Who do I pay?")
                    assert turn.texts[0].startswith(DOWN), turn.texts
                    told += 1
                assert await errors_counted(server) == [f'assistant_errors_total{{kind="database"}} {told}']

                await start(cluster)
                await eventually(lambda: assert_ready(server), what="ready again")
                assert await filed(outage_db) == before, mode  # the vendor and the document were rolled back
                await serves_again(server, chat, None, lost, other)
                assert await filed(outage_db) == complete(3 + 2 * n), mode
            turn = await fresh.send("Who do I pay?")
            assert "Pacific Power" in turn.text, turn.text
            await assert_kept_in_history(outage_db, fresh, "Who do I pay?", turn)
            assert fresh.thread_id in [t["id"] for t in await fresh.threads()]  # listed in the user's history
    finally:
        server.stop()


# --- the search index down ---

@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_search_down_says_so_and_a_bill_filed_meanwhile_is_found_once_it_is_back(kind, tmp_path):
    """The live app on a Chroma server that stops and starts again (same port, same data)."""
    db = (f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}" if kind == "sqlite" else await create_pg_database())
    port, chroma_data = free_port(), tmp_path / "chroma"
    chroma = contextlib.ExitStack()
    server = None
    try:
        url = await asyncio.to_thread(chroma.enter_context, chroma_running(port, chroma_data))
        server = await asyncio.to_thread(start_server, tmp_path / "data", db, extra_env={"CHROMA_URL": url})
        async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
            assert tool_result(await chat.send(WARM_UP + "Electricity supply, 412 kWh used this period\n"))["filed"]
            assert (await readiness(server))[0] == 200

            await asyncio.to_thread(chroma.close)  # Chroma stops
            status, body = await readiness(server)
            assert status == 503 and body["checks"]["search_index"]["ok"] is False, body
            assert body["checks"]["database"] == {"ok": True}
            turn = await chat.send(ROUNDS["immediate"][0] + "Water and sewer service, 14 cubic meters\n")
            assert tool_result(turn)["filed"] is True, turn.text  # filed all the same
            assert "Filed a bill from **Clearwater Utilities**" in turn.text
            pending = await query(db, "SELECT d.id FROM documents d JOIN vendors v ON v.id = d.vendor_id "
                                      "WHERE v.name = 'Clearwater Utilities' AND d.indexed_at IS NULL")
            assert len(pending) == 1  # waiting for the index
            turn = await chat.send("find my water bill")
            assert "search is unavailable right now" in turn.text, turn.text

            await asyncio.to_thread(chroma.enter_context, chroma_running(port, chroma_data))  # back
            await eventually(lambda: assert_ready(server), what="ready again")
            turn = await chat.send("find my water bill")
            [step] = turn.tool_steps
            hits = json.loads(step["output"])["hits"]
            assert hits[0]["vendor"] == "Clearwater Utilities", hits
            assert hits[0]["document_id"] == pending[0]["id"]
            assert (await query(db, "SELECT count(*) AS n FROM documents WHERE indexed_at IS NULL"))[0]["n"] == 0
    finally:
        if server is not None:
            server.stop()
        await asyncio.to_thread(chroma.close)
        if kind == "postgresql":
            await drop_pg_database(db)


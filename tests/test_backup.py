"""Backups (`assistant backup` / `assistant restore`, assistant/backup.py): a filled installation is backed
up and restored into an empty one, on SQLite and PostgreSQL and across them, into an embedded index and a
Chroma server, and everything is compared; damaged archives, non-empty targets, schema revisions and
retention.

The installations are filled the way people fill them: bills pasted and attached in chat turns through the
agent (offline provider) and its tools, so documents, vendors, aliases, commitments (one replaced by a
corrected bill, one paid, one repeating), the usage ledger and index chunks all exist; a priced model call
through the budget (ledger and counters with six-decimal costs); and chat history written by our Chainlit
data layer (threads with tags and metadata, steps, an attachment element with its stored file, feedback).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import ARRAY, JSON, MetaData, select
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from assistant.agent import TurnFinished
from assistant.backup import (BackupError, archive_name, create_backup, migration_scripts, prune,
                              restore_backup)
from assistant.db import create_engine
from assistant.documents.index import DocumentIndex
from assistant.graph.migrate import upgrade
from assistant.messages import Attachment, Message, Usage, with_attachment_note
from assistant.providers.pricing import Price
from assistant.service import Services, build_services
from assistant.settings import Settings
from tests.conftest import chroma_running, create_pg_database, drop_pg_database, free_port, make_settings
from tests.factories import bill_text, text_pdf
from tests.web.conftest import files_under

KINDS = ["sqlite", "postgresql"]
SEARCH = "water and sewer bill"
HEAD = migration_scripts().get_current_head()  # the code's schema revision


# --- installations ------------------------------------------------------------------------------

@dataclass
class Install:
    kind: str
    url: str
    settings: Settings
    users: dict[str, str] = field(default_factory=dict)  # identifier -> id
    archive: Path | None = None
    # what the app answered alice just before the backup (asking again would add ledger rows)
    expected: dict[str, Any] = field(default_factory=dict)


async def new_install(kind: str, base: Path, migrated: bool = True, **overrides) -> Install:
    """An empty installation: a fresh database (with or without our schema) and data dir under `base`."""
    url = (f"sqlite+aiosqlite:///{base / 'data' / 'assistant.db'}" if kind == "sqlite"
           else await create_pg_database())
    if migrated:
        await upgrade(url)
    return Install(kind, url, make_settings(base, url, **overrides))


async def remove_install(install: Install) -> None:
    if install.kind == "postgresql":
        await drop_pg_database(install.url)


@contextlib.asynccontextmanager
async def running(install: Install) -> AsyncIterator[Services]:
    services = build_services(install.settings)
    try:
        yield services
    finally:
        await services.close()


async def say(services: Services, user_id: str, text: str, attachments: list[Attachment] | None = None
              ) -> TurnFinished:
    """One chat turn through the agent loop, as the chat runs it (assistant/web/app.py)."""
    attachments = attachments or []
    message = Message("user", with_attachment_note(text, attachments), attachments=attachments)
    finished = None
    async for event in services.agent.run_turn([], message, services.tool_context(user_id, attachments)):
        if isinstance(event, TurnFinished):
            finished = event
    assert finished is not None and not finished.stopped, finished
    return finished


async def fill(install: Install, base: Path) -> None:
    from chainlit.element import File
    from chainlit.types import Feedback

    from assistant.graph.users import hash_password, seed_users
    from assistant.web.history import HistoryDataLayer
    from assistant.web.storage import LocalStorage

    today = datetime.now(UTC).date()
    water = base / "city-water.pdf"
    water.write_bytes(text_pdf(bill_text("City Water", "45.10", today + timedelta(days=20), invoice="W-77")
                               + "Water and sewer service, 14 cubic meters\n"))
    conversations = {
        "alice": [
            (bill_text("Pacific Power", "120.50", today + timedelta(days=10), invoice="PP-1")
             + "Electricity used: 412 kWh\n", None),
            ("Please file this bill", Attachment("file-1", water.name, "upload", path=water)),
            (bill_text("City Water", "41.00", today + timedelta(days=25), invoice="W-77")
             + "Corrected invoice\nWater and sewer service, 14 cubic meters\n", None),
            ("rent 1,200 due on the 1st every month", None),
            ("I paid the rent", None),
        ],
        "bob": [(bill_text("Stadtwerke Süd", "60.00", today + timedelta(days=5), invoice="S-1"), None),
                ("what do I owe?", None)],
    }
    turns = {}
    async with running(install) as services:
        await seed_users(services.sessions, [("carol", hash_password("carol-pw"))])
        install.users = {name: await services.user_id(name) for name in ("alice", "bob", "carol")}
        for name, messages in conversations.items():
            turns[name] = [(text, attachment, await say(services, install.users[name], text,
                                                        [attachment] if attachment else None))
                           for text, attachment in messages]
        assert turns["alice"][2][2].tool_calls[0]["result"]["replaced_earlier"]
        # a priced model call through the budget: the ledger and its running totals
        price, usage = Price(Decimal("0.40"), Decimal("1.60"), Decimal("0.10")), Usage(1234, 211, 100)
        held = await services.budget.reserve(price=price, provider="openai", model="gpt-4.1-mini", input_tokens=1234,
                                             max_output_tokens=300, user_id=install.users["alice"], thread_id=None,
                                             turn_id="t-1")
        install.expected["cost"] = await services.budget.settle(held, usage, price.cost(usage))
        alice = install.users["alice"]
        install.expected["owe"] = (await say(services, alice, "what do I owe?")).text
        install.expected["hits"] = await services.index.search(alice, SEARCH)

    # the chat history of those turns, written by our data layer as the chat writes it
    layer = HistoryDataLayer(create_engine(install.url), LocalStorage(install.settings.attachments_dir))
    try:
        for name, done in turns.items():
            thread_id = str(uuid.uuid4())
            signed_in(install.users[name], name, thread_id)
            await layer.update_thread(thread_id, name=done[0][0][:40], user_id=install.users[name],
                                      metadata={"chat_settings": {"provider": "offline"}}, tags=["bills", name])
            for n, (text, attachment, finished) in enumerate(done):
                at = f"2026-11-21T10:{n:02d}:00.000000Z"
                asked = await _step(layer, thread_id, "user_message", name, text, None, at)
                for call in finished.tool_calls:
                    await _step(layer, thread_id, "tool", call["name"], json.dumps(call["result"], default=str),
                                asked, at, input=json.dumps(call["arguments"], default=str))
                answer = await _step(layer, thread_id, "assistant_message", "Assistant", finished.text, asked, at,
                                     generation={"provider": finished.provider, "model": finished.model})
                if attachment is not None:
                    await layer.create_element(File(name=attachment.name, path=str(attachment.path),
                                                    mime="application/pdf", thread_id=thread_id, for_id=asked))
            await layer.upsert_feedback(Feedback(forId=answer, value=1, threadId=thread_id, comment="clear ✓"))
    finally:
        await layer.engine.dispose()


def signed_in(user_id: str, identifier: str, thread_id: str) -> None:
    """The Chainlit context of a signed-in request on `thread_id`, which our data layer reads the user from."""
    from chainlit.context import ChainlitContext, context_var
    from chainlit.session import HTTPSession
    from chainlit.user import PersistedUser

    user = PersistedUser(id=user_id, identifier=identifier, createdAt="", metadata={})
    context_var.set(ChainlitContext(HTTPSession(id=str(uuid.uuid4()), client_type="webapp", thread_id=thread_id,
                                                user=user)))


async def _step(layer, thread_id: str, kind: str, name: str, output: str, parent: str | None, at: str,
                input: str = "", generation: dict | None = None) -> str:
    step_id = str(uuid.uuid4())
    await layer.create_step({
        "id": step_id, "threadId": thread_id, "parentId": parent, "name": name, "type": kind, "streaming": False,
        "isError": False, "metadata": {"turn": at}, "tags": None, "input": input, "output": output,
        "showInput": "json" if kind == "tool" else False, "language": "json" if kind == "tool" else None,
        "createdAt": at, "start": at, "end": at, "generation": generation})
    return step_id


class Sources:
    """A filled installation of each kind, backed up once (`.archive`), built on first use. Tests only
    read them: a restore is compared with the source's rows as they were at the backup."""

    def __init__(self, tmp_path_factory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.made: dict[str, Install] = {}

    async def get(self, kind: str) -> Install:
        if kind not in self.made:
            base = self.tmp_path_factory.mktemp(f"source-{kind}")
            install = self.made[kind] = await new_install(kind, base)
            await fill(install, base)
            install.archive = (await create_backup(install.settings, base / "backups")).path
        return self.made[kind]


@pytest.fixture(scope="module")
async def sources(tmp_path_factory) -> AsyncIterator[Sources]:
    made = Sources(tmp_path_factory)
    try:
        yield made
    finally:
        for install in made.made.values():
            await remove_install(install)


# --- what an installation holds -----------------------------------------------------------------

def _normalised(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLite hands back naive UTC
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value


async def database_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows (Alembic's too), in primary-key order, values normalised across dialects; a
    JSON or array column also says whether it is SQL NULL (read back, it and the JSON value null are None)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            metadata = MetaData()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SAWarning)
                await conn.run_sync(metadata.reflect)
            out = {}
            for table in metadata.sorted_tables:
                nulls = [c.is_(None).label(f"{c.name} IS NULL") for c in table.columns
                         if isinstance(c.type, (JSON, ARRAY))]
                rows = [{k: _normalised(v) for k, v in row.items()}
                        for row in (await conn.execute(select(table, *nulls))).mappings()]
                keys = [c.name for c in table.primary_key.columns]
                out[table.name] = sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
            return out
    finally:
        await engine.dispose()


async def index_records(settings: Settings) -> dict[str, Any]:
    collection = await DocumentIndex(settings, chroma_url=settings.chroma_url)._get()
    got = await asyncio.to_thread(collection.get, include=["documents", "metadatas", "embeddings"])
    order = np.argsort(got["ids"])
    return {"ids": [got["ids"][i] for i in order], "documents": [got["documents"][i] for i in order],
            "metadatas": [got["metadatas"][i] for i in order],
            "embeddings": np.asarray(got["embeddings"])[order] if len(order) else np.empty((0,))}


def stored_files(settings: Settings) -> dict[str, bytes]:
    out = {}
    for root in (settings.documents_dir, settings.attachments_dir):
        for path in files_under(root):
            out[str(path.relative_to(settings.data_dir.resolve()))] = path.read_bytes()
    return out


async def history(install: Install, user: str) -> list[dict[str, Any]]:
    from assistant.web.history import HistoryDataLayer
    from assistant.web.storage import LocalStorage

    layer = HistoryDataLayer(create_engine(install.url), LocalStorage(install.settings.attachments_dir))
    try:
        threads = await layer.get_all_user_threads(user_id=install.users[user]) or []
    finally:
        await layer.engine.dispose()
    for thread in threads:
        thread["steps"] = sorted(thread["steps"], key=lambda s: s["id"])
        thread["elements"] = sorted(thread["elements"], key=lambda e: e["id"])
    return threads


async def assert_same_installation(source: Install, restored: Install) -> None:
    """Rows, files, the index and what the app answers from them: all equal."""
    restored.users = source.users
    before, after = await database_rows(source.url), await database_rows(restored.url)
    assert sorted(before) == sorted(after)
    for table in before:
        assert after[table] == before[table], f"table {table} differs after the restore"
    assert len(before["documents"]) == 4 and len(before["steps"]) > 10 and len(before["elements"]) == 1
    assert len(before["feedbacks"]) == 2 and before["budget_counter"] and len(before["users"]) == 3
    assert any(d["replaced_by_id"] for d in before["documents"])  # a row pointing at a later row of its table
    assert {c["status"] for c in before["commitments"]} == {"due", "paid"}
    assert {s["generation IS NULL"] for s in before["steps"]} == {False} and before["steps"][0]["modes IS NULL"]
    assert any(s["generation"] is None for s in before["steps"])  # the JSON value null (Chainlit writes it)
    assert Decimal("0.0008") < source.expected["cost"] in {u["cost"] for u in before["llm_usage"]}  # 6 decimals

    files = stored_files(source.settings)
    assert len(files) == 5 and any(name.startswith("attachments/") for name in files)
    assert stored_files(restored.settings) == files

    index_before, index_after = await index_records(source.settings), await index_records(restored.settings)
    assert len(index_before["ids"]) >= 4
    for key in ("ids", "documents", "metadatas"):
        assert index_after[key] == index_before[key]
    # Chroma normalises a cosine-space vector as it is added, and normalising an already normalised
    # float32 vector may move it by one unit in the last place: equal to within float32 rounding
    assert np.allclose(index_after["embeddings"], index_before["embeddings"], rtol=0, atol=1e-6)

    alice = source.users["alice"]
    async with running(restored) as new:
        hits = await new.index.search(alice, SEARCH)
        assert hits == source.expected["hits"] and hits[0]["vendor"] == "City Water"
        asked = await say(new, alice, "what do I owe?")
        assert asked.text == source.expected["owe"]
        assert "Pacific Power" in asked.text and "$41.00" in asked.text
        # the restored app files a new bill: its ids continue after the restored ones
        filed = await say(new, alice, bill_text("Harbor Gas Co", "61.00", datetime.now(UTC).date(), invoice="G-7"))
        bill = filed.tool_calls[0]["result"]["bill"]
        assert bill["id"] == max(c["id"] for c in before["commitments"]) + 1, filed.tool_calls
        assert bill["document_id"] == max(d["id"] for d in before["documents"]) + 1
    assert await history(restored, "alice") == await history(source, "alice")


# --- round trips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("source_kind,target_kind", [
    ("sqlite", "sqlite"), ("postgresql", "postgresql"), ("sqlite", "postgresql"), ("postgresql", "sqlite")])
async def test_a_restore_brings_back_everything(sources, tmp_path, source_kind, target_kind):
    source = await sources.get(source_kind)
    manifest = _manifest(source.archive)
    assert manifest["source_dialect"] == source_kind and manifest["alembic_revision"] == HEAD
    rows = {t["name"]: t["rows"] for t in manifest["tables"]}
    assert rows["documents"] == 4 and rows["users"] == 3 and "alembic_version" not in rows
    names = [t["name"] for t in manifest["tables"]]
    assert names.index("users") < names.index("threads") < names.index("steps")  # parents first
    across = source_kind != target_kind
    with contextlib.ExitStack() as stack:
        # across dialects: into a database with no schema at all, and SQLite -> PostgreSQL into a Chroma
        # server too; otherwise into one migrated and empty, as after `assistant db upgrade`
        server = ({"chroma_url": stack.enter_context(chroma_running(free_port(), tmp_path / "chroma-server"))}
                  if across and target_kind == "postgresql" else {})
        target = await new_install(target_kind, tmp_path, migrated=not across, **server)
        try:
            result = await restore_backup(target.settings, source.archive)
            assert (result.rows, result.files, result.reindexed) == (sum(rows.values()), 5, 0)
            assert not any(p.name.startswith(".restore-") for p in target.settings.data_dir.iterdir())
            await assert_same_installation(source, target)
        finally:
            await remove_install(target)


def _manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        return json.load(tar.extractfile("manifest.json"))


# --- the commands ---------------------------------------------------------------------------------

def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url}
    env.pop("CHROMA_URL", None)
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.mark.parametrize("kind", KINDS)
async def test_the_commands_back_up_keep_the_newest_and_restore(sources, tmp_path, kind):
    source = await sources.get(kind)
    out = tmp_path / "backups"
    out.mkdir()
    older = [out / archive_name(datetime(2026, 1, day, 3, 0, tzinfo=UTC)) for day in (1, 2, 3)]
    for path in older:
        path.write_bytes(b"an older archive")
    (out / "notes.txt").write_text("not an archive: never deleted")
    (out / ".assistant-backup-20260104T030000Z.tar.gz.partial").write_bytes(b"a crashed run")

    run = await asyncio.to_thread(cli, source.settings, "backup", "--output", str(out), "--keep", "2")
    assert run.returncode == 0, run.stderr
    written = Path(run.stdout.strip())
    assert written.parent == out and written.is_file() and written.stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [older[2].name, written.name, "notes.txt", ".assistant-backup-20260104T030000Z.tar.gz.partial"])
    assert run.stderr.count("deleted the older backup") == 2

    target = await new_install(kind, tmp_path / "restored")
    try:
        restored = await asyncio.to_thread(cli, target.settings, "restore", str(written))
        assert restored.returncode == 0, restored.stderr
        assert "restored " in restored.stdout and "5 files" in restored.stdout
        assert await database_rows(target.url) == await database_rows(source.url)
        again = await asyncio.to_thread(cli, target.settings, "restore", str(written))
        assert again.returncode == 1 and "not empty" in again.stderr and "--force" in again.stderr
    finally:
        await remove_install(target)


def test_retention_keeps_exactly_the_newest(tmp_path, monkeypatch):
    defaults = Settings(data_dir=tmp_path / "data")
    assert (defaults.backup_dir, defaults.backup_keep) == ((tmp_path / "data" / "backups").resolve(), 7)
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("BACKUP_KEEP", "0")
    assert (Settings().backup_dir, Settings().backup_keep) == ((tmp_path / "elsewhere").resolve(), 0)

    names = [archive_name(datetime(2026, 11, day, 23, 59, 59, tzinfo=UTC)) for day in (9, 1, 20, 3, 15)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "assistant-backup-latest.tar.gz").write_bytes(b"not ours")
    assert prune(tmp_path, 0) == []
    deleted = prune(tmp_path, 2)
    assert sorted(p.name for p in deleted) == sorted(archive_name(datetime(2026, 11, d, 23, 59, 59, tzinfo=UTC))
                                                     for d in (1, 3, 9))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names[2], names[4], "assistant-backup-latest.tar.gz"])
    assert prune(tmp_path, 2) == []


# --- refusals ---------------------------------------------------------------------------------------

def _repacked(archive: Path, to: Path, change) -> Path:
    """`archive` rewritten as a valid tar.gz, `change(name, data)` giving each member's new bytes."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(to, "w:gz") as dst:
        for member in src.getmembers():
            data = change(member.name, src.extractfile(member).read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return to


def _flip_one_byte(name: str, data: bytes, victim: str) -> bytes:
    if name != victim:
        return data
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_damaged_archive_is_refused_and_nothing_is_written(sources, tmp_path, kind):
    source = await sources.get(kind)
    document = next(n for n in _manifest(source.archive)["members"] if n.startswith("files/documents/"))
    tampered = _repacked(source.archive, tmp_path / "tampered.tar.gz",
                         lambda name, data: _flip_one_byte(name, data, document))
    raw = bytearray(source.archive.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (tmp_path / "flipped.tar.gz").write_bytes(bytes(raw))
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(source.archive.read_bytes()[: len(raw) * 2 // 3])
    rows_table = _repacked(source.archive, tmp_path / "rows.tar.gz",
                           lambda name, data: _flip_one_byte(name, data, "db/commitments.jsonl"))

    target = await new_install(kind, tmp_path / "target", migrated=False)
    try:
        cases = {tampered: f"{document} does not match its checksum", rows_table: "db/commitments.jsonl does not",
                 tmp_path / "flipped.tar.gz": "", truncated: ""}
        for archive, says in cases.items():
            with pytest.raises(BackupError) as refused:
                await restore_backup(target.settings, archive)
            assert "nothing was restored" in str(refused.value) and says in str(refused.value)
            assert not target.settings.data_dir.exists()  # not even the data dir was made
            rows = await database_rows(target.url) if kind == "postgresql" else {}
            assert rows == {}  # PostgreSQL: not a table; SQLite: the database file was not even created
        assert not (target.settings.data_dir / "assistant.db").exists()
    finally:
        await remove_install(target)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_non_empty_installation_is_refused_unless_forced(sources, tmp_path, kind):
    source = await sources.get(kind)
    target = await new_install(kind, tmp_path)
    try:
        async with running(target) as services:
            zed = await services.user_id("zed")
            await say(services, zed, bill_text("Zed Telecom", "19.99", datetime.now(UTC).date(), invoice="Z-1"))
        before, files, index = (await database_rows(target.url), stored_files(target.settings),
                                await index_records(target.settings))
        with pytest.raises(BackupError) as refused:
            await restore_backup(target.settings, source.archive)
        message = str(refused.value)
        assert "not empty" in message and "1 row(s) in users" in message and "--force" in message
        assert await database_rows(target.url) == before and stored_files(target.settings) == files
        assert (await index_records(target.settings))["ids"] == index["ids"] != []

        result = await restore_backup(target.settings, source.archive, force=True)
        assert "1 row(s) in users" in result.replaced
        await assert_same_installation(source, target)  # zed, his bill, file and chunks are gone
    finally:
        await remove_install(target)


# --- schema revisions, and an archive without the index ------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
async def test_an_older_schema_is_restored_then_upgraded_and_a_newer_one_refused(tmp_path, kind):
    from sqlalchemy import Table, insert

    old = await new_install(kind, tmp_path / "old", migrated=False)
    await upgrade(old.url, "0005")  # before commitments could repeat or be snoozed (0006)
    engine = create_async_engine(old.url, poolclass=NullPool)
    async with engine.begin() as conn:
        metadata = MetaData()
        for name in ("users", "vendors", "commitments"):
            await conn.run_sync(lambda c, n=name: Table(n, metadata, autoload_with=c))
        tables = metadata.tables
        await conn.execute(insert(tables["users"]).values(id="u-1", identifier="olga", metadata={}))
        await conn.execute(insert(tables["vendors"]).values(id=7, owner_id="u-1", name="Old Power",
                                                            normalized_name="old power"))
        await conn.execute(insert(tables["commitments"]).values(
            id=3, owner_id="u-1", vendor_id=7, amount=Decimal("88.20"), currency="USD", status="due",
            due_date=datetime(2026, 12, 1).date()))
    await engine.dispose()
    archive = (await create_backup(old.settings, tmp_path / "backups")).path
    assert _manifest(archive)["alembic_revision"] == "0005"

    target = await new_install(kind, tmp_path / "new")  # at head: moved back to 0005 to load, then upgraded
    try:
        result = await restore_backup(target.settings, archive)
        assert (result.revision, result.upgraded_to, result.rows) == ("0005", HEAD, 4)
        rows = await database_rows(target.url)
        assert rows["alembic_version"] == [{"version_num": HEAD}]
        [bill] = rows["commitments"]
        assert (bill["id"], bill["amount"], bill["repeats"], bill["snoozed_until"]) == (3, Decimal("88.20"), None, None)

        future = _repacked(archive, tmp_path / "future.tar.gz", lambda name, data: data if name != "manifest.json"
                           else json.dumps({**json.loads(data), "alembic_revision": "0099"}).encode())
        other = await new_install(kind, tmp_path / "other", migrated=False)
        try:
            with pytest.raises(BackupError, match="revision 0099, which this version of the assistant does not know"):
                await restore_backup(other.settings, future)
            if kind == "postgresql":
                assert await database_rows(other.url) == {}
            assert not other.settings.data_dir.exists()
        finally:
            await remove_install(other)
    finally:
        await remove_install(target)
        await remove_install(old)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_backup_taken_while_the_index_is_down_restores_it_from_the_documents(sources, tmp_path, kind):
    source = await sources.get(kind)
    down = source.settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{free_port()}"})
    made = await create_backup(down)  # into BACKUP_DIR: by default `<data dir>/backups`
    assert made.path.parent == source.settings.data_dir.resolve() / "backups"
    assert made.manifest["chroma"] is None and "search index could not be read" in made.warnings[0]
    assert not any(n.startswith("chroma/") for n in made.manifest["members"])

    target = await new_install(kind, tmp_path / "target")
    try:
        result = await restore_backup(target.settings, made.path)
        assert (result.chunks, result.reindexed) == (0, 4)
        before, after = await index_records(source.settings), await index_records(target.settings)
        assert after["ids"] == before["ids"] and after["documents"] == before["documents"]
        async with running(target) as new:
            hits = await new.index.search(source.users["alice"], SEARCH)
        assert [h["document_id"] for h in hits] == [h["document_id"] for h in source.expected["hits"]]
    finally:
        await remove_install(target)


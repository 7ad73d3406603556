"""Backups: one archive of an installation (`assistant backup`), and bringing it back into an
empty installation (`assistant restore`), on SQLite and PostgreSQL, either way round.

An archive is one gzip'd tar, `assistant-backup-<UTC YYYYmmddTHHMMSSZ>.tar.gz`:

    db/<table>.jsonl          every table's rows, one JSON object per line, in primary-key order
    chroma/documents.jsonl    the search index: each chunk's id, text, metadata and embedding
    files/documents/...       the stored originals (`settings.documents_dir`, content-addressed)
    files/attachments/...     the chat attachments (`settings.attachments_dir`)
    manifest.json             written last: format version, created_at, app version, Alembic
                              revision, source dialect, tables in foreign-key order with their
                              row counts and columns, and the size and sha256 of every other member

Decisions:

- The database goes out as neutral JSON written through SQLAlchemy on metadata reflected from the
  live database (so Chainlit's tables, which are not our ORM models, come along): Decimal as a
  string, dates and datetimes ISO 8601 (datetimes in UTC: the naive ones SQLite hands back are UTC
  by the app's convention), bytes base64, JSON columns as their JSON text (so SQL NULL and the JSON
  value null stay apart; Chainlit writes both), arrays as JSON arrays, booleans as booleans. On
  restore a value is decoded by the type of the *target* column (the schema is first brought to the
  archive's revision, so the columns are the same ones), which is how a SQLite backup restores into
  PostgreSQL and back.
- One consistent snapshot: the whole export is one transaction, REPEATABLE READ and read-only on
  PostgreSQL; on SQLite an explicit BEGIN (the sqlite3 driver does not begin a transaction for a
  SELECT, so each query would otherwise see a different state), WAL letting the app write on.
  Rows are streamed (a server-side cursor, a batch at a time) into a temporary file per table, which
  is then streamed into the tar: nothing holds a whole table in memory.
- The search index is exported through the chromadb client (not by copying the embedded folder), so
  an embedded index and a Chroma server (`CHROMA_URL`) back up and restore into each other. It is
  read after the database snapshot and cannot be part of it; restore reconciles the two: chunks of a
  document the restored database does not have are skipped, and a document without chunks is
  indexed again (the catch-up of `assistant.documents.catchup`). When the index cannot be reached
  during a backup, the archive is written without it (a warning says so) and restore rebuilds the
  index from the documents' text. Ids, texts and metadata come back equal; embeddings to within
  float32 rounding (Chroma normalises a cosine-space vector as it is added, which can move an
  already normalised one by a unit in the last place).
- Not in the archive: the session-signing secret (`<data dir>/.auth_secret`: after a restore people
  sign in again), caches, the embedded Chroma folder (exported as above), older backups.
- The archive holds password hashes and financial papers: it is created readable by its owner only.
  It is written under a temporary name and renamed when complete, so a crash never leaves a partial
  archive with a name that looks complete; retention only ever deletes files of the archive name
  pattern.
- Restore (with the app stopped) changes nothing until the whole archive has been read, to the gzip
  trailer's CRC, and every member checked against the manifest (sha256, size, row counts; members
  are staged in a folder in the data dir, removed afterwards), and the target is known to be empty
  (no rows besides what the migrations insert, no stored files, no index chunks). `force` replaces a
  non-empty installation: its rows, stored files and index chunks are deleted first. The schema is
  created by the project's migrations at the archive's revision (a database already migrated, e.g. by
  `assistant db upgrade`, is moved there: it is empty), the rows are loaded in one transaction (a
  foreign key to a table not loaded yet, such as `documents.replaced_by_id` to its own table, is
  filled in by a second pass), PostgreSQL's sequences are set past the restored ids, and the schema
  is upgraded to the code's head.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time as _time
import warnings
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from uuid import UUID

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
    Time,
    bindparam,
    cast,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import SAWarning, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from assistant.db import create_engine, is_sqlite, session_factory
from assistant.documents.catchup import index_pending
from assistant.documents.index import COLLECTION, DocumentIndex
from assistant.graph import migrate
from assistant.graph.models import Document
from assistant.settings import Settings

FORMAT = "bill-assistant-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NAME_PATTERN = re.compile(r"^assistant-backup-\d{8}T\d{6}Z\.tar\.gz$")
ALEMBIC_TABLE = "alembic_version"
#: Rows a fresh migration inserts (migration 0002: the budget's lock row). A database holding only
#: these is empty; restore replaces them with the archive's.
SEEDED_BY_MIGRATIONS = frozenset({"budget_lock"})
#: Where the stored files live in the archive, and where they go back to.
FILE_AREAS: dict[str, Callable[[Settings], Path]] = {
    "documents": lambda s: s.documents_dir,
    "attachments": lambda s: s.attachments_dir,
}
BATCH = 500
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 256 << 20


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, for the person running it."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    deleted: list[Path] = field(default_factory=list)  # older archives removed by retention
    warnings: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    archive: Path
    revision: str  # the archive's schema revision
    upgraded_to: str | None  # the code's head, when newer than the archive's
    rows: int
    tables: int
    files: int
    chunks: int  # index chunks brought back from the archive
    reindexed: int  # documents indexed again from their text (their chunks were not in the archive)
    replaced: list[str] = field(default_factory=list)  # what --force deleted


# --- names, retention -----------------------------------------------------------------------------

def archive_name(at: datetime) -> str:
    return f"assistant-backup-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the oldest archives (files named like ours) in `directory` beyond the newest `keep`;
    0 keeps all. Returns what was deleted. The name's UTC time orders them."""
    if keep <= 0 or not directory.is_dir():
        return []
    archives = sorted(p for p in directory.iterdir() if NAME_PATTERN.match(p.name) and p.is_file())
    doomed = archives[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


# --- values ---------------------------------------------------------------------------------------

def encode_value(value: Any) -> Any:
    """A database value as JSON (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    raise BackupError(f"cannot write a database value of type {type(value).__name__}")


def _datetime_for(aware_column: bool) -> Callable[[str], datetime]:
    def decode(value: str) -> datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        return parsed if aware_column else parsed.replace(tzinfo=None)

    return decode


def _parsed_json(value: Any) -> Any:
    """A JSON column's value as archived (its JSON text; a list from a PostgreSQL array) -> Python."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:  # not JSON after all (written around the JSON type): kept, as a JSON string
        return value


def _json_value(value: Any) -> Any:
    parsed = _parsed_json(value)
    return JSON.NULL if parsed is None else parsed  # the JSON value null, not SQL NULL


def decoder_for(column: Any) -> Callable[[Any], Any] | None:
    """How an archived value becomes what the target column takes (None: as it is)."""
    kind = column.type
    if isinstance(kind, JSON):
        kind.none_as_null = True  # an archived null is SQL NULL; the JSON value null is JSON.NULL
        return _json_value
    if isinstance(kind, ARRAY):
        return _parsed_json
    if isinstance(kind, Boolean):
        return bool
    if isinstance(kind, DateTime):
        return _datetime_for(bool(kind.timezone))
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, Time):
        return time.fromisoformat
    if isinstance(kind, Integer):
        return int
    if isinstance(kind, Float):
        return float
    if isinstance(kind, Numeric):
        return lambda v: Decimal(str(v))
    if isinstance(kind, LargeBinary):
        return base64.b64decode
    return None


# --- database plumbing ----------------------------------------------------------------------------

def _engine(url: str) -> AsyncEngine:
    """An engine whose transactions are real transactions on SQLite too (SQLAlchemy's recipe: the
    driver's own BEGIN handling off, ours on), so a SELECT sees the snapshot its transaction began."""
    engine = create_engine(url)
    if is_sqlite(url):
        @event.listens_for(engine.sync_engine, "connect")
        def _no_driver_begin(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn) -> None:  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN")
    return engine


@contextlib.asynccontextmanager
async def _connected(url: str) -> AsyncIterator[AsyncEngine]:
    engine = _engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def _reflect(sync_conn) -> MetaData:
    metadata = MetaData()
    with warnings.catch_warnings():
        # SQLite's expression index (migration 0007) cannot be reflected; we need tables, not indexes
        warnings.simplefilter("ignore", SAWarning)
        metadata.reflect(sync_conn)
    return metadata


def _data_tables(metadata: MetaData) -> list[Table]:
    """Every table but Alembic's, parents before children."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # a foreign-key cycle: handled by deferred columns
        ordered = list(metadata.sorted_tables)
    return [t for t in ordered if t.name != ALEMBIC_TABLE]


async def _revision(conn: AsyncConnection) -> str | None:
    has = await conn.run_sync(lambda c: c.dialect.has_table(c, ALEMBIC_TABLE))
    if not has:
        return None
    versions = (await conn.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}"))).scalars().all()
    if len(versions) != 1:
        raise BackupError(f"the database has {len(versions)} schema revisions recorded; expected one")
    return versions[0]


def migration_scripts() -> ScriptDirectory:
    """The project's Alembic migrations (what revisions this code knows, and its head)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    return revision in {s.revision for s in scripts.walk_revisions()}


def _ancestors(scripts: ScriptDirectory, revision: str) -> set[str]:
    """`revision` and every revision before it."""
    return {s.revision for s in scripts.iterate_revisions(revision, "base")}


# --- members: hashing while streaming -------------------------------------------------------------

class _Hashing(io.RawIOBase):
    """Reads through to `inner`, counting and hashing what passes."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner, self.sha256, self.size = inner, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data


class _Member:
    """A member staged in an anonymous temporary file: written, then streamed into the tar."""

    def __init__(self, directory: Path) -> None:
        self.file = tempfile.TemporaryFile(dir=directory)
        self.sha256, self.size, self.lines = hashlib.sha256(), 0, 0

    def write_line(self, obj: Any) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self.file.write(data)
        self.sha256.update(data)
        self.size += len(data)
        self.lines += 1


class _ArchiveWriter:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, dict[str, Any]] = {}

    def _info(self, name: str, size: int, mtime: float | None = None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, int(mtime if mtime is not None else _time.time())
        return info

    def add_staged(self, name: str, member: _Member) -> None:
        member.file.seek(0)
        self.tar.addfile(self._info(name, member.size), member.file)
        member.file.close()
        self.members[name] = {"size": member.size, "sha256": member.sha256.hexdigest()}

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as fh:
            stat = os.fstat(fh.fileno())  # the opened file: a replaced file is read consistently
            reader = _Hashing(fh)
            self.tar.addfile(self._info(name, stat.st_size, stat.st_mtime), reader)
        self.members[name] = {"size": reader.size, "sha256": reader.sha256.hexdigest()}

    def add_bytes(self, name: str, data: bytes) -> None:
        self.tar.addfile(self._info(name, len(data)), io.BytesIO(data))


def _stored_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of the regular files under `root`, in a stable order; dotfiles are
    the stores' temporary files, mid-write, and stay out."""
    if not root.is_dir():
        return
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path


# --- backup ---------------------------------------------------------------------------------------

async def _export_database(url: str, writer: _ArchiveWriter, staging: Path) -> dict[str, Any]:
    """Every table into `db/<table>.jsonl`, all read in one snapshot; returns the manifest's part."""
    async with _connected(url) as engine, engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            revision = await _revision(conn)
            if revision is None:
                raise BackupError("the database has no schema yet (run `assistant db upgrade`): nothing to back up")
            metadata = await conn.run_sync(_reflect)
            tables = []
            for table in _data_tables(metadata):
                member = _Member(staging)
                # JSON columns as their JSON text: SQL NULL and the JSON value null stay apart
                selected = [cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in table.columns]
                query = select(*selected).order_by(*table.primary_key.columns)  # a stable order, for diffs
                result = await conn.stream(query.execution_options(yield_per=BATCH))
                names = [c.name for c in table.columns]
                async for row in result:
                    member.write_line({n: encode_value(v) for n, v in zip(names, row)})
                writer.add_staged(f"db/{table.name}.jsonl", member)
                tables.append({"name": table.name, "rows": member.lines,
                               "columns": {c.name: c.type.compile(dialect=conn.dialect) for c in table.columns}})
            return {"alembic_revision": revision, "source_dialect": conn.dialect.name, "tables": tables}


def _stage_index(collection: Any, staging: Path) -> _Member:
    """The collection's records (id, text, metadata, embedding), a page at a time, into a staged member."""
    member = _Member(staging)
    try:
        offset = 0
        while ids := (page := collection.get(include=["documents", "metadatas", "embeddings"], limit=BATCH,
                                             offset=offset))["ids"]:
            embeddings = page["embeddings"]
            for i, record_id in enumerate(ids):
                vector = embeddings[i] if embeddings is not None else None
                member.write_line({"id": record_id, "document": page["documents"][i],
                                   "metadata": page["metadatas"][i],
                                   "embedding": vector.tolist() if hasattr(vector, "tolist") else vector})
            offset += len(ids)
    except BaseException:
        member.file.close()
        raise
    return member


async def _open_index(settings: Settings) -> Any:
    """The collection the app uses, opened the way the app opens it (`DocumentIndex`)."""
    return await DocumentIndex(settings, chroma_url=settings.chroma_url)._get()


def _app_version() -> str:
    try:
        return version("bill-assistant")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        return "unknown"


async def create_backup(settings: Settings, output: Path | None = None, keep: int | None = None) -> BackupResult:
    """Write one archive of the installation into `output` (default BACKUP_DIR), then keep the newest
    `keep` (default BACKUP_KEEP; 0 keeps all)."""
    directory = (output or settings.backup_dir).resolve()
    keep = settings.backup_keep if keep is None else keep
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    while (directory / archive_name(now)).exists():  # one archive per second: wait for a free name
        await asyncio.sleep(1.0 - now.microsecond / 1e6 + 0.01)
        now = datetime.now(UTC)
    final = directory / archive_name(now)
    partial = directory / f".{final.name}.partial"
    manifest: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                                "created_at": now.isoformat().replace("+00:00", "Z"), "app_version": _app_version()}
    notes: list[str] = []
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"another backup is being written to {partial}") from None
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
                writer = _ArchiveWriter(tar)
                try:
                    manifest.update(await _export_database(settings.database_url, writer, directory))
                except (SQLAlchemyError, ConnectionError) as exc:
                    raise BackupError(f"the database cannot be read ({type(exc).__name__}: {exc})") from None
                try:  # only reading the index may fail here: a failed write must fail the backup
                    staged_index = await asyncio.to_thread(_stage_index, await _open_index(settings), directory)
                except Exception as exc:  # the index is derived data: the archive is still worth having
                    staged_index = None
                    notes.append(f"the search index could not be read ({type(exc).__name__}: {exc}); the archive "
                                 "holds no index, and restoring it rebuilds the index from the documents")
                manifest["chroma"] = None
                if staged_index is not None:
                    manifest["chroma"] = {"collection": COLLECTION, "records": staged_index.lines,
                                          "member": "chroma/documents.jsonl"}
                    writer.add_staged("chroma/documents.jsonl", staged_index)
                counts = {}
                for area, where in FILE_AREAS.items():
                    counts[area] = 0
                    for relative, path in _stored_files(where(settings)):
                        try:
                            writer.add_file(f"files/{area}/{relative}", path)
                        except FileNotFoundError:  # deleted since it was listed (an attachment removed)
                            continue
                        counts[area] += 1
                manifest["files"] = counts
                manifest["members"] = writer.members
                writer.add_bytes(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, final)
        _fsync_directory(directory)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(final, manifest, prune(directory, keep), notes)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform or filesystem allows it
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- restore: reading and checking the archive ----------------------------------------------------

def _member_path(name: str) -> PurePosixPath:
    """A member's name as a safe relative path under the staging folder, or refused."""
    path = PurePosixPath(name)
    if (path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts)
            or "\\" in name or "\x00" in name or path.parts[0] not in ("db", "chroma", "files")):
        raise BackupError(f"the archive holds an unexpected entry {name!r}: it is not one of our backups")
    return path


def _unpack(archive: Path, staging: Path) -> dict[str, Any]:
    """Every member into `staging`, each checked against the manifest; the manifest. Raises
    BackupError for anything but a complete, untouched archive of ours."""
    seen: dict[str, dict[str, Any]] = {}
    raw_manifest = None
    try:
        with gzip.open(archive, "rb") as compressed:
            with tarfile.open(fileobj=compressed, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        raise BackupError(f"the archive holds an unexpected entry {member.name!r} (not a file)")
                    source = tar.extractfile(member)
                    if member.name == MANIFEST:
                        if raw_manifest is not None or member.size > MAX_MANIFEST_BYTES:
                            raise BackupError("the archive's manifest is not ours")
                        raw_manifest = source.read()
                        continue
                    relative = _member_path(member.name)
                    if member.name in seen:
                        raise BackupError(f"the archive holds {member.name!r} twice")
                    target = staging.joinpath(*relative.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    reader = _Hashing(source)
                    with target.open("xb") as out:
                        shutil.copyfileobj(reader, out, CHUNK)
                    seen[member.name] = {"size": reader.size, "sha256": reader.sha256.hexdigest()}
            while compressed.read(CHUNK):  # to the end, where gzip checks its CRC and length
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(f"{archive} is damaged or not a backup archive ({type(exc).__name__}: {exc}); "
                          "nothing was restored") from None
    if raw_manifest is None:
        raise BackupError(f"{archive} has no manifest.json: it is not a complete backup archive; nothing was restored")
    try:
        manifest = json.loads(raw_manifest)
    except ValueError:
        raise BackupError(f"{archive}'s manifest.json is damaged; nothing was restored") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is not a bill-assistant backup; nothing was restored")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{archive} is backup format {manifest.get('format_version')!r}; this version of the "
                          f"assistant reads format {FORMAT_VERSION} (use the version that wrote it)")
    expected = manifest.get("members") or {}
    problems = [f"{name} is missing" for name in sorted(set(expected) - set(seen))]
    problems += [f"{name} is not in the manifest" for name in sorted(set(seen) - set(expected))]
    problems += [f"{name} does not match its checksum" for name in sorted(set(seen) & set(expected))
                 if seen[name] != {"size": expected[name].get("size"), "sha256": expected[name].get("sha256")}]
    for table in manifest.get("tables", []):
        member = f"db/{table['name']}.jsonl"
        if member in seen and _count_lines(staging / "db" / f"{table['name']}.jsonl") != table["rows"]:
            problems.append(f"{member} does not hold the {table['rows']} rows the manifest lists")
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise BackupError(f"{archive} failed its checks: {shown}. It is damaged or was altered; nothing was restored")
    return manifest


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            yield json.loads(line)


def _batches(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- restore: the target --------------------------------------------------------------------------

async def _contents(engine: AsyncEngine) -> tuple[str | None, MetaData, dict[str, int]]:
    """The target database's revision, tables and their row counts (only tables holding rows; rows a
    fresh migration inserts do not count)."""
    async with engine.connect() as conn, conn.begin():
        revision = await _revision(conn)
        metadata = await conn.run_sync(_reflect)
        counts = {}
        for table in _data_tables(metadata):
            if table.name in SEEDED_BY_MIGRATIONS and revision is not None:
                continue
            n = await conn.scalar(select(func.count()).select_from(table))
            if n:
                counts[table.name] = n
    return revision, metadata, counts


def _clear_index(collection: Any) -> None:
    while ids := collection.get(limit=BATCH, include=[])["ids"]:
        collection.delete(ids=ids)


def _files_in(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


async def _wipe_database(engine: AsyncEngine, metadata: MetaData) -> None:
    async with engine.begin() as conn:
        for table in reversed(_data_tables(metadata)):
            await conn.execute(delete(table))


# --- restore: loading -----------------------------------------------------------------------------

def _deferred_columns(table: Table, position: dict[str, int]) -> list[str]:
    """Foreign-key columns pointing at this table itself or at one loaded after it: inserted empty,
    filled in once every row is in."""
    mine = position[table.name]
    return sorted({fk.parent.name for fk in table.foreign_keys
                   if position.get(fk.column.table.name, -1) >= mine})


async def _load(url: str, staging: Path, manifest: dict[str, Any]) -> int:
    """Every table's rows, in one transaction; returns the number of rows."""
    archived = {t["name"]: t for t in manifest["tables"]}
    total = 0
    async with _connected(url) as engine, engine.begin() as conn:
        metadata = await conn.run_sync(_reflect)
        tables = [t for t in _data_tables(metadata) if t.name in archived]
        missing = sorted(set(archived) - {t.name for t in tables})
        if missing:
            raise BackupError(f"the restored schema has no table {', '.join(missing)}: the archive does not "
                              "match this version's migrations")
        for table in tables:
            unknown = set(archived[table.name]["columns"]) - {c.name for c in table.columns}
            if unknown:
                raise BackupError(f"table {table.name} has no column {', '.join(sorted(unknown))} at revision "
                                  f"{manifest['alembic_revision']}: the archive does not match the migrations")
        for table in reversed(tables):  # what the migrations inserted makes way for the archive's rows
            await conn.execute(delete(table))
        position = {t.name: i for i, t in enumerate(tables)}
        for table in tables:
            columns = list(archived[table.name]["columns"])
            decoders = {c: decoder_for(table.c[c]) for c in columns}
            deferred = _deferred_columns(table, position)
            path = staging / "db" / f"{table.name}.jsonl"
            for batch in _batches(_read_lines(path)):
                rows = [{**_decoded(line, columns, decoders), **dict.fromkeys(deferred)} for line in batch]
                await conn.execute(table.insert(), rows)
            if deferred:
                await _fill_deferred(conn, table, deferred, path, decoders)
            total += archived[table.name]["rows"]
            count = await conn.scalar(select(func.count()).select_from(table))
            if count != archived[table.name]["rows"]:
                raise BackupError(f"table {table.name}: {count} rows loaded, the archive lists "
                                  f"{archived[table.name]['rows']}")
        if conn.dialect.name == "postgresql":
            await _reset_sequences(conn, tables)
    return total


def _decoded(line: dict[str, Any], names: list[str], decoders: dict[str, Callable[[Any], Any] | None]
             ) -> dict[str, Any]:
    out = {}
    for name in names:
        value, decode = line.get(name), decoders[name]
        out[name] = decode(value) if value is not None and decode is not None else value
    return out


async def _fill_deferred(conn: AsyncConnection, table: Table, deferred: list[str], path: Path,
                         decoders: dict[str, Callable[[Any], Any] | None]) -> None:
    keys = [c.name for c in table.primary_key.columns]
    if not keys:
        raise BackupError(f"table {table.name} refers to itself but has no primary key to restore it by")
    statement = (update(table).where(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
                 .values({c: bindparam(f"value_{c}") for c in deferred}))
    for batch in _batches(_read_lines(path)):
        rows = []
        for line in batch:
            if all(line.get(c) is None for c in deferred):
                continue
            row = _decoded(line, keys + deferred, decoders)
            rows.append({**{f"key_{k}": row[k] for k in keys}, **{f"value_{c}": row[c] for c in deferred}})
        if rows:
            await conn.execute(statement, rows)


async def _reset_sequences(conn: AsyncConnection, tables: list[Table]) -> None:
    """Each serial/identity column's sequence to one past the largest restored value, so the next
    insert does not collide with a restored id."""
    preparer = conn.dialect.identifier_preparer
    for table in tables:
        for column in table.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = await conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                         {"t": preparer.format_table(table), "c": column.name})
            if sequence is None:
                continue
            top = await conn.scalar(select(func.max(column)))
            await conn.execute(text("SELECT setval(CAST(:s AS text)::regclass, :v, false)"),
                               {"s": sequence, "v": (top or 0) + 1})


def _restore_index(collection: Any, path: Path, documents: set[tuple[str, Any]]) -> set[tuple[str, Any]]:
    """The archive's chunks of documents the database has; returns those documents' keys."""
    indexed: set[tuple[str, Any]] = set()
    for batch in _batches(_read_lines(path)):
        kept = [r for r in batch if _document_key(r.get("metadata")) in documents]
        if kept:
            collection.upsert(ids=[r["id"] for r in kept], documents=[r["document"] for r in kept],
                              metadatas=[r["metadata"] for r in kept], embeddings=[r["embedding"] for r in kept])
            indexed.update(_document_key(r["metadata"]) for r in kept)
    return indexed


def _document_key(metadata: dict[str, Any] | None) -> tuple[str, Any] | None:
    if not metadata:
        return None
    return str(metadata.get("owner_id")), str(metadata.get("document_id"))


async def _reindex_missing(settings: Settings, index: Any, indexed: set[tuple[str, Any]]) -> int:
    """Documents marked indexed whose chunks were not in the archive are indexed again from their text."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            rows = (await session.execute(select(Document.id, Document.owner_id).where(
                Document.indexed_at.is_not(None), func.length(Document.text) > 0))).all()
            stale = [doc_id for doc_id, owner in rows if (str(owner), str(doc_id)) not in indexed]
            for batch in _batches(stale):
                await session.execute(update(Document).where(Document.id.in_(batch)).values(indexed_at=None))
        done = 0
        while batch_done := await index_pending(index, sessions, None, limit=100):
            done += batch_done
        return done
    finally:
        await engine.dispose()


async def _document_keys(url: str) -> set[tuple[str, Any]]:
    async with _connected(url) as engine, engine.connect() as conn:
        metadata = MetaData()
        documents = await conn.run_sync(lambda c: Table("documents", metadata, autoload_with=c))
        result = await conn.execute(select(documents.c.owner_id, documents.c.id))
        return {(str(owner), str(doc_id)) for owner, doc_id in result}


# --- restore --------------------------------------------------------------------------------------

def _refuse_unless_forced(held: list[str], force: bool) -> None:
    if held and not force:
        raise BackupError("the installation is not empty (" + "; ".join(held[:6])
                          + (", ..." if len(held) > 6 else "") + "): restore goes into an empty installation "
                          "(a new database and data dir), or use --force to replace what is there; "
                          "nothing was restored")


async def restore_backup(settings: Settings, archive: Path, force: bool = False) -> RestoreResult:
    """Bring `archive` back into this installation (its DATABASE_URL, data dir and index), which must
    be empty unless `force` (then what it holds is deleted first). See the module docstring."""
    archive = archive.resolve()
    if not archive.is_file():
        raise BackupError(f"no archive at {archive}")
    data_dir = settings.data_dir.resolve()
    made_data_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    try:
        manifest = await asyncio.to_thread(_unpack, archive, staging)
        scripts = migration_scripts()
        revision = manifest["alembic_revision"]
        if not _known(scripts, revision):
            raise BackupError(f"the archive's database is at schema revision {revision}, which this version of the "
                              "assistant does not know (it was written by a newer version): upgrade the assistant, "
                              "then restore")
        head = scripts.get_current_head()

        # what the target holds; nothing is changed before every check has passed
        url = settings.database_url
        try:
            async with _connected(url) as engine:
                current, metadata, rows = await _contents(engine)
        except (SQLAlchemyError, ConnectionError) as exc:
            raise BackupError(f"the database cannot be read ({type(exc).__name__}: {exc}); nothing was restored"
                              ) from None
        if current is not None and not _known(scripts, current):
            raise BackupError(f"the target database is at schema revision {current}, which this version of the "
                              "assistant does not know; nothing was restored")
        held = [f"{n} row(s) in {t}" for t, n in rows.items()]
        held += [f"{n} file(s) in {where(settings)}" for where in FILE_AREAS.values()
                 if (n := _files_in(where(settings)))]
        _refuse_unless_forced(held, force)
        index = DocumentIndex(settings, chroma_url=settings.chroma_url)
        try:
            collection = await index._get()  # opened as the app opens it (created if missing)
            chunks_there = await asyncio.to_thread(collection.count)
        except Exception as exc:
            raise BackupError(f"the search index cannot be reached ({type(exc).__name__}: {exc}); start it "
                              "(or check CHROMA_URL) and restore again; nothing was restored") from None
        if chunks_there:
            held.append(f"{chunks_there} chunk(s) in the search index")
            _refuse_unless_forced(held, force)

        if held:  # forced: what is there goes
            if rows:
                async with _connected(url) as engine:
                    await _wipe_database(engine, metadata)
            for where in FILE_AREAS.values():
                shutil.rmtree(where(settings), ignore_errors=True)
            if chunks_there:
                await asyncio.to_thread(_clear_index, collection)

        # the schema at the archive's revision, the rows, then the code's schema
        if current is None or current in _ancestors(scripts, revision):
            await migrate.upgrade(url, revision)
        else:
            await migrate.downgrade(url, revision)
        loaded = await _load(url, staging, manifest)
        upgraded = None
        if revision != head:
            await migrate.upgrade(url, "head")
            upgraded = head

        # the files, moved into place from the staging folder
        files = 0
        for area, where in FILE_AREAS.items():
            staged, target = staging / "files" / area, where(settings)
            if not staged.is_dir():
                continue
            files += _files_in(staged)
            if target.exists():
                shutil.rmtree(target)  # holds no file: checked above (or emptied by --force)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)

        # the index: the archive's chunks, then whatever they do not cover, from the documents' text
        chunks, indexed = 0, set()
        staged_index = staging / "chroma" / "documents.jsonl"
        if manifest.get("chroma") and staged_index.is_file():
            documents = await _document_keys(url)
            indexed = await asyncio.to_thread(_restore_index, collection, staged_index, documents)
            chunks = await asyncio.to_thread(collection.count)
        reindexed = await _reindex_missing(settings, index, indexed)
        return RestoreResult(archive=archive, revision=revision, upgraded_to=upgraded, rows=loaded,
                             tables=len(manifest["tables"]), files=files, chunks=chunks, reindexed=reindexed,
                             replaced=held)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if made_data_dir and not any(data_dir.iterdir()):
            data_dir.rmdir()

"""Engines and sessions: one async engine per database URL, SQLite tuned for concurrent use; and how to
tell "the database server cannot be reached" from any other failure (`unreachable`).
"""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs) -> AsyncEngine:
    """An engine for `url`; on SQLite, foreign keys on, WAL, and a busy timeout."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


#: A pooled connection unused for this long is checked before it is lent (see `_ping_when_idle`).
IDLE_PING_S = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before lending it, if it sat unused for `IDLE_PING_S` or more.

    SQLAlchemy's `pool_pre_ping` checks every time, with three round trips on asyncpg (BEGIN, a query,
    ROLLBACK); a turn borrows a connection ~20 times (its queries, its chat history), and under load
    (benchmarks/load_chat.py) checking only idle ones took the database transactions per turn from 22.5
    to 11.5. A connection lent again within a second was working a second ago. One that sat idle through a database restart is found dead here and
    replaced (raising `DisconnectionError` makes the pool discard it and take another). A restart
    shorter than `IDLE_PING_S` can still hand a turn a dead connection: that turn says the database
    was unreachable (`DatabaseUnavailable`), SQLAlchemy discards every connection older than the
    failure, and the next turn works."""
    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _lent(dbapi_connection, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("a pooled connection no longer answers") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


class DatabaseUnavailable(Exception):
    """The database server could not be reached (stopped, restarting, network gone): the turn stops and
    the user is told so (`agent.py`); the app serves again once it is back, with no restart, because the
    engine's pool checks a connection that sat idle before lending it (`_ping_when_idle`)."""


def unreachable(exc: BaseException | None) -> bool:
    """True when `exc` says the database server is gone: a refused or reset connection, a connection
    SQLAlchemy invalidated, or PostgreSQL shutting down, crashed or still starting up. A failed
    statement on a live server (a constraint, SQLite's "database is locked", a bug) is not that: it
    stays an ordinary error.

    The causes of SQLAlchemy's and asyncpg's own errors are looked into (they wrap the driver's), no
    other library's: a model vendor's or the search index's connection error (httpx, wrapping an
    `OSError` of its own) is not the database's.
    """
    try:
        from asyncpg import exceptions as pg
        gone: tuple[type[BaseException], ...] = (pg.PostgresConnectionError, pg.CannotConnectNowError,
                                                 pg.AdminShutdownError, pg.CrashShutdownError)
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        gone = ()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionError | DatabaseUnavailable) or (gone and isinstance(exc, gone)):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if not type(exc).__module__.startswith(("sqlalchemy", "asyncpg")):
            return False
        exc = exc.__cause__ or exc.__context__
    return False

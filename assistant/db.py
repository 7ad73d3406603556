"""Engines and sessions: one async engine per database URL, SQLite tuned for concurrent use; and how to
tell "the database server cannot be reached" from any other failure (`unreachable`).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
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
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


class DatabaseUnavailable(Exception):
    """The database server could not be reached (stopped, restarting, network gone): the turn stops and
    the user is told so (`agent.py`); the app serves again once it is back, with no restart, because the
    engine's pool checks a connection before lending it (`pool_pre_ping`)."""


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

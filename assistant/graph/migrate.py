"""Run Alembic migrations programmatically (the CLI's `assistant db upgrade`, the app, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from assistant import PROJECT_ROOT
from assistant.db import create_engine

MIGRATIONS = PROJECT_ROOT / "assistant" / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
    await _migrate(url, "upgrade", revision)


async def downgrade(url: str, revision: str) -> None:
    await _migrate(url, "downgrade", revision)


async def _migrate(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, action, revision)
    finally:
        await engine.dispose()


def _run(connection, action: str, revision: str) -> None:
    cfg = _config()
    cfg.attributes["connection"] = connection
    getattr(command, action)(cfg, revision)

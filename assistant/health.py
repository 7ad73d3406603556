"""Liveness and readiness.

- live: the process answers (nothing else is checked: a restart would not fix a database outage).
- ready: the database answers `SELECT 1`, the search index opens (and a Chroma server answers its
  heartbeat), and at least one model provider is offered (the offline one counts). Each check has a
  5-second limit; a failing check gives its error's type, never a message that could carry a secret.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

CHECK_TIMEOUT_S = 5


async def _check(coro) -> dict[str, Any]:
    try:
        await asyncio.wait_for(coro, CHECK_TIMEOUT_S)
        return {"ok": True}
    except Exception as exc:  # whatever it is, the check failed: say which kind of failure
        return {"ok": False, "error": type(exc).__name__}


async def _database(services) -> None:
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def readiness(services) -> tuple[bool, dict[str, Any]]:
    checks = {"database": await _check(_database(services))}
    if services.index is not None:
        checks["search_index"] = await _check(services.index.ping())
    offered = list(services.providers.offered)
    checks["providers"] = {"ok": bool(offered), "offered": offered}
    return all(c["ok"] for c in checks.values()), checks

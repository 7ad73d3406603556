"""Shared fixtures: a fresh database on SQLite and on the real PostgreSQL server, and a live app.

PostgreSQL is never skipped: if `TEST_POSTGRES_URL` (default: the local server) cannot be reached,
the PostgreSQL variants fail. `.ci/run` starts a server when none is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from assistant import PROJECT_ROOT
from assistant.graph.migrate import upgrade
from assistant.service import Services, build_services
from assistant.settings import Settings

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def create_pg_database() -> str:
    import asyncpg

    name = f"assistant_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = make_url(url).database
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path) -> AsyncIterator[str]:
    """An empty database of each kind, migrated to head."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
        await upgrade(url)
        yield url
    else:
        url = await create_pg_database()
        try:
            await upgrade(url)
            yield url
        finally:
            await drop_pg_database(url)


def make_settings(tmp_path: Path, database_url: str, **overrides) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, environment="test",
                    users="", **overrides)


@pytest.fixture
async def services(database_url, tmp_path) -> AsyncIterator[Services]:
    svc = build_services(make_settings(tmp_path, database_url))
    try:
        yield svc
    finally:
        await svc.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chroma_running(port: int, data: Path) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on `port`, storing under `data`; its URL while it runs."""
    chroma = Path(sys.executable).parent / "chroma"
    data.mkdir(parents=True, exist_ok=True)
    log = (data / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([str(chroma), "run", "--path", str(data / "db"), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited ({proc.returncode}): "
                                   + (data / "server.log").read_text(errors="replace")[-2000:])
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chroma run did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    database_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data_dir: Path, database_url: str, users: str = "alice:wonderland,bob:builder",
                 extra_env: dict[str, str] | None = None) -> LiveServer:
    """`assistant serve` in a subprocess on a free port; returns once it answers HTTP."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
           "ASSISTANT_USERS": users, "CHAINLIT_AUTH_SECRET": "test-secret-" + "x" * 40,
           "ENVIRONMENT": "test", **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=PROJECT_ROOT, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, database_url, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(server.url + "/project/settings", timeout=1).status_code < 500:
                # the settings route answers once Chainlit is up; our startup hook seeds users
                if "app ready" in server.log():
                    return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.log()}")


@contextlib.contextmanager
def served(kind: str, base: Path) -> Iterator[LiveServer]:
    """The real app on a fresh database of `kind` ("sqlite" or "postgresql"), data under `base`."""
    url = (f"sqlite+aiosqlite:///{base / 'data' / 'assistant.db'}" if kind == "sqlite"
           else asyncio.run(create_pg_database()))
    try:
        server = start_server(base / "data", url)
        try:
            yield server
        finally:
            server.stop()
    finally:
        if kind != "sqlite":
            asyncio.run(drop_pg_database(url))


@pytest.fixture(params=["sqlite", "postgresql"])
def live_server(request, tmp_path) -> Iterator[LiveServer]:
    """The real app, served on SQLite and on PostgreSQL."""
    with served(request.param, tmp_path) as server:
        yield server

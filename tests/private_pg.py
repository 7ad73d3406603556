"""A private PostgreSQL cluster that a test may stop and start (the shared server on :5432 must never be).

`initdb` into a fresh temporary directory (trust auth), served on a free port on 127.0.0.1 with its
socket in the same directory. PostgreSQL refuses to run as root, so when the tests run as root every
`initdb`/`pg_ctl` runs as the `postgres` OS user (which the Debian package creates), with the directory
handed to it; as any other user they run as that user. The directory is made with `tempfile.mkdtemp`
in the system temp dir, not under pytest's `tmp_path`: that one is private to the user running the
tests (mode 0700), so `postgres` could not reach it.

`stop("immediate")` is a crash-like stop (every backend killed, no checkpoint: the next start runs
crash recovery); `stop("fast")` is an orderly shutdown that ends open sessions with an error. `start()`
brings the same cluster back on the same port and data directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
                           "(scripts/test-services.sh installs them)")
    return Path(found[-1]).parent


class PrivateCluster:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False)

    async def create_database(self) -> str:
        """A new empty database on this cluster; its SQLAlchemy URL (the app migrates it when it starts)."""
        import asyncpg

        name = f"outage_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.database_url(name)

    def start(self) -> None:
        """Start (or start again) on the same port and data directory; returns once it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server ("immediate": like a crash; "fast": an orderly shutdown); returns once it is gone."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

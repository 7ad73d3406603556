"""Local-disk storage for chat attachments, so they survive a restart.

Chainlit's data layer names objects `<user id>/<element id>/<file name>`; we keep them under
`<data dir>/attachments/` and serve them at `/attachments/<key>` to their owner only (see
`routes.py`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chainlit.data.storage_clients.base import BaseStorageClient

URL_PREFIX = "/attachments"


class UnsafeKey(ValueError):
    pass


class LocalStorage(BaseStorageClient):
    def __init__(self, root: Path):
        self.root = root.resolve()

    def path_for(self, object_key: str) -> Path:
        parts = [p for p in object_key.split("/") if p]
        if not parts or any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            raise UnsafeKey(object_key)
        path = self.root.joinpath(*parts).resolve()
        if self.root not in path.parents:
            raise UnsafeKey(object_key)
        return path

    async def upload_file(self, object_key: str, data: bytes | str, mime: str = "application/octet-stream",
                          overwrite: bool = True, content_disposition: str | None = None) -> dict[str, Any]:
        path = self.path_for(object_key)
        payload = data.encode() if isinstance(data, str) else data

        def write() -> None:
            if path.exists() and not overwrite:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(payload)
            tmp.replace(path)

        await asyncio.to_thread(write)
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        path = self.path_for(object_key)
        await asyncio.to_thread(path.unlink, True)
        return True

    async def get_read_url(self, object_key: str) -> str:
        return f"{URL_PREFIX}/{quote(object_key)}"

    async def close(self) -> None:
        return None

"""Originals stored content-addressed under the data dir: `documents/ab/abcdef...`."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path


def path_for(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def _write(root: Path, sha256: str, data: bytes) -> Path:
    target = path_for(root, sha256)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


async def save(root: Path, sha256: str, data: bytes) -> Path:
    return await asyncio.to_thread(_write, root, sha256, data)

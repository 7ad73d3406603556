"""Accounts: seeding users from settings, password checks (bcrypt)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import bcrypt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assistant.graph.models import User

# A hash to compare against when the user does not exist, so a wrong name costs the same time.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=10))


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def _as_hash(secret: str) -> str:
    return secret if secret.startswith("$2") else hash_password(secret)


async def get_user(session: AsyncSession, identifier: str) -> User | None:
    return await session.scalar(select(User).where(User.identifier == identifier))


async def ensure_user(session: AsyncSession, identifier: str, password_hash: str | None = None) -> User:
    """The user called `identifier`, created if missing (same row shape Chainlit writes)."""
    user = await get_user(session, identifier)
    if user is None:
        user = User(
            id=str(uuid.uuid4()),
            identifier=identifier,
            created_at=datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
            meta={},
            password_hash=password_hash,
        )
        session.add(user)
        await session.flush()
    elif password_hash is not None:
        user.password_hash = password_hash
    return user


async def seed_users(sessions: async_sessionmaker, entries: list[tuple[str, str]]) -> None:
    """Create or update the users named in settings. Plain passwords are hashed here."""
    async with sessions() as session, session.begin():
        for name, secret in entries:
            user = await get_user(session, name)
            if user is not None and user.password_hash and not secret.startswith("$2"):
                ok = await asyncio.to_thread(bcrypt.checkpw, secret.encode(), user.password_hash.encode())
                if ok:
                    continue  # unchanged: keep the stored hash, skip the costly re-hash
            await ensure_user(session, name, await asyncio.to_thread(_as_hash, secret))


async def authenticate(sessions: async_sessionmaker, identifier: str, password: str) -> User | None:
    async with sessions() as session:
        user = await get_user(session, identifier)
    stored = user.password_hash.encode() if user and user.password_hash else _DUMMY_HASH
    ok = await asyncio.to_thread(bcrypt.checkpw, password.encode(), stored)
    return user if ok and user is not None and user.password_hash else None

"""A sign-in lasts SESSION_TIMEOUT seconds: then HTTP routes refuse the token, a new chat connection is
refused, and an open chat does nothing more (a message or a Confirm button) until the person signs in
again. The real app, its real sign-in tokens, a real wait past the expiry."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import jwt
import pytest
import socketio

from tests.conftest import start_server
from tests.factories import bill_text
from tests.web.chat_client import ChatClient
from tests.web.conftest import count

TIMEOUT = 6


@pytest.fixture
def server(tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}"
    live = start_server(tmp_path / "data", db, extra_env={"SESSION_TIMEOUT": str(TIMEOUT)})
    try:
        yield live
    finally:
        live.stop()


async def test_a_sign_in_expires_after_session_timeout(server):
    db = server.database_url
    async with ChatClient(server.url, "alice", "wonderland") as chat:
        claims = jwt.decode(chat.token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == pytest.approx(TIMEOUT, abs=1)
        turn = await chat.send("What's due this week?")
        assert "expired" not in turn.text
        assert (await chat.http.get("/calendar.ics")).status_code == 200

        await asyncio.sleep(max(0.0, claims["exp"] - time.time()) + 1.5)

        # the open chat: a pasted bill is not filed, the person is told why
        turn = await chat.send(bill_text("City Water", "45.10", date(2026, 12, 10)))
        assert "sign-in has expired" in turn.text, turn.text
        assert await count(db, "commitments") == 0
        # HTTP routes: our own and Chainlit's
        assert (await chat.http.get("/calendar.ics")).status_code == 401
        assert (await chat.http.post("/project/threads", json={"pagination": {"first": 5, "cursor": None},
                                                                "filter": {}})).status_code == 401
        # a new connection with the old token
        with pytest.raises(socketio.exceptions.ConnectionError):  # the server refuses the handshake
            await chat.connect()

    # signing in again works at once
    async with ChatClient(server.url, "alice", "wonderland") as chat:
        turn = await chat.send(bill_text("City Water", "45.10", date(2026, 12, 10)))
        assert "expired" not in turn.text
        assert await count(db, "commitments") == 1

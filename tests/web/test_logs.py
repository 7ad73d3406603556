"""What the app writes to its log (`ENVIRONMENT=production`: JSON lines): never an API key, a password
or a bill's text, even when a vendor fails, a bill is filed and a user signs in with a wrong password."""

from __future__ import annotations

import json

import httpx

from tests.conftest import start_server
from tests.fakes import Reply
from tests.web.chat_client import ChatClient

KEY = "sk-log-test-SECRET-5551234"
PASSWORD = "correct-horse-battery-staple"
BILL = ("Quillfeather Utilities\nInvoice number: QF-99871\nAccount number: ZX-ACCT-424242\n"
        "Customer: Priscilla Vantablack, 77 Hidden Lane\nAmount due: $87.65\nDue date: 2026-12-09\n")


async def test_no_key_password_or_bill_text_in_the_log(tmp_path, fake_openai):
    server = start_server(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}",
                          users=f"alice:{PASSWORD}", extra_env={
                              "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake_openai.url}/v1",
                              "ASSISTANT_PROVIDERS": "openai,offline", "PROVIDER_MAX_RETRIES": "0",
                              "ENVIRONMENT": "production", "LOG_LEVEL": "DEBUG"})
    try:
        wrong = httpx.post(server.url + "/login", data={"username": "alice", "password": PASSWORD + "x"})
        assert wrong.status_code in (401, 403)
        async with ChatClient(server.url, "alice", PASSWORD) as chat:
            # the model files the pasted bill, then the vendor fails: the fallback answers
            fake_openai.script(Reply(tool_calls=[("add_bill", {"attachment_id": "paste-1"})], usage=(900, 20, 0)),
                               Reply(status=500), Reply(status=500))
            turn = await chat.send(BILL)
            assert "Answered by" in turn.text
    finally:
        server.stop()
    log = server.log()
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines, log[-2000:]
    for line in lines:
        json.loads(line)  # production logs are JSON lines
    for secret in (KEY, PASSWORD, "Priscilla", "Vantablack", "Hidden Lane", "ZX-ACCT-424242", "QF-99871"):
        assert secret not in log, secret

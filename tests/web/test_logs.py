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


async def test_each_turn_has_one_request_id_through_its_tool_and_provider_calls(tmp_path, fake_openai):
    server = start_server(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}",
                          users=f"alice:{PASSWORD}", extra_env={
                              "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake_openai.url}/v1",
                              "ASSISTANT_PROVIDERS": "openai", "ENVIRONMENT": "production",
                              "EXTRACTOR": "offline"})  # one model call per step, no extraction call
    try:
        async with ChatClient(server.url, "alice", PASSWORD) as chat:
            for text in (BILL, "what do I owe?"):
                fake_openai.script(Reply(tool_calls=[("find_bills", {})] if text != BILL else
                                         [("add_bill", {"attachment_id": "paste-1"})], usage=(900, 20, 0)),
                                   Reply(text="Done.", usage=(950, 5, 0)))
                await chat.send(text)
    finally:
        server.stop()
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    turns = [e for e in entries if e["msg"] == "turn"]
    assert len(turns) == 2 and turns[0]["request_id"] != turns[1]["request_id"], turns
    for turn, tool in zip(turns, ("add_bill", "find_bills")):
        rid = turn["request_id"]
        assert turn["turn_id"] == rid
        mine = [e for e in entries if e.get("request_id") == rid]
        assert [e["tool"] for e in mine if e["msg"] == "tool call"] == [tool], mine
        assert [e["provider"] for e in mine if e["msg"] == "provider call"] == ["openai", "openai"], mine
    # the vendor saw the same id on each of the turn's calls
    sent = [{k.lower(): v for k, v in r.headers.items()}.get("x-client-request-id") for r in fake_openai.requests]
    assert sent == [turns[0]["request_id"]] * 2 + [turns[1]["request_id"]] * 2, sent

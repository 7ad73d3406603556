"""A chat thread, its tool steps and an attached file round-trip through our data layer
(`assistant.web.history`) on SQLite and PostgreSQL, and survive a restart."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

import httpx

from tests.conftest import LiveServer, start_server
from tests.factories import bill_text
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, eventually, files_under, query, user_id

BILL = bill_text(vendor="Pacific Power", amount="120.50", due=date(2026, 12, 15)).encode()
ASK = "Please file this bill"


async def test_thread_with_tool_steps_and_attachment_round_trips(live_server: LiveServer):
    server = live_server
    db = server.database_url
    async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
        ref = await chat.upload("pacific-power.txt", BILL, "text/plain")
        turn = await chat.send(ASK, [ref])
    thread_id = chat.thread_id
    assert thread_id

    # What the user saw: the tool step, then one answer from the tool's result.
    assert [s["name"] for s in turn.tool_steps] == ["Filing the bill"]
    assert len(turn.texts) == 1, turn.names()
    assert "Filed a bill from **Pacific Power**: $120.50" in turn.text
    assert "due Tue 15 Dec 2026" in turn.text, turn.text

    alice = await user_id(db, "alice")
    bob = await user_id(db, "bob")

    # (a) The database: the thread, its steps and the element, as the data layer wrote them.
    async def thread_written():
        threads = await query(db, 'SELECT * FROM threads WHERE id = :id', id=thread_id)
        assert len(threads) == 1
        assert threads[0]["userId"] == alice
        assert threads[0]["userIdentifier"] == "alice"
        assert threads[0]["name"] == ASK
        return threads[0]

    await eventually(thread_written, what="the thread row")

    async def steps_written():
        steps = await query(db, 'SELECT * FROM steps WHERE "threadId" = :id ORDER BY "createdAt"', id=thread_id)
        by_type: dict[str, list[dict]] = {}
        for step in steps:
            by_type.setdefault(step["type"], []).append(step)
        assert [s["output"] for s in by_type.get("user_message", [])] == [ASK]
        assert len(by_type.get("tool", [])) == 1, steps
        assert len(by_type.get("assistant_message", [])) == 1, steps
        tool = by_type["tool"][0]
        assert tool["name"] == "Filing the bill"
        assert json.loads(tool["input"]) == {"attachment_id": "file-1"}
        assert tool["output"], "the tool step was saved without its output"
        result = json.loads(tool["output"])
        assert result["filed"] is True
        assert result["bill"]["vendor"] == "Pacific Power"
        assert result["bill"]["amount"] == "120.50"
        assert not tool["isError"]
        answer = by_type["assistant_message"][0]
        assert answer["output"] == turn.texts[0]
        # the order a resumed thread replays: question, tool, answer
        ids = [s["id"] for s in steps]
        user_step = by_type["user_message"][0]
        assert ids.index(user_step["id"]) < ids.index(tool["id"]) < ids.index(answer["id"])
        return user_step, tool, answer

    user_step, tool_step, answer_step = await eventually(steps_written, what="the steps")

    async def element_written():
        elements = await query(db, 'SELECT * FROM elements WHERE "threadId" = :id', id=thread_id)
        assert len(elements) == 1, elements
        element = elements[0]
        assert element["name"] == "pacific-power.txt"
        assert element["forId"] == user_step["id"]
        assert element["mime"] == "text/plain"
        assert element["objectKey"] == f"{alice}/{element['id']}/pacific-power.txt"
        return element

    element = await eventually(element_written, what="the element row")
    stored = server.data_dir / "attachments" / element["objectKey"]
    assert stored.read_bytes() == BILL

    # (b) Over HTTP, as the history sidebar and a resumed thread read it.
    async with ChatClient(server.url, "alice", USERS["alice"]) as alice_chat:
        listed = await alice_chat.threads()
        assert [t["id"] for t in listed] == [thread_id]
        assert listed[0]["name"] == ASK
        r = await alice_chat.thread(thread_id)
        assert r.status_code == 200
        thread = r.json()
        assert thread["userIdentifier"] == "alice"
        assert isinstance(thread["metadata"], dict)
        steps = {s["id"]: s for s in thread["steps"]}
        assert steps[user_step["id"]]["output"] == ASK
        assert steps[tool_step["id"]]["type"] == "tool"
        assert json.loads(steps[tool_step["id"]]["input"]) == {"attachment_id": "file-1"}
        assert json.loads(steps[tool_step["id"]]["output"])["filed"] is True
        assert steps[answer_step["id"]]["output"] == turn.texts[0]
        [shown] = thread["elements"]
        assert shown["id"] == element["id"]
        assert shown["objectKey"] == element["objectKey"]
        url = shown["url"]
        assert url.startswith("/attachments/"), url

        # (c) The attachment downloads for its owner only.
        got = await alice_chat.http.get(url)
        assert got.status_code == 200
        assert got.content == BILL

    async with ChatClient(server.url, "bob", USERS["bob"]) as bob_chat:
        assert (await bob_chat.http.get(url)).status_code == 404
        assert await bob_chat.threads() == []
        assert (await bob_chat.thread(thread_id)).status_code == 401  # chainlit's is_thread_author
        # bob may not even guess his way in by rewriting the owner part of the key
        assert (await bob_chat.http.get(url.replace(alice, bob))).status_code == 404
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get(url)).status_code in (401, 404)

    # (e) The bill itself was committed to the life graph.
    commitments = await query(
        db, "SELECT c.*, v.name AS vendor FROM commitments c JOIN vendors v ON v.id = c.vendor_id")
    assert len(commitments) == 1
    bill = commitments[0]
    assert bill["owner_id"] == alice
    assert bill["vendor"] == "Pacific Power"
    assert Decimal(str(bill["amount"])) == Decimal("120.50")
    assert bill["currency"] == "USD"
    assert str(bill["due_date"])[:10] == "2026-12-15"
    assert bill["status"] == "due"
    documents = await query(db, "SELECT * FROM documents WHERE id = :id", id=bill["document_id"])
    assert documents[0]["filename"] == "pacific-power.txt"
    assert documents[0]["owner_id"] == alice
    sha = hashlib.sha256(BILL).hexdigest()
    assert documents[0]["sha256"] == sha
    original = server.data_dir / "documents" / sha[:2] / sha
    assert files_under(server.data_dir / "documents") == [original]
    assert original.read_bytes() == BILL
    # the filed original downloads from the chat's link, for its owner only
    assert f"[original](/documents/{documents[0]['id']})" in turn.text
    async with ChatClient(server.url, "alice", USERS["alice"]) as owner:
        got = await owner.http.get(f"/documents/{documents[0]['id']}")
        assert got.status_code == 200 and got.content == BILL
        assert "pacific-power.txt" in got.headers["content-disposition"]
    async with ChatClient(server.url, "bob", USERS["bob"]) as other:
        assert (await other.http.get(f"/documents/{documents[0]['id']}")).status_code == 404

    # (d) After a restart on the same data dir and database, the thread and its file are still there.
    # A rolling restart: the new process starts before the old one stops (whose shutdown once
    # deleted the uploads of every server on the checkout), and it must then take uploads.
    again = start_server(server.data_dir, db)
    try:
        server.stop()
        async with ChatClient(again.url, "alice", USERS["alice"]) as chat:
            assert [t["id"] for t in await chat.threads()] == [thread_id]
            r = await chat.thread(thread_id)
            assert r.status_code == 200
            assert {s["id"] for s in r.json()["steps"]} >= {user_step["id"], tool_step["id"], answer_step["id"]}
            got = await chat.http.get(url)
            assert got.status_code == 200 and got.content == BILL

            # resuming the thread in a new tab replays it, and the conversation goes on
            resumed = await chat.connect(thread_id=thread_id)
            assert "resume_thread" in resumed.names(), resumed.names()
            replayed = dict(resumed.events)["resume_thread"]
            assert replayed["id"] == thread_id
            assert [s["id"] for s in replayed["steps"] if s["type"] == "tool"] == [tool_step["id"]]
            # the resumed conversation keeps its tool results: "it" is still the Pacific Power bill
            follow_up = await chat.send("mark it paid")
            assert "Marked bill" in follow_up.text and "Pacific Power" in follow_up.text, follow_up.text
            follow_up = await chat.send("What's due?")
            assert "Nothing is due" in follow_up.text, follow_up.text
            # the same bill again, uploaded to the new process: recognised, not filed twice
            ref = await chat.upload("pacific-power.txt", BILL, "text/plain")
            again_turn = await chat.send("", [ref])
            assert "You sent me this document before" in again_turn.text, again_turn.text
        async with ChatClient(again.url, "bob", USERS["bob"]) as bob_chat:
            assert (await bob_chat.http.get(url)).status_code == 404
    finally:
        again.stop()
    assert (await query(db, "SELECT count(*) AS n FROM commitments"))[0]["n"] == 1
    assert (await query(db, "SELECT count(*) AS n FROM documents"))[0]["n"] == 1

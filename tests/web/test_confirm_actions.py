"""Changes the model proposed without the user asking: Confirm / Cancel buttons in the real chat, and
the calendar download, owner only. The real OpenAI SDK in the server talks to a fake OpenAI server
scripted by this test; the database is read directly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from assistant.graph.actions import following, next_day_of_month
from tests.conftest import create_pg_database, drop_pg_database, start_server
from tests.fakes import Reply
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, eventually, query

KEY = "sk-web-test-KEY-123456789"


@pytest.fixture(params=["sqlite", "postgresql"])
async def server(request, tmp_path, fake_openai):
    db = (f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}" if request.param == "sqlite"
          else await create_pg_database())
    live = await asyncio.to_thread(start_server, tmp_path / "data", db, extra_env={
        "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake_openai.url}/v1", "ASSISTANT_PROVIDERS": "openai,offline",
        "PROVIDER_MAX_RETRIES": "0"})
    try:
        yield live
    finally:
        live.stop()
        if request.param != "sqlite":
            await drop_pg_database(db)


async def bills(db: str) -> list[dict]:
    rows = await query(db, "SELECT id, status, due_date, amount, paid_date FROM commitments ORDER BY id")
    return [{**r, "due_date": str(r["due_date"]), "paid_date": str(r["paid_date"]) if r["paid_date"] else None,
             "amount": Decimal(str(r["amount"]))} for r in rows]


def actions_of(chat: ChatClient, mark: int) -> dict[str, dict]:
    return {data["name"]: data for name, data in chat.events[mark:] if name == "action"}


async def test_confirm_does_it_and_cancel_changes_nothing(server, fake_openai):
    db = server.database_url
    today = datetime.now(UTC).date()
    first_due = next_day_of_month(today, 1)
    async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
        await chat.connect()
        # the user's own words ask: done at once, no buttons
        fake_openai.script(Reply(tool_calls=[("create_commitment", {
            "vendor": "Landlord", "amount": "1200", "day_of_month": 1, "repeats": "monthly", "description": "Rent"})]),
            Reply(text="Added your rent."))
        turn = await chat.send("rent 1,200 due on the 1st every month")
        assert "Added your rent." in turn.text and [s["name"] for s in turn.tool_steps] == ["Adding a bill"]
        rows = await bills(db)
        assert [(r["status"], r["due_date"], r["amount"]) for r in rows] == [("due", str(first_due), Decimal("1200.00"))]
        rent_id = rows[0]["id"]

        # the model proposes marking it paid, unasked: nothing changes, a card asks
        fake_openai.script(Reply(tool_calls=[("mark_paid", {"bill_id": rent_id})]),
                           Reply(text="I can mark your rent paid once you confirm."))
        mark = len(chat.events)
        turn = await chat.send("what's due soon?")
        summary = f"Mark bill #{rent_id} from Landlord ($1,200.00) as paid on {today.isoformat()}?"
        card = await chat.event_matching(lambda n, d: n == "new_message" and "Please confirm" in (d.get("output") or ""))
        assert card["output"] == f"**Please confirm:** {summary}"
        await eventually(lambda: _has_actions(chat, mark, {"confirm_action", "cancel_action"}))
        buttons = actions_of(chat, mark)
        assert [r["status"] for r in await bills(db)] == ["due"]

        response = await chat.http.post("/project/action", json={"sessionId": chat.session_id,
                                                                 "action": buttons["confirm_action"]})
        assert response.status_code == 200, response.text
        rows = await bills(db)
        assert [(r["status"], r["due_date"]) for r in rows] == [
            ("paid", str(first_due)), ("due", str(following(first_due, "monthly", 1)))]
        done = await chat.event_matching(lambda n, d: n == "new_message" and "Marked bill" in (d.get("output") or ""))
        assert "**Landlord**" in done["output"] and "The next one is due" in done["output"]
        again = await chat.http.post("/project/action", json={"sessionId": chat.session_id,
                                                              "action": buttons["confirm_action"]})
        assert again.status_code == 200 and len(await bills(db)) == 2  # not twice

        # the model proposes cancelling the next one: Cancel leaves it as it was
        next_id = rows[1]["id"]
        fake_openai.script(Reply(tool_calls=[("cancel", {"bill_id": next_id})]), Reply(text="Shall I cancel it?"))
        mark = len(chat.events)
        await chat.send("thanks")
        await eventually(lambda: _has_actions(chat, mark, {"confirm_action", "cancel_action"}))
        buttons = actions_of(chat, mark)
        response = await chat.http.post("/project/action", json={"sessionId": chat.session_id,
                                                                 "action": buttons["cancel_action"]})
        assert response.status_code == 200
        await chat.event_matching(lambda n, d: n == "new_message" and "nothing was changed" in (d.get("output") or ""))
        assert [r["status"] for r in await bills(db)] == ["paid", "due"]

        # the calendar: the chat gives the link, the signed-in user downloads their own bills
        fake_openai.script(Reply(tool_calls=[("calendar_feed", {})]),
                           Reply(text="[Download your calendar](/calendar.ics)"))
        turn = await chat.send("put my bills in my calendar")
        assert "(/calendar.ics)" in turn.text
        ics = await chat.http.get("/calendar.ics")
        assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
        assert 'filename="bills.ics"' in ics.headers["content-disposition"]
        assert ics.text.count("BEGIN:VEVENT") == 1 and f"UID:bill-{next_id}@bill-assistant\r\n" in ics.text

    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get("/calendar.ics")).status_code == 401
    async with ChatClient(server.url, "bob", USERS["bob"]) as bob:
        theirs = await bob.http.get("/calendar.ics")
        assert theirs.status_code == 200 and "BEGIN:VEVENT" not in theirs.text and "Landlord" not in theirs.text
    assert KEY not in server.log()


async def _has_actions(chat: ChatClient, mark: int, names: set[str]) -> None:
    assert set(actions_of(chat, mark)) >= names

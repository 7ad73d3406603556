"""A bill read with low confidence is shown as a review card; Confirm files it (over the real server)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from tests.conftest import start_server
from tests.factories import bill_text
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, query


async def test_review_card_confirm(tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}"
    server = start_server(tmp_path / "data", db, extra_env={"REVIEW_CONFIDENCE_BELOW": "0.5"})
    try:
        async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
            await chat.connect()
            turn = await chat.send(bill_text("Hydro Nord", "88.20", date(2026, 12, 4), invoice="H-9"))
            assert "haven't saved it yet" in turn.text and "Confirm" in turn.text
            card = next(data for name, data in chat.events if name == "new_message"
                        and "Please check this bill" in (data.get("output") or ""))
            assert "| From | Hydro Nord |" in card["output"] and "| Amount due | 88.20 |" in card["output"]
            await asyncio.sleep(0.3)  # actions follow their message over the socket
            actions = {data["name"]: data for name, data in chat.events if name == "action"}
            assert set(actions) == {"confirm_bill", "edit_bill"}
            assert (await query(db, "SELECT count(*) AS n FROM commitments"))[0]["n"] == 0

            response = await chat.http.post("/project/action", json={"sessionId": chat.session_id,
                                                                     "action": actions["confirm_bill"]})
            assert response.status_code == 200, response.text
            rows = await query(db, "SELECT amount, due_date FROM commitments")
            assert [(Decimal(str(r["amount"])), str(r["due_date"])) for r in rows] == [(Decimal("88.20"), "2026-12-04")]
            filed = await chat.event_matching(lambda name, data: name == "new_message"
                                              and "Filed a bill from **Hydro Nord**" in (data.get("output") or ""))
            assert "$88.20" in filed["output"]
            again = await chat.http.post("/project/action", json={"sessionId": chat.session_id,
                                                                  "action": actions["confirm_bill"]})
            assert again.status_code == 200
            assert (await query(db, "SELECT count(*) AS n FROM commitments"))[0]["n"] == 1  # not twice
    finally:
        server.stop()

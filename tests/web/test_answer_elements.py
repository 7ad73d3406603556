"""The elements under answers (assistant/web/views.py) reach the chat and are kept with its history, on
SQLite and PostgreSQL: a grid, a chart and a vendor card are sent with the answer message, saved as rows
of `elements` whose stored content downloads with the content type the frontend needs (a grid's as text,
a chart's as JSON), and come back with the thread when it is opened again.

The answers come from a scripted model (the real OpenAI SDK in the server, a fake OpenAI server here),
because the offline assistant does not ask summarize_spending or vendor_profile yet."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests import answer_support
from tests.conftest import LiveServer, create_pg_database, drop_pg_database, start_server
from tests.factories import bill_text
from tests.fakes.openai_server import FakeOpenAI
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, eventually, query


@pytest.fixture(params=["sqlite", "postgresql"])
async def model_server(request, tmp_path) -> AsyncIterator[LiveServer]:
    """The app answered by a scripted model (answer_support.scripted_model), on each database."""
    fake = await FakeOpenAI(responder=answer_support.scripted_model).start()
    url = (f"sqlite+aiosqlite:///{tmp_path / 'data' / 'assistant.db'}" if request.param == "sqlite"
           else await create_pg_database())
    env = {"OPENAI_API_KEY": "sk-elements-test", "OPENAI_BASE_URL": f"{fake.url}/v1", "ASSISTANT_PROVIDERS": "openai"}
    try:
        server = await asyncio.to_thread(start_server, tmp_path / "data", url, extra_env=env)
        try:
            yield server
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        await fake.stop()
        if request.param == "postgresql":
            await drop_pg_database(url)


async def test_grid_chart_and_card_are_sent_kept_and_shown_again(model_server: LiveServer, monkeypatch):
    server = model_server
    await answer_support.load_graph(server.data_dir, server.database_url, monkeypatch, documents=[
        bill_text(vendor="Pacific Power", amount="133.40", due=answer_support.server_today(), invoice="INV-2026-0077")])
    sent: dict[str, dict] = {}
    async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
        await chat.connect()
        for question, kind in [("what do I owe?", "dataframe"), ("spending by month this year", "plotly"),
                               ("tell me about Pacific Power", "custom")]:
            turn = await chat.send(question)
            [reply] = turn.messages
            # (Chainlit sends a message's elements concurrently: in any order)
            expected = sorted([kind, "plotly"] if kind == "custom" else [kind])
            assert sorted(e["type"] for e in turn.elements) == expected, turn.elements
            for element in turn.elements:
                assert element["forId"] == reply["id"] and element["display"] == "inline"
                sent[element["id"]] = element
        # what the open chat's browser fetches: the session's copy (the server has let go of the data
        # frames and figures by now: chat_memory.lighten)
        for element in sent.values():
            got = await chat.http.get(f"/project/file/{element['chainlitKey']}", params={"session_id": chat.session_id})
            assert got.status_code == 200 and json.loads(got.text), element
        owed = turn.text
        thread_id = chat.thread_id
    assert "Originals:" not in owed  # the vendor question lists no bills; the links come with bill lists

    async def saved():
        rows = await query(server.database_url, 'SELECT * FROM elements WHERE "threadId" = :id', id=thread_id)
        assert {r["id"] for r in rows} == set(sent), rows
        return {r["id"]: r for r in rows}

    rows = await eventually(saved, what="the element rows")
    async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
        for element_id, row in rows.items():
            got = await chat.http.get(row["url"])
            assert got.status_code == 200, row
            kind = sent[element_id]["type"]
            if kind == "dataframe":  # the grid parses text itself: JSON served as JSON would break it
                assert "application/json" not in got.headers["content-type"]
                grid = json.loads(got.text)
                assert grid["columns"] == ["#", "Vendor", "Amount", "Due", "Status"]
                assert len(grid["data"]) == 9 and ["Harbor Gas Co", "$61.00"] in [[r[1], r[2].strip()] for r in grid["data"]]
            elif kind == "plotly":  # the chart reads the response as JSON
                assert got.headers["content-type"].startswith("application/json")
                assert got.json()["config"] == {"displayModeBar": False}
            else:
                assert row["name"] == "VendorCard"
        # opening the thread again brings the elements back, the card with its props
        thread = (await chat.thread(thread_id)).json()
        shown = {e["id"]: e for e in thread["elements"]}
        assert set(shown) == set(sent)
        [card] = [e for e in shown.values() if e["type"] == "custom"]
        assert card["props"]["name"] == "Pacific Power" and card["props"]["documents"][0]["url"].startswith("/documents/")
        assert (await chat.http.get(card["props"]["documents"][0]["url"])).status_code == 200
    async with ChatClient(server.url, "bob", USERS["bob"]) as bob:
        assert [(await bob.http.get(row["url"])).status_code for row in rows.values()] == [404] * len(rows)

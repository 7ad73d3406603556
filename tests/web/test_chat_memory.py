"""What Chainlit keeps of each chat in memory (assistant/web/chat_memory.py): an open chat its latest
turns, a deleted session nothing; editing a message older than that is refused with a message."""

from __future__ import annotations

import importlib
from pathlib import Path

import chainlit as cl
from chainlit.context import init_ws_context
from chainlit.message import Message
from chainlit.session import WebsocketSession

from assistant.web import chat_memory
from tests.conftest import start_server
from tests.web.chat_client import ChatClient
from tests.web.conftest import eventually

chat_context = importlib.import_module("chainlit.chat_context")


def _session(sid: str) -> WebsocketSession:
    return WebsocketSession(id=sid, socket_id=f"socket-{sid}", emit=lambda *a: None, emit_call=lambda *a: None,
                            user_env={}, client_type="webapp")


async def test_a_session_keeps_its_latest_turns_and_nothing_once_deleted():
    chat_memory.install(2)
    session = _session("memory-test")
    init_ws_context(session)
    try:
        kinds = ["user_message", "assistant_message", "assistant_message"] * 4  # four turns
        sent = [Message(content=f"m{i}", type=kind) for i, kind in enumerate(kinds)]
        for message in sent:
            chat_context.chat_context.add(message)
        assert chat_context.chat_contexts[session.id] == sent[6:]  # the last two turns, whole
        await session.delete()
        assert session.id not in chat_context.chat_contexts
    finally:
        chat_memory.install(20)


def test_sent_elements_let_go_of_their_data_frames_and_figures_but_keep_what_is_shown():
    import pandas as pd
    import plotly.graph_objects as go

    table = cl.Dataframe(name="bills", data=pd.DataFrame({"Vendor": ["Pacific Power"], "Amount": ["$1.00"]}),
                         thread_id="t")
    chart = cl.Plotly(name="spending", figure=go.Figure(go.Bar(x=["Nov"], y=[1])), thread_id="t")
    card = cl.CustomElement(name="VendorCard", props={"name": "Pacific Power"}, thread_id="t")
    shown = [e.content for e in (table, chart)]
    chat_memory.lighten([table, chart, card])
    assert table.data is None and chart.figure is None
    assert [e.content for e in (table, chart)] == shown and "Pacific Power" in table.content
    assert card.props == {"name": "Pacific Power"}


def _asked(turn) -> str:
    """The id of the user message a turn answered (the parent of its `on_message` run)."""
    return next(d["parentId"] for n, d in turn.events
                if n == "update_message" and d.get("type") == "run" and d.get("name") == "on_message")


async def test_editing_a_message_older_than_the_kept_turns_says_so(tmp_path: Path):
    data = tmp_path / "data"
    server = start_server(data, f"sqlite+aiosqlite:///{data / 'assistant.db'}",
                          extra_env={"CONVERSATION_TURNS": "2"})
    try:
        async with ChatClient(server.url, "alice", "wonderland") as chat:
            turns = [await chat.send(text) for text in ("Who do I pay?", "Anything overdue?", "What can you do?")]
            first, last = _asked(turns[0]), _asked(turns[-1])

            await chat.sio.emit("edit_message", {"message": {"id": first, "output": "What's due this week?",
                                                             "type": "user_message"}})
            refusal = await chat.event_matching(
                lambda n, d: n == "new_message" and "last 2 turns" in str((d or {}).get("output")))
            assert "send it again" in refusal["output"]
            assert not [n for n, _ in chat.events if n == "delete_message"]  # nothing taken off the screen

            # the latest message can still be edited: what followed it goes, and it is answered anew
            mark = len(chat.events)
            await chat.sio.emit("edit_message", {"message": {"id": last, "output": "What's due this week?",
                                                             "type": "user_message"}})

            async def redone() -> None:
                names = [n for n, _ in chat.events[mark:]]
                assert "delete_message" in names and names.count("task_end") >= 1
                assert any(n in ("new_message", "stream_start") and "due this week" in str((d or {}).get("output"))
                           for n, d in chat.events[mark:])

            await eventually(redone, timeout=60, what="the edited message answered")
        assert "Traceback" not in server.log()
    finally:
        server.stop()

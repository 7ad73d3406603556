"""What Chainlit keeps in memory of each chat: the latest turns of an open chat, nothing of a closed one.

Chainlit 2.12 keeps every message sent or received in each session (`chainlit.chat_context`), with its
elements (the tables' data frames, the charts' figures), so that editing a message can take the later
ones off the screen. It never lets go: not as a chat grows, and not when the session ends (the
`chat_contexts` dict is keyed by session id and nothing removes the key). Under load
(benchmarks/load_chat.py, 50 chats) the server's live pandas data frames grew by ~140 every 25 s, each
held by a table element of a message in that store; on a server that runs for months it is every chat
since the last restart.

`install(turns)`:
- an open chat keeps its messages from its `turns`-th latest user message on (`CONVERSATION_TURNS`, the
  same turns the model is given: `agent.keep_last_turns`). Editing an older message is then answered
  with a message saying so (Chainlit's own handler would run the turn without a message and fail);
- a session's messages are dropped when Chainlit deletes the session (after the socket closed and the
  reconnection grace period passed).

`lighten(elements)`, once an answer's elements are sent: a table element keeps its pandas data frame
and a chart its plotly figure, though only the JSON made from them when they were built (`content`)
is ever sent or stored again. A data frame of a bills table held ~15 KB (measured with tracemalloc:
17.0 KB per element with it, 1.7 KB without), and as users file more bills more answers are tables.

Not trimmed: each session's `files` (one entry, ~1 KB, and one file on disk per element sent), freed
with the session. The browser re-fetches a shown element's file when the tab regains focus, so an
older answer would lose its table if its file went while the chat is open.
"""

from __future__ import annotations

import functools
import importlib

import chainlit as cl
from chainlit.context import context
from chainlit.session import WebsocketSession

from assistant.agent import keep_last_turns

# By module path: the package's own `chainlit.chat_context` attribute is the `ChatContext` instance.
_module = importlib.import_module("chainlit.chat_context")


_turns = 20


def install(turns: int) -> None:
    global _turns
    _turns = turns
    cls = _module.ChatContext
    if getattr(cls.add, "_bounded", False):
        return
    original_add, original_delete = cls.add, WebsocketSession.delete

    @functools.wraps(original_add)
    def add(self, message):
        result = original_add(self, message)
        messages = _module.chat_contexts.get(context.session.id) if context.session is not None else None
        if messages is not None:
            keep_last_turns(messages, _turns, _starts_turn)
        return result

    @functools.wraps(original_delete)
    async def delete(self):
        _module.chat_contexts.pop(self.id, None)
        await original_delete(self)

    add._bounded = True  # type: ignore[attr-defined]
    cls.add = add
    WebsocketSession.delete = delete
    _guard_edits()


def _starts_turn(message) -> bool:
    return message.type == "user_message"


def lighten(elements: list[cl.Element]) -> None:
    """Drop what sent elements no longer need: a table's data frame, a chart's figure."""
    for element in elements:
        if isinstance(element, cl.Dataframe):
            element.data = None
        elif isinstance(element, cl.Plotly):
            element.figure = None


def _guard_edits() -> None:
    socket = importlib.import_module("chainlit.socket")
    original = socket.edit_message

    async def edit_message(sid, payload):
        session = WebsocketSession.require(sid)
        context = socket.init_ws_context(session)
        wanted = ((payload or {}).get("message") or {}).get("id")
        if any(m.id == wanted for m in _module.chat_contexts.get(session.id, [])):
            return await original(sid, payload)
        await context.emitter.task_start()
        try:
            await socket.Message(content=f"I only keep the last {_turns} turns of an open chat, so I can't redo "
                                         "that older message here. Please send it again as a new message.").send()
        finally:
            await context.emitter.task_end()

    socket.sio.on("edit_message", edit_message)

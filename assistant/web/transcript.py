"""Rebuilding the agent's conversation from a saved Chainlit thread (for a resumed chat).

Tool steps carry `metadata = {"tool": name, "call_id": id, "arguments": {...}}` when we send
them, so a resumed conversation keeps its tool results ("mark it paid" still knows which bill).
"""

from __future__ import annotations

import json
from typing import Any

from assistant.messages import Message, ToolCall

FOOTER = "\n\n_Answered by "


def footer(provider: str, model: str, cost, notices: list[str] = ()) -> str:
    """The line under a reply: who answered, at what cost, and why it was not the first choice."""
    text = f"{FOOTER}{provider} ({model}) · cost ${cost:.4f}_"
    return text + "".join(f"\n\n_{n}_" for n in notices)


def tool_metadata(call: ToolCall, shown_arguments: dict[str, Any]) -> dict[str, Any]:
    return {"tool": call.name, "call_id": call.id, "arguments": shown_arguments}


def messages_from_steps(steps: list[dict[str, Any]]) -> list[Message]:
    history: list[Message] = []
    for step in steps:
        kind, output = step.get("type"), step.get("output") or ""
        meta = step.get("metadata") or {}
        if isinstance(meta, str):
            meta = json.loads(meta or "{}")
        if kind == "user_message" and output:
            history.append(Message("user", output))
        elif kind == "assistant_message" and output:
            history.append(Message("assistant", output.split(FOOTER)[0]))
        elif kind == "tool" and meta.get("tool") and output:
            call = ToolCall(meta["call_id"], meta["tool"], meta.get("arguments") or {})
            history.append(Message("assistant", "", [call]))
            history.append(Message("tool", output, tool_call_id=call.id, name=call.name,
                                   is_error=bool(step.get("isError"))))
    return history

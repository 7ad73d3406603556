"""The common conversation types every provider maps to and from its vendor's wire format."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class Attachment:
    """A file (or pasted bill text) the user handed over in this turn, referenced by `id`."""

    id: str
    name: str
    source: Literal["upload", "paste", "cli"]
    mime: str | None = None
    path: Path | None = None
    text: str | None = None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Message:
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None  # on a tool result: the call it answers
    name: str | None = None  # on a tool result: the tool's name
    is_error: bool = False  # on a tool result
    attachments: list[Attachment] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        """A tool result's content, decoded."""
        return json.loads(self.content) if self.content else {}


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens,
                     self.cached_tokens + other.cached_tokens)


@dataclass
class CompletionRequest:
    system: str
    messages: list[Message]
    tools: list[dict[str, Any]]
    today: date
    max_output_tokens: int = 1024
    temperature: float = 0.2
    stream: bool = True  # False: one plain request, the whole text yielded at once
    user_id: str | None = None  # who and which turn the call is for (the budget's ledger)
    thread_id: str | None = None
    turn_id: str | None = None
    # Structured output: answer with ONE JSON object of this JSON Schema, as `Completion.text`. The
    # schema must suit OpenAI's strict mode (every object: `additionalProperties: false`, every property
    # required; optional values are nullable types), which the other vendors accept as it is. Its name
    # ([a-zA-Z0-9_-], up to 64 characters) is OpenAI's schema name and Anthropic's tool name.
    response_schema: dict[str, Any] | None = None
    response_name: str = "response"


@dataclass
class Completion:
    """One model answer: text and/or tool calls, with the usage the vendor reported."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: Decimal = Decimal("0")
    finish_reason: str = "stop"
    provider: str = ""  # who answered (set by the fallback chain)
    model: str = ""
    notice: str | None = None  # e.g. "OpenAI was unavailable (HTTP 503); answered by Anthropic"


@dataclass(frozen=True)
class TextDelta:
    """A piece of streamed answer text."""

    text: str


def with_attachment_note(text: str, attachments: list[Attachment]) -> str:
    """The user's text plus a line per attachment, so a model can pass its id to a tool."""
    notes = [f"[pasted bill: attachment {a.id}]" if a.source == "paste" else f"[attachment {a.id}: {a.name}]"
             for a in attachments]
    return "\n\n".join(p for p in (text, "\n".join(notes)) if p)


def to_json(value: Any) -> str:
    """JSON for tool results: Decimal as a string (exact), dates as ISO."""
    return json.dumps(value, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

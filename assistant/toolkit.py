"""The tool registry: typed tool functions from `tools/`, their JSON schemas, and safe calling.

A tool is an async function `(args: <pydantic model>, ctx: ToolContext) -> dict`, marked with
`@tool`. The registry validates the model's arguments against the model class, runs the tool,
and turns every failure into a result the model (and the user) can read; nothing raises out. A failure
because the database cannot be reached is flagged (`ToolOutcome.database_down`): the agent ends the
turn then, rather than asking the model to carry on with a database that is not there.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.db import unreachable
from assistant.messages import Attachment, Message, ToolCall
from assistant.settings import Settings

log = logging.getLogger(__name__)


class ToolError(Exception):
    """A failure the user can act on; its message is shown as is."""


@dataclass
class ToolContext:
    user_id: str
    sessions: async_sessionmaker
    settings: Settings
    today: date
    attachments: dict[str, Attachment] = field(default_factory=dict)
    turn_id: str | None = None
    thread_id: str | None = None
    model: Any = None  # the turn's provider (budgeted): a tool that needs a model asks through it
    budget: Any = None  # the budget service, for usage reports
    index: Any = None  # the document search index (Chroma)
    # what the tools' own model calls cost in this turn (e.g. reading a bill): the reply's cost includes it
    tool_cost: Decimal = Decimal("0")
    # What the user typed this turn (`typed_text`): the only words that can ask for a change of data
    # without a confirmation (tools/_confirm.py). Never a document's text.
    user_text: str = ""
    # True while the agent runs a provider's tool calls: a `confirmed` flag the model passes does not
    # count then; only a call from outside the conversation (the Confirm button, the CLI) confirms.
    by_model: bool = False

    @asynccontextmanager
    async def transaction(self):
        """A session in a transaction: committed when the block ends, rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session


_NOTE = re.compile(r"^\[(?:pasted bill: attachment [^\]]*|attachment [^\]]*)\]$", re.MULTILINE)


def typed_text(message: Message) -> str:
    """The words the user typed in `message`: its text without pasted bills (a paste is a document,
    never the user's words) and without the attachment notes (a file's name is not a request)."""
    text = message.content or ""
    for attachment in message.attachments:
        if attachment.text and attachment.text.strip():
            text = text.replace(attachment.text.strip(), " ")
    return _NOTE.sub(" ", text).strip()


ToolFunc = Callable[[Any, ToolContext], Awaitable[dict[str, Any]]]


@dataclass
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    func: ToolFunc

    def schema(self) -> dict[str, Any]:
        params = self.args_model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        return {"name": self.name, "description": self.description, "parameters": params}


def tool(args_model: type[BaseModel], name: str | None = None) -> Callable[[ToolFunc], Tool]:
    def wrap(func: ToolFunc) -> Tool:
        doc = " ".join((func.__doc__ or "").split())
        return Tool(name or func.__name__, doc, args_model, func)

    return wrap


@dataclass
class ToolOutcome:
    result: dict[str, Any]
    is_error: bool
    database_down: bool = False  # failed because the database could not be reached (nothing was written)


class ToolRegistry:
    def __init__(self, tools: list[Tool]):
        self.tools = {t.name: t for t in tools}
        self._schemas = [t.schema() for t in tools]  # built once: every model call sends them

    def schemas(self) -> list[dict[str, Any]]:
        return self._schemas

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        tool_ = self.tools.get(call.name)
        if tool_ is None:
            return ToolOutcome({"error": f"there is no tool named {call.name!r}"}, True)
        try:
            args = tool_.args_model.model_validate(call.arguments or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            return ToolOutcome({"error": f"invalid arguments for {call.name}: {problems}"}, True)
        try:
            return ToolOutcome(await tool_.func(args, ctx), False)
        except ToolError as exc:
            return ToolOutcome({"error": str(exc)}, True)
        except Exception as exc:
            if unreachable(exc):  # its transaction was not committed: nothing of it was written
                log.error("tool failed: the database is not reachable",
                          extra={"tool": call.name, "turn_id": ctx.turn_id, "error": type(exc).__name__})
                return ToolOutcome({"error": "the database is not reachable right now; nothing was saved"},
                                   True, database_down=True)
            log.exception("tool failed", extra={"tool": call.name, "turn_id": ctx.turn_id})
            return ToolOutcome({"error": f"{call.name} failed unexpectedly; nothing was changed"}, True)


def load_registry(package: str = "tools") -> ToolRegistry:
    """Every `Tool` defined in the modules of `package`."""
    pkg = importlib.import_module(package)
    found: list[Tool] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        found.extend(v for v in vars(module).values() if isinstance(v, Tool))
    return ToolRegistry(found)


__all__ = ["Tool", "ToolContext", "ToolError", "ToolRegistry", "load_registry", "tool", "typed_text"]

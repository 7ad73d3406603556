"""The agent loop: ask the provider, run the tools it asks for, feed results back, until it answers.

It knows the provider interface, the tool registry and the prompts; no SQL and no UI. A turn is an
async stream of events the UI (or the CLI) renders.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from assistant.budget import BudgetExceeded
from assistant.db import DatabaseUnavailable, unreachable
from assistant import logs, metrics
from assistant.messages import Completion, CompletionRequest, Message, TextDelta, ToolCall, Usage, to_json
from assistant.prompts import load_prompt
from assistant.providers.base import Provider, ProviderError
from assistant.toolkit import ToolContext, ToolRegistry, typed_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolStarted:
    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    call: ToolCall
    result: dict[str, Any]
    is_error: bool
    seconds: float


@dataclass
class TurnFinished:
    text: str
    provider: str
    model: str
    usage: Usage = field(default_factory=Usage)
    cost: Decimal = Decimal("0")
    steps: int = 0
    stopped: str | None = None  # None, "step_limit", "budget", "provider_error" or "database"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # e.g. which provider answered after a fallback


Event = TextDelta | ToolStarted | ToolFinished | TurnFinished


def keep_last_turns(history: list, turns: int, starts_turn=lambda m: m.role == "user") -> None:
    """Drop (in place) all but the last `turns` turns of `history`; a turn starts at a user message
    (`starts_turn`) and holds everything that answers it (tool calls with their results stay together).
    Also used on Chainlit's own copy of a chat (web/chat_memory.py).

    Without a window every turn re-sent the whole conversation: a long chat's requests grew without
    bound (cost, the per-request limit, the model's context), and so did the memory each open chat
    holds and the work the offline provider does to read it."""
    starts = [i for i, m in enumerate(history) if starts_turn(m)]
    if len(starts) > turns:
        del history[:starts[-turns] if turns > 0 else len(history)]


class Agent:
    def __init__(self, provider: Provider, registry: ToolRegistry, max_steps: int = 8, *,
                 max_output_tokens: int = 1024, temperature: float = 0.2, stream: bool = True,
                 conversation_turns: int = 20):
        self.provider = provider
        self.conversation_turns = conversation_turns
        self.registry = registry
        self.max_steps = max_steps
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self.stream = stream

    def system_prompt(self, ctx: ToolContext) -> str:
        return load_prompt("system").format(today=ctx.today.isoformat(), timezone=ctx.settings.timezone)

    async def run_turn(self, history: list[Message], user_message: Message, ctx: ToolContext,
                       provider: Provider | None = None) -> AsyncIterator[Event]:
        """Run one user turn. `history` is extended in place with everything the turn adds, and its
        oldest turns are dropped (in place) to keep the last `conversation_turns` (`keep_last_turns`).
        `provider` overrides the agent's own for this turn (the user's choice in the chat)."""
        keep_last_turns(history, self.conversation_turns - 1)  # this turn is the last one
        started = time.perf_counter()
        ctx.turn_id = ctx.turn_id or uuid.uuid4().hex
        # the turn's id on every log line of the turn: tools, provider calls, threads (assistant/logs.py)
        logs.request_id.set(ctx.turn_id)
        inner = self._run_turn(history, user_message, ctx, provider)
        try:
            async for event in inner:
                if isinstance(event, TurnFinished):
                    # the reply's cost includes the tools' own model calls (e.g. reading a bill)
                    event = dataclasses.replace(event, cost=event.cost + ctx.tool_cost)
                    metrics.TURNS.inc(provider=event.provider, stopped=event.stopped or "none")
                    metrics.TURN_SECONDS.observe(time.perf_counter() - started, provider=event.provider)
                    if event.stopped in ("provider_error", "database"):
                        metrics.ERRORS.inc(kind=event.stopped)
                yield event
        except Exception:
            metrics.ERRORS.inc(kind="exception")
            raise
        finally:
            await inner.aclose()  # stopped early (the user pressed Stop): the turn's own clean-up runs now

    async def _run_turn(self, history: list[Message], user_message: Message, ctx: ToolContext,
                        provider: Provider | None = None) -> AsyncIterator[Event]:
        provider = provider or self.provider
        ctx.turn_id = ctx.turn_id or uuid.uuid4().hex
        ctx.model = provider
        ctx.user_text, ctx.by_model = typed_text(user_message), True  # only these words can ask for a change
        # Attachments of earlier turns stay usable ("it's from City Water" after a question about a
        # bill sent before); ids repeat per message ("paste-1"), so the newest wins, this turn's last.
        for earlier in history:
            ctx.attachments.update({a.id: a for a in earlier.attachments})
        ctx.attachments.update({a.id: a for a in user_message.attachments})
        history.append(user_message)
        usage, cost, texts, calls, notices = Usage(), Decimal("0"), [], [], []
        answered_by = (provider.name, provider.model)
        system, schemas = self.system_prompt(ctx), self.registry.schemas()

        def ending(text: str, stopped: str, step: int, shown: str = "") -> tuple[TextDelta, TurnFinished]:
            """The turn stops early: `text` says why, after what was `shown` already."""
            history.append(Message("assistant", text))
            return TextDelta(text), TurnFinished(shown + text, *answered_by, usage, cost, step, stopped, calls,
                                                 notices)

        for step in range(1, self.max_steps + 1):
            request = CompletionRequest(system=system, messages=history, tools=schemas, today=ctx.today,
                                        max_output_tokens=self.max_output_tokens,
                                        temperature=self.temperature, stream=self.stream,
                                        user_id=ctx.user_id, thread_id=ctx.thread_id, turn_id=ctx.turn_id)
            try:
                streamed = _Streamed(provider.stream(request), texts)
                async for delta in streamed:
                    yield delta
                answer = streamed.answer
            except BudgetExceeded as exc:
                for event in ending(str(exc) + (" The steps shown above were carried out." if calls else ""),
                                    "budget", step):
                    yield event
                return
            except ProviderError as exc:
                done = "Nothing was changed by this message." if not calls else "Only the steps shown above were carried out."
                for event in ending(f"I could not get an answer: {exc}. {done}", "provider_error", step):
                    yield event
                return
            except DatabaseUnavailable:  # the budget could not reserve the call: the database is gone
                for event in ending(_database_down(calls), "database", step):
                    yield event
                return
            usage, cost = usage + answer.usage, cost + answer.cost
            answered_by = (answer.provider or provider.name, answer.model or provider.model)
            if answer.notice and answer.notice not in notices:
                notices.append(answer.notice)
            if answer.provider and answer.provider != provider.name and hasattr(provider, "starting_at"):
                provider = provider.starting_at(answer.provider)  # the rest of the turn stays with it
                ctx.model = provider  # and so do the tools' model calls (e.g. reading a bill)
            history.append(Message("assistant", answer.text, list(answer.tool_calls)))
            if not answer.tool_calls:
                yield TurnFinished("".join(texts), *answered_by, usage, cost, step, None, calls, notices)
                return
            answered: set[str] = set()
            down = False
            try:
                for call in answer.tool_calls:
                    yield ToolStarted(call)
                    started = time.perf_counter()
                    outcome = await self.registry.call(call, ctx)
                    seconds = time.perf_counter() - started
                    log.info("tool call", extra={"tool": call.name, "ok": not outcome.is_error,
                                                 "ms": round(seconds * 1000, 1), "turn_id": ctx.turn_id})
                    history.append(Message("tool", to_json(outcome.result), tool_call_id=call.id,
                                           name=call.name, is_error=outcome.is_error))
                    answered.add(call.id)
                    calls.append({"name": call.name, "arguments": call.arguments,
                                  "result": outcome.result, "is_error": outcome.is_error})
                    yield ToolFinished(call, outcome.result, outcome.is_error, seconds)
                    if outcome.database_down:  # no use asking the model to go on: end the turn (below)
                        down = True
                        break
            finally:
                # Stopped (the user pressed Stop, the handler failed) between a tool call and its
                # result: vendors refuse a conversation with a call left unanswered, so answer it.
                for call in answer.tool_calls:
                    if call.id not in answered:
                        history.append(Message("tool", to_json({"error": "stopped before this tool ran"}),
                                               tool_call_id=call.id, name=call.name, is_error=True))
            if down:
                for event in ending(_database_down(calls), "database", step):
                    yield event
                return
        for event in ending(f"I stopped after {self.max_steps} steps without finishing this request, so nothing "
                            "more will be done for it. Try asking for one thing at a time.",
                            "step_limit", self.max_steps, shown="".join(texts)):
            yield event


def _database_down(calls: list[dict[str, Any]]) -> str:
    """What the user reads when the database went away during the turn. Nothing is half-written: each
    tool writes in one transaction, which PostgreSQL rolls back when its connection is lost."""
    done = ("Only the steps shown above as done were carried out." if any(not c["is_error"] for c in calls)
            else "Nothing was saved.")
    return f"The database is not reachable right now, so I stopped here. {done} Please try again in a moment."


class _Streamed:
    """Wraps a provider stream: yields its text deltas, keeps the final `Completion`."""

    def __init__(self, stream: AsyncIterator[TextDelta | Completion], texts: list[str]):
        self._stream = stream
        self._texts = texts
        self.answer: Completion | None = None

    async def __aiter__(self) -> AsyncIterator[TextDelta]:
        streamed = False
        try:
            async for item in self._stream:
                if isinstance(item, TextDelta):
                    streamed = True
                    self._texts.append(item.text)
                    yield item
                else:
                    self.answer = item
        except (ProviderError, BudgetExceeded, DatabaseUnavailable):
            raise
        except Exception as exc:  # a provider bug must not become a stack trace in the chat
            if unreachable(exc):  # not the provider: the budget could not reach the database
                raise DatabaseUnavailable() from exc
            log.exception("provider failed")
            raise ProviderError(type(exc).__name__) from exc
        if self.answer is None:
            raise ProviderError("the provider ended its answer without a result")
        if self.answer.text and not streamed:  # a plain (non-streaming) answer: show it whole
            self._texts.append(self.answer.text)
            yield TextDelta(self.answer.text)

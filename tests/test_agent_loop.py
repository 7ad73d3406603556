"""Agent loop mechanics with a scripted model: step limit, tool errors as results, provider failure."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from assistant.agent import Agent, ToolFinished, TurnFinished, keep_last_turns
from assistant.graph.models import Commitment
from assistant.messages import Completion, Message, TextDelta, ToolCall
from assistant.providers.base import ProviderError


class Scripted:
    """A model that answers from a script: each entry is a Completion or an exception to raise."""

    name, model = "scripted", "script-1"

    def __init__(self, script):
        self.script = list(script)
        self.requests = []

    async def stream(self, request):
        self.requests.append([Message(m.role, m.content, list(m.tool_calls), m.tool_call_id, m.name, m.is_error)
                              for m in request.messages])
        item = self.script.pop(0) if self.script else self.script_default()
        if isinstance(item, Exception):
            raise item
        if item.text:
            yield TextDelta(item.text)
        yield item

    def script_default(self):
        return Completion(tool_calls=[ToolCall("loop", "list_vendors", {})])


async def run(services, provider, text="hi", max_steps=8):
    agent = Agent(provider, services.registry, max_steps)
    ctx = services.tool_context(await services.user_id("alice"), today=date(2026, 11, 21))
    history: list[Message] = []
    events = [e async for e in agent.run_turn(history, Message("user", text), ctx)]
    return events, history


async def test_a_runaway_tool_loop_is_stopped_by_the_step_limit(services):
    provider = Scripted([])  # calls list_vendors forever
    events, history = await run(services, provider, max_steps=3)
    finished = events[-1]
    assert isinstance(finished, TurnFinished) and finished.stopped == "step_limit"
    assert len(provider.requests) == 3 and len(finished.tool_calls) == 3
    assert "stopped after 3 steps" in finished.text
    assert history[-1].role == "assistant" and "stopped" in history[-1].content


async def test_tool_errors_become_results_the_model_sees(services):
    provider = Scripted([
        Completion(tool_calls=[
            ToolCall("a", "no_such_tool", {}),
            ToolCall("b", "mark_paid", {}),  # invalid: needs bill_id or vendor
            ToolCall("c", "mark_paid", {"bill_id": 999}),  # valid, but no such bill
            ToolCall("d", "find_bills", {"status": "nonsense"}),
        ]),
        Completion(text="Sorry, I could not do that."),
    ])
    events, _ = await run(services, provider)
    results = {e.call.id: e for e in events if isinstance(e, ToolFinished)}
    assert all(r.is_error for r in results.values())
    assert "no tool named" in results["a"].result["error"]
    assert "give bill_id or vendor" in results["b"].result["error"]
    assert "no bill #999" in results["c"].result["error"]
    assert "status" in results["d"].result["error"]
    second_request = provider.requests[1]
    tool_messages = [m for m in second_request if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["a", "b", "c", "d"]
    assert all(m.is_error and "error" in m.result() for m in tool_messages)
    assert events[-1].text == "Sorry, I could not do that." and events[-1].stopped is None


async def test_a_tool_that_crashes_rolls_back_and_reports(services, monkeypatch):
    from assistant.graph import bills

    async def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bills, "file_bill", broken)
    provider = Scripted([
        Completion(tool_calls=[ToolCall("a", "add_bill", {"text": "Gas Co\nInvoice 1\nAmount due: $10.00\nDue date: 2026-12-01"})]),
        Completion(text="done"),
    ])
    events, _ = await run(services, provider)
    finished = [e for e in events if isinstance(e, ToolFinished)][0]
    assert finished.is_error and "failed unexpectedly" in finished.result["error"]
    assert "disk on fire" not in finished.result["error"]
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Commitment)) == 0


async def test_a_provider_failure_ends_the_turn_with_a_message(services):
    provider = Scripted([ProviderError("the service is unavailable (HTTP 503)")])
    events, history = await run(services, provider)
    finished = events[-1]
    assert finished.stopped == "provider_error"
    assert "HTTP 503" in finished.text and "Nothing was changed" in finished.text


async def test_tool_schemas_are_json_schema_from_typed_arguments(services):
    schemas = {s["name"]: s for s in services.registry.schemas()}
    assert set(schemas) >= {"add_bill", "find_bills", "mark_paid", "list_vendors"}
    find = schemas["find_bills"]["parameters"]
    assert find["type"] == "object"
    assert set(find["properties"]["status"]["enum"]) == {"open", "due", "overdue", "paid", "cancelled", "any"}
    assert find["properties"]["date_from"]["anyOf"][0] == {"format": "date", "type": "string"}
    assert schemas["find_bills"]["description"].startswith("Find the user's bills")


async def test_a_turn_stopped_between_a_tool_call_and_its_result_leaves_no_call_unanswered(services):
    provider = Scripted([Completion(tool_calls=[ToolCall("a", "list_vendors", {}), ToolCall("b", "list_vendors", {})])])
    agent = Agent(provider, services.registry, 8)
    ctx = services.tool_context(await services.user_id("alice"), today=date(2026, 11, 21))
    history: list[Message] = []
    turn = agent.run_turn(history, Message("user", "hi"), ctx)
    async for event in turn:
        if type(event).__name__ == "ToolFinished":
            break  # the user pressed Stop after the first tool
    await turn.aclose()
    calls = [c.id for m in history for c in m.tool_calls]
    results = [m.tool_call_id for m in history if m.role == "tool"]
    assert calls == ["a", "b"] and results == ["a", "b"]
    assert history[-1].is_error and "stopped" in history[-1].content


async def test_the_model_is_given_the_last_turns_of_a_long_chat(services):
    provider = Scripted([Completion(tool_calls=[ToolCall("v0", "list_vendors", {})]), Completion(text="answer 0")]
                        + [Completion(text=f"answer {i}") for i in range(1, 6)])
    agent = Agent(provider, services.registry, 8, conversation_turns=3)
    user_id = await services.user_id("alice")
    history: list[Message] = []
    for i in range(6):
        ctx = services.tool_context(user_id, today=date(2026, 11, 21))
        [e async for e in agent.run_turn(history, Message("user", f"question {i}"), ctx)]
    sent = provider.requests[-1]
    assert [m.content for m in sent if m.role == "user"] == ["question 3", "question 4", "question 5"]
    assert sent[0].role == "user" and len(sent) == 5  # three questions, two answers: nothing older
    # the chat keeps no more than it sends (each open chat holds its history in memory)
    assert [m.content for m in history] == ["question 3", "answer 3", "question 4", "answer 4",
                                            "question 5", "answer 5"]


def test_a_turn_is_dropped_whole_with_its_tool_calls_and_results():
    call = ToolCall("c1", "list_vendors", {})
    history = [Message("user", "old"), Message("assistant", "", [call]),
               Message("tool", "[]", tool_call_id="c1"), Message("assistant", "none yet"),
               Message("user", "new"), Message("assistant", "", [ToolCall("c2", "list_vendors", {})]),
               Message("tool", "[]", tool_call_id="c2"), Message("assistant", "still none")]
    kept = list(history)
    keep_last_turns(kept, 2)
    assert kept == history  # two turns: nothing to drop
    keep_last_turns(kept, 1)
    assert kept == history[4:]
    keep_last_turns(kept, 0)  # room for the coming turn only
    assert kept == []

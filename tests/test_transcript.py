"""A saved thread's steps rebuild the conversation the agent saw, tool results included."""

from assistant.messages import ToolCall
from assistant.web.transcript import footer, messages_from_steps, tool_metadata


def test_messages_from_steps_keep_tool_results_and_drop_the_cost_footer():
    steps = [
        {"type": "run", "output": ""},
        {"type": "user_message", "output": "what's due?"},
        {"type": "tool", "output": '{"bills": [{"id": 4}]}', "isError": False,
         "metadata": tool_metadata(ToolCall("c1", "find_bills", {}), {"status": "open"})},
        {"type": "tool", "output": "no metadata: not ours", "metadata": {}},
        {"type": "assistant_message", "output": "1 bill due" + footer("offline", "rules-v1", 0, ["x failed; answered by y."])},
    ]
    history = messages_from_steps(steps)
    assert [(m.role, m.content) for m in history] == [
        ("user", "what's due?"), ("assistant", ""), ("tool", '{"bills": [{"id": 4}]}'), ("assistant", "1 bill due")]
    assert history[1].tool_calls == [ToolCall("c1", "find_bills", {"status": "open"})]
    assert history[2].tool_call_id == "c1" and history[2].name == "find_bills" and history[2].result() == {"bills": [{"id": 4}]}

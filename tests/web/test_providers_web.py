"""Model providers in the chat: the settings panel offers what is configured, the user's choice
answers, a failing vendor falls back with a note under the reply. The real OpenAI SDK in the server
talks to a fake OpenAI server run by this test."""

from __future__ import annotations

from tests.conftest import start_server
from tests.fakes import Reply
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS

KEY = "sk-web-test-KEY-987654321"


async def test_choose_provider_and_fall_back(tmp_path, fake_openai):
    server = start_server(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'a.db'}", extra_env={
        "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake_openai.url}/v1", "ASSISTANT_PROVIDERS": "openai,offline",
        "PROVIDER_MAX_RETRIES": "1", "PROVIDER_BACKOFF_SECONDS": "0.01",
        "CI": "true"})  # chainlit reads CI as --ci and swaps in a fake OpenAI key: serve must not let it
    try:
        async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
            await chat.connect()
            panel = await chat.event("chat_settings")
            select = next(w for w in panel if w["id"] == "provider")
            assert [(i["label"], i["value"]) for i in select["items"]] == [
                ("OpenAI (gpt-4.1-mini)", "openai"), ("The offline assistant (rules-v1)", "offline")]
            assert select["initial"] == "openai"

            fake_openai.script(Reply(tool_calls=[("list_vendors", {})], usage=(1000, 20, 0)),
                               Reply(text="You have no vendors yet.", usage=(1100, 10, 0)))
            turn = await chat.send("who do I pay?")
            assert "You have no vendors yet." in turn.text
            # gpt-4.1-mini: 2100 input x $0.40 + 30 output x $1.60 per million = $0.000888
            assert "Answered by openai (gpt-4.1-mini) · cost $0.0009" in turn.text, turn.text
            assert [s["name"] for s in turn.tool_steps] == ["Listing vendors"]
            assert len(fake_openai.requests) == 2
            assert fake_openai.requests[0].headers["Authorization"] == f"Bearer {KEY}"

            changed = await chat.change_settings({"provider": "offline", "model": ""})
            assert "the offline assistant (rules-v1) answers first" in changed.text
            turn = await chat.send("who do I pay?")
            assert "Answered by offline" in turn.text and len(fake_openai.requests) == 2

            refused = await chat.change_settings({"provider": "openai", "model": "gpt-unknown"})
            assert "no price" in refused.text
            await chat.change_settings({"provider": "openai", "model": "gpt-4o-mini"})
            fake_openai.script(Reply(status=503), Reply(status=503))
            turn = await chat.send("who do I pay?")
            assert "Answered by offline" in turn.text
            assert "OpenAI failed with HTTP 503 after 2 tries; answered by the offline assistant." in turn.text
            assert fake_openai.requests[-1].body["model"] == "gpt-4o-mini"
        assert KEY not in server.log()
    finally:
        server.stop()
